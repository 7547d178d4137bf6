using System.Buffers.Binary;
using System.IO.Compression;
using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>An sRGB colour, 8 bits per channel.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>Parses <c>#rrggbb</c> or <c>rrggbb</c>.</summary>
    public static Rgb Parse(string text)
    {
        var s = text.Trim().TrimStart('#');
        if (s.Length != 6 || !uint.TryParse(s, System.Globalization.NumberStyles.HexNumber, null, out uint v))
            throw new EphemeraException($"colour '{text}': expected #rrggbb");
        return new Rgb((byte)(v >> 16), (byte)(v >> 8), (byte)v);
    }
    public override string ToString() => $"#{R:x2}{G:x2}{B:x2}";
}

/// <summary>
/// A small RGB8 drawing surface for the derived images (crowd icons, heat maps). By design it has
/// no API that takes pixels: it starts as one colour and only draws shapes, so no source camera
/// pixel can reach an image it produces. Not thread-safe.
/// </summary>
public sealed class IconCanvas
{
    private readonly byte[] _rgb;
    public int Width { get; }
    public int Height { get; }

    public IconCanvas(int width, int height, Rgb background)
    {
        if (width < 1 || height < 1 || (long)width * height > 64L * 1024 * 1024)
            throw new EphemeraException($"image size {width}×{height}: expected 1..64 Mpixel");
        Width = width; Height = height;
        _rgb = new byte[width * height * 3];
        Fill(background);
    }

    public void Fill(Rgb c)
    {
        for (int i = 0; i < _rgb.Length; i += 3) { _rgb[i] = c.R; _rgb[i + 1] = c.G; _rgb[i + 2] = c.B; }
    }

    /// <summary>The colour at (x, y) (tests and previews).</summary>
    public Rgb this[int x, int y] { get { int i = (y * Width + x) * 3; return new Rgb(_rgb[i], _rgb[i + 1], _rgb[i + 2]); } }

    public void SetPixel(int x, int y, Rgb c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        _rgb[i] = c.R; _rgb[i + 1] = c.G; _rgb[i + 2] = c.B;
    }

    /// <summary>Fills [x0, x1) × [y0, y1), clipped to the image.</summary>
    public void FillRect(int x0, int y0, int x1, int y1, Rgb c)
    {
        x0 = Math.Max(0, x0); y0 = Math.Max(0, y0); x1 = Math.Min(Width, x1); y1 = Math.Min(Height, y1);
        for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) SetPixel(x, y, c);
    }

    /// <summary>A filled disc of radius <paramref name="r"/> pixels centred on (cx, cy).</summary>
    public void FillCircle(double cx, double cy, double r, Rgb c)
    {
        int x0 = (int)Math.Floor(cx - r), x1 = (int)Math.Ceiling(cx + r), y0 = (int)Math.Floor(cy - r), y1 = (int)Math.Ceiling(cy + r);
        double r2 = r * r;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                if (dx * dx + dy * dy <= r2) SetPixel(x, y, c);
            }
    }

    /// <summary>A ring (circle outline) of the given thickness.</summary>
    public void DrawRing(double cx, double cy, double r, double thickness, Rgb c)
    {
        int x0 = (int)Math.Floor(cx - r), x1 = (int)Math.Ceiling(cx + r), y0 = (int)Math.Floor(cy - r), y1 = (int)Math.Ceiling(cy + r);
        double outer = r * r, inner = Math.Max(0, r - thickness); inner *= inner;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy, d2 = dx * dx + dy * dy;
                if (d2 <= outer && d2 >= inner) SetPixel(x, y, c);
            }
    }

    /// <summary>A line of the given thickness (square brush), clipped.</summary>
    public void DrawLine(double xa, double ya, double xb, double yb, int thickness, Rgb c)
    {
        double len = Math.Max(Math.Abs(xb - xa), Math.Abs(yb - ya));
        int steps = Math.Max(1, (int)Math.Ceiling(len));
        int half = thickness / 2;
        for (int i = 0; i <= steps; i++)
        {
            int x = (int)Math.Floor(xa + (xb - xa) * i / steps), y = (int)Math.Floor(ya + (yb - ya) * i / steps);
            FillRect(x - half, y - half, x - half + thickness, y - half + thickness, c);
        }
    }

    /// <summary>Outline of a closed polygon given in pixels.</summary>
    public void DrawPolygon(IReadOnlyList<Point2> pixels, int thickness, Rgb c)
    {
        for (int i = 0, j = pixels.Count - 1; i < pixels.Count; j = i++)
            DrawLine(pixels[j].X, pixels[j].Y, pixels[i].X, pixels[i].Y, thickness, c);
    }

    /// <summary>The image as a PNG file (RGB8, no interlace).</summary>
    public byte[] EncodePng() => PngEncoder.EncodeRgb8(_rgb, Width, Height);
}

/// <summary>
/// Minimal PNG writer: signature, IHDR (RGB8), one IDAT (zlib via <see cref="ZLibStream"/>, filter
/// 0 on every row), IEND; CRC-32 computed here (ISO-HDLC polynomial 0xEDB88320).
/// </summary>
internal static class PngEncoder
{
    private static readonly uint[] CrcTable = BuildCrcTable();
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static byte[] EncodeRgb8(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException($"expected {width * height * 3} bytes, got {rgb.Length}");
        using var png = new MemoryStream();
        png.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0; // depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
        WriteChunk(png, "IHDR", ihdr);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                int stride = width * 3;
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0); // filter type None
                    z.Write(rgb.Slice(y * stride, stride));
                }
            }
            WriteChunk(png, "IDAT", raw.GetBuffer().AsSpan(0, (int)raw.Length));
        }
        WriteChunk(png, "IEND", ReadOnlySpan<byte>.Empty);
        return png.ToArray();
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(data);
        uint crc = Crc32.Update(0xFFFFFFFFu, head[4..]);
        crc = Crc32.Update(crc, data) ^ 0xFFFFFFFFu;
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }

    private static uint[] BuildCrcTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    internal static class Crc32
    {
        /// <summary>Updates a running (pre-inverted) CRC-32; callers start at 0xFFFFFFFF and invert at the end.</summary>
        public static uint Update(uint crc, ReadOnlySpan<byte> data)
        {
            foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc;
        }

        public static uint Compute(ReadOnlySpan<byte> data) => Update(0xFFFFFFFFu, data) ^ 0xFFFFFFFFu;
    }
}
