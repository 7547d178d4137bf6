using Ephemera.Core;
using Ephemera.Decode.Interop;

namespace Ephemera.Decode;

/// <summary>
/// JPEG encoding with FFmpeg's mjpeg encoder in the native core, read in place from a
/// <see cref="PixelBuffer"/> holding a YUV420P picture: no managed copy of the pixels is made; only
/// the encoded bytes come back.
/// </summary>
public static unsafe class JpegEncoder
{
    /// <summary>
    /// Encodes the YUV420P picture laid out in <paramref name="buffer"/> (luma at <paramref name="offsetY"/>
    /// with <paramref name="strideY"/>, chroma planes at <paramref name="offsetU"/> / <paramref name="offsetV"/>
    /// with <paramref name="strideC"/>). <paramref name="qscale"/>: 2 (best) .. 31 (smallest).
    /// </summary>
    public static byte[] Encode(PixelBuffer buffer, int width, int height, long offsetY, int strideY, long offsetU, long offsetV, int strideC,
        bool fullRange, int qscale = 3)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (width <= 0 || height <= 0 || (width & 1) != 0 || (height & 1) != 0)
            throw new EphemeraException($"JPEG encoding needs an even, positive size, got {width}x{height}");
        if (qscale is < 2 or > 31) throw new ArgumentOutOfRangeException(nameof(qscale), qscale, "qscale must be 2..31");
        long len = (long)buffer.Length;
        CheckPlane(offsetY, strideY, width, height, len, "Y");
        CheckPlane(offsetU, strideC, width / 2, height / 2, len, "U");
        CheckPlane(offsetV, strideC, width / 2, height / 2, len, "V");
        byte* p = buffer.Pointer;
        // A first guess that fits nearly every picture; the native call reports the size when it does not.
        var output = new byte[Math.Max(64 * 1024, width * height / 2)];
        nuint size;
        int rc;
        fixed (byte* o = output)
            rc = NativeMethods.eph_jpeg_encode(p + offsetY, strideY, p + offsetU, p + offsetV, strideC, width, height, fullRange ? 1 : 0, qscale, o, (nuint)output.Length, &size);
        if (rc == (int)NativeStatus.TooSmall)
        {
            output = new byte[(int)size];
            fixed (byte* o = output)
                rc = NativeMethods.eph_jpeg_encode(p + offsetY, strideY, p + offsetU, p + offsetV, strideC, width, height, fullRange ? 1 : 0, qscale, o, (nuint)output.Length, &size);
        }
        NativeErrors.ThrowIfFailed(rc);
        GC.KeepAlive(buffer);
        return output.AsSpan(0, (int)size).ToArray();
    }

    private static void CheckPlane(long offset, int stride, int rowBytes, int rows, long length, string name)
    {
        if (offset < 0 || stride < rowBytes || offset + (long)stride * (rows - 1) + rowBytes > length)
            throw new EphemeraException($"JPEG encoding: the {name} plane (offset {offset}, stride {stride}, {rows} rows of {rowBytes}) does not fit the {length}-byte buffer");
    }
}
