using Ephemera.Core;

namespace Ephemera.Anonymisation;

/// <summary>How a masked region is made unreadable. There is deliberately no blur: blur can be inverted.</summary>
public enum MaskStyle
{
    /// <summary>Every pixel of the region set to one constant colour.</summary>
    SolidFill = 0,
    /// <summary>The region split into coarse cells, each set to its own mean.</summary>
    Mosaic = 1,
}

/// <summary>Mask rules: style, box expansion and mosaic cell size.</summary>
/// <param name="Style">Solid fill or mosaic.</param>
/// <param name="Expand">Box growth factor around its centre (at least 1.3).</param>
/// <param name="CellsOnShortSide">Mosaic cells across the box's short side (at most 5, so each cell is ≥ 1/5 of it).</param>
public sealed record MaskOptions(MaskStyle Style = MaskStyle.Mosaic, float Expand = 1.3f, int CellsOnShortSide = 5)
{
    /// <summary>Throws when a rule would weaken the mask.</summary>
    public void Validate()
    {
        if (Expand < 1.3f) throw new EphemeraException($"mask expansion {Expand} is below the 1.3 minimum");
        if (CellsOnShortSide is < 1 or > 5) throw new EphemeraException($"mosaic cells on the short side must be 1..5, got {CellsOnShortSide}");
    }
}

/// <summary>
/// Writable YUV420P planes of one picture (the decoder's layout). A ref struct so it cannot outlive
/// the pixel memory it points into.
/// </summary>
public readonly ref struct YuvPlanes
{
    /// <summary>Luma width in pixels.</summary>
    public readonly int Width;
    /// <summary>Luma height in pixels.</summary>
    public readonly int Height;
    /// <summary>Luma plane.</summary>
    public readonly Span<byte> Y;
    /// <summary>Cb plane, half width and height.</summary>
    public readonly Span<byte> U;
    /// <summary>Cr plane, half width and height.</summary>
    public readonly Span<byte> V;
    /// <summary>Luma row stride in bytes.</summary>
    public readonly int StrideY;
    /// <summary>Chroma row stride in bytes.</summary>
    public readonly int StrideC;

    /// <summary>Wraps existing planes; nothing is copied.</summary>
    public YuvPlanes(int width, int height, Span<byte> y, int strideY, Span<byte> u, Span<byte> v, int strideC)
    {
        if (width <= 0 || height <= 0 || (width & 1) != 0 || (height & 1) != 0)
            throw new EphemeraException($"YUV420P needs even, positive size, got {width}x{height}");
        Width = width; Height = height; Y = y; U = u; V = v; StrideY = strideY; StrideC = strideC;
    }
}

/// <summary>Applies irreversible masks in place on YUV420P planes.</summary>
public static class Masker
{
    /// <summary>
    /// Expands <paramref name="box"/> by the options' factor, clips it to the frame and snaps it to even
    /// coordinates (so luma and chroma cover the same area). Returns false when nothing is left.
    /// </summary>
    public static bool MaskRect(BoxF box, int width, int height, float expand, out int x0, out int y0, out int x1, out int y1)
    {
        float cx = box.CenterX, cy = box.CenterY;
        float hw = box.W * 0.5f * expand, hh = box.H * 0.5f * expand;
        // Floor the start and ceil the end to even pixels: the mask only ever grows when snapped.
        x0 = Math.Max(0, (int)MathF.Floor(cx - hw) & ~1);
        y0 = Math.Max(0, (int)MathF.Floor(cy - hh) & ~1);
        x1 = Math.Min(width, ((int)MathF.Ceiling(cx + hw) + 1) & ~1);
        y1 = Math.Min(height, ((int)MathF.Ceiling(cy + hh) + 1) & ~1);
        return x1 > x0 && y1 > y0;
    }

    /// <summary>Masks one box; returns the number of luma pixels written.</summary>
    public static long Apply(YuvPlanes p, BoxF box, MaskOptions options)
    {
        if (!MaskRect(box, p.Width, p.Height, options.Expand, out int x0, out int y0, out int x1, out int y1)) return 0;
        int w = x1 - x0, h = y1 - y0;
        if (options.Style == MaskStyle.SolidFill)
        {
            FillRect(p.Y, p.StrideY, x0, y0, w, h, 16);
            FillRect(p.U, p.StrideC, x0 / 2, y0 / 2, w / 2, h / 2, 128);
            FillRect(p.V, p.StrideC, x0 / 2, y0 / 2, w / 2, h / 2, 128);
            return (long)w * h;
        }
        int cell = MosaicCell(w, h, options.CellsOnShortSide);
        for (int cy = y0; cy < y1; cy += cell)
        {
            int ch = Math.Min(cell, y1 - cy);
            for (int cx = x0; cx < x1; cx += cell)
            {
                int cw = Math.Min(cell, x1 - cx);
                MeanFill(p.Y, p.StrideY, cx, cy, cw, ch);
                MeanFill(p.U, p.StrideC, cx / 2, cy / 2, cw / 2, ch / 2);
                MeanFill(p.V, p.StrideC, cx / 2, cy / 2, cw / 2, ch / 2);
            }
        }
        return (long)w * h;
    }

    /// <summary>
    /// The mosaic cell side for a w × h mask rectangle: an even square at least 1/<paramref name="cellsOnShortSide"/>
    /// of the short side, so chroma cells align with luma cells. Shared with the Vulkan mask kernel.
    /// </summary>
    public static int MosaicCell(int w, int h, int cellsOnShortSide)
    {
        int cell = Math.Max(2, (Math.Min(w, h) + cellsOnShortSide - 1) / cellsOnShortSide);
        return (cell + 1) & ~1;
    }

    private static void FillRect(Span<byte> plane, int stride, int x, int y, int w, int h, byte value)
    {
        for (int r = 0; r < h; r++) plane.Slice((y + r) * stride + x, w).Fill(value);
    }

    // The cell becomes its rounded mean: the only information left is one number per cell.
    private static void MeanFill(Span<byte> plane, int stride, int x, int y, int w, int h)
    {
        if (w <= 0 || h <= 0) return;
        long sum = 0;
        for (int r = 0; r < h; r++)
            foreach (byte b in plane.Slice((y + r) * stride + x, w)) sum += b;
        long n = (long)w * h;
        byte mean = (byte)((sum + n / 2) / n);
        FillRect(plane, stride, x, y, w, h, mean);
    }
}
