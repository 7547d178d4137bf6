namespace Ephemera.Core;

/// <summary>Pixel layouts a <see cref="FrameView"/> can carry.</summary>
public enum PixelFormat
{
    Unknown = 0,
    /// <summary>8-bit planar Y, U, V; chroma at half width and half height.</summary>
    Yuv420P = 1,
    /// <summary>8-bit Y plane, then interleaved UV at half width and half height.</summary>
    Nv12 = 2,
    /// <summary>8-bit packed B, G, R.</summary>
    Bgr24 = 3,
    /// <summary>8-bit single plane.</summary>
    Gray8 = 4,
}

/// <summary>
/// A borrowed view over the planes of one decoded picture. DANGEROUS by nature: the spans point
/// into pooled native memory owned by a frame lease; the view must not outlive the lease that made
/// it (the lease's Dispose wipes the memory). It is a ref struct so it cannot be stored.
/// </summary>
public readonly ref struct FrameView
{
    public readonly int Width;
    public readonly int Height;
    public readonly PixelFormat Format;
    public readonly ReadOnlySpan<byte> Plane0;
    public readonly ReadOnlySpan<byte> Plane1;
    public readonly ReadOnlySpan<byte> Plane2;
    public readonly int Stride0;
    public readonly int Stride1;
    public readonly int Stride2;
    /// <summary>True when luma/chroma use full range (0–255, "JPEG" range); false for limited (16–235).</summary>
    public readonly bool FullRange;

    public FrameView(int width, int height, PixelFormat format,
        ReadOnlySpan<byte> plane0, int stride0,
        ReadOnlySpan<byte> plane1 = default, int stride1 = 0,
        ReadOnlySpan<byte> plane2 = default, int stride2 = 0,
        bool fullRange = false)
    {
        if (width <= 0 || height <= 0) throw new EphemeraException($"empty frame: {width}x{height}");
        Width = width; Height = height; Format = format;
        Plane0 = plane0; Plane1 = plane1; Plane2 = plane2;
        Stride0 = stride0; Stride1 = stride1; Stride2 = stride2;
        FullRange = fullRange;
    }

    /// <summary>
    /// A view of the rectangle (x, y, w, h) of this picture, no copy (same lifetime rule). For the
    /// 4:2:0 formats the origin is rounded down to even coordinates so the chroma stays aligned; the
    /// rectangle must lie inside the picture.
    /// </summary>
    public FrameView Region(int x, int y, int w, int h)
    {
        if (Format is PixelFormat.Yuv420P or PixelFormat.Nv12) { w += x & 1; h += y & 1; x &= ~1; y &= ~1; }
        if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > Width || y + h > Height)
            throw new ArgumentOutOfRangeException(nameof(x), $"region {x},{y} {w}x{h} is not inside the {Width}x{Height} picture");
        return Format switch
        {
            PixelFormat.Yuv420P => new FrameView(w, h, Format, Plane0[(y * Stride0 + x)..], Stride0,
                Plane1[(y / 2 * Stride1 + x / 2)..], Stride1, Plane2[(y / 2 * Stride2 + x / 2)..], Stride2, FullRange),
            PixelFormat.Nv12 => new FrameView(w, h, Format, Plane0[(y * Stride0 + x)..], Stride0, Plane1[(y / 2 * Stride1 + x)..], Stride1, fullRange: FullRange),
            PixelFormat.Bgr24 => new FrameView(w, h, Format, Plane0[(y * Stride0 + 3 * x)..], Stride0, fullRange: FullRange),
            PixelFormat.Gray8 => new FrameView(w, h, Format, Plane0[(y * Stride0 + x)..], Stride0, fullRange: FullRange),
            _ => throw new NotSupportedException($"region of a {Format} picture"),
        };
    }
}
