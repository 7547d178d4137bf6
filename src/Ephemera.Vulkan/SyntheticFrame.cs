using System.Runtime.InteropServices;
using Ephemera.Core;

namespace Ephemera.Vulkan;

/// <summary>
/// A synthetic YUV420P picture in page-aligned native memory (like a decode pool block, so the
/// zero-copy import applies): noise over a horizontal luma ramp, the pattern of the bench's
/// <c>SyntheticFrame</c>. For the <c>kernels: auto</c> measurement and the device benchmark, which
/// must run without a decoder. Zeroed and freed on dispose.
/// </summary>
public sealed unsafe class SyntheticFrame : IDisposable
{
    private byte* _data;
    public int Width { get; }
    public int Height { get; }
    public nuint Bytes { get; }

    private SyntheticFrame(int w, int h)
    {
        Width = w; Height = h;
        Bytes = (nuint)(w * h * 3 / 2);
        _data = (byte*)NativeMemory.AlignedAlloc(Bytes, (nuint)Environment.SystemPageSize);
    }

    /// <summary>An even <paramref name="width"/> × <paramref name="height"/> picture; the same seed gives the same pixels.</summary>
    public static SyntheticFrame Create(int width, int height, int seed)
    {
        if (width <= 0 || height <= 0 || (width & 1) != 0 || (height & 1) != 0) throw new EphemeraException($"synthetic frame needs an even, positive size, got {width}x{height}");
        var f = new SyntheticFrame(width, height);
        var d = f.Span;
        new Random(seed).NextBytes(d);
        for (int i = 0; i < width * height; i++) d[i] = (byte)(d[i] / 4 + (i % width) * 191 / width);
        return f;
    }

    /// <summary>All three planes, back to back (Y, then U, then V).</summary>
    public Span<byte> Span => new(_data != null ? _data : throw new ObjectDisposedException(nameof(SyntheticFrame)), (int)Bytes);

    public FrameView View
    {
        get
        {
            var s = Span; int y = Width * Height, c = y / 4;
            return new FrameView(Width, Height, PixelFormat.Yuv420P, s[..y], Width, s.Slice(y, c), Width / 2, s.Slice(y + c, c), Width / 2);
        }
    }

    public Anonymisation.YuvPlanes Planes
    {
        get
        {
            var s = Span; int y = Width * Height, c = y / 4;
            return new Anonymisation.YuvPlanes(Width, Height, s[..y], Width, s.Slice(y, c), s.Slice(y + c, c), Width / 2);
        }
    }

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.Clear(_data, Bytes);
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
