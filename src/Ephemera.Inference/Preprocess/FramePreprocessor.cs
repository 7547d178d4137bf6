using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ephemera.Core;
using Ephemera.Inference.Models;

namespace Ephemera.Inference.Preprocess;

/// <summary>
/// Where the frame landed in the tensor: tensor pixel = source pixel × scale. Boxes decoded in
/// tensor pixels are divided by the scale to get back to source pixels.
/// </summary>
public readonly record struct TensorPlacement(float ScaleX, float ScaleY, int ResizedWidth, int ResizedHeight, int SourceWidth, int SourceHeight);

/// <summary>
/// One pass from a decoded frame (YUV420P, NV12, BGR24 or Gray8) straight into one NCHW float
/// tensor slot: resize (letterbox or stretch), colour conversion to the model's channel order,
/// normalisation and padding — no intermediate full-size BGR image.
///
/// Resampling is bilinear with OpenCV's INTER_LINEAR pixel-centre convention
/// (src = (dst + 0.5) · scale − 0.5, clamped at the borders, two taps whatever the scale), because
/// the models were trained and are checked (OpenCV DNN reference) with <c>cv2.resize</c>'s default.
/// Y, U and V are each resampled, then converted: YUV→RGB is affine, so resample-then-convert equals
/// convert-then-resample except where a pixel saturates. Chroma samples are taken as centred between
/// their luma pairs (MPEG-1/JPEG siting). Matrix: BT.601, limited or full range per
/// <see cref="FrameView.FullRange"/>.
///
/// Work split: a vertical pass blends the two source rows an output row needs into a float scratch
/// row (vectorised over the source width), a horizontal pass gathers the two taps per output pixel
/// from precomputed index/weight tables, and a vectorised stage converts colour, clamps, normalises
/// and writes the three planes. Scratch is owned by the instance: one instance per thread (the
/// batcher keeps one in each camera's <c>DetectionRequest</c>). Tables are rebuilt only when the
/// frame size changes, so steady state allocates nothing.
/// </summary>
public sealed class FramePreprocessor : IFramePreprocessor
{
    private readonly InputContract _contract;
    private readonly float[] _mean = new float[3], _invStd = new float[3], _padNorm = new float[3];
    public int TensorWidth { get; }
    public int TensorHeight { get; }
    /// <summary>Floats in one tensor slot (3·H·W).</summary>
    public int SlotLength => 3 * TensorWidth * TensorHeight;

    /// <summary>Tests and benchmarks set this to run the scalar path on a machine with SIMD.</summary>
    internal bool ForceScalar { get; set; }
    private bool UseVector => !ForceScalar && Vector256.IsHardwareAccelerated;

    // Tables for the current frame geometry.
    private int _srcW = -1, _srcH = -1, _format = -1;
    private int _nw, _nh;
    private Axis _lx, _ly, _cx, _cy;
    private float[] _tmp0 = [], _tmp1 = [], _tmp2 = [];
    private float[] _row0 = [], _row1 = [], _row2 = [];

    public FramePreprocessor(InputContract contract, int tensorWidth, int tensorHeight)
    {
        if (tensorWidth <= 0 || tensorHeight <= 0) throw new EphemeraException($"tensor size must be positive, got {tensorWidth}x{tensorHeight}");
        _contract = contract;
        TensorWidth = tensorWidth; TensorHeight = tensorHeight;
        for (int c = 0; c < 3; c++)
        {
            _mean[c] = contract.Mean[c];
            _invStd[c] = 1f / contract.Std[c];
            _padNorm[c] = (contract.Pad - _mean[c]) * _invStd[c];
        }
    }

    /// <summary>Fills <paramref name="slot"/> (3·H·W floats, NCHW) from <paramref name="frame"/>.</summary>
    public TensorPlacement Run(in FrameView frame, Span<float> slot)
    {
        if (frame.Width <= 0 || frame.Height <= 0) throw new EphemeraException($"empty frame ({frame.Width}x{frame.Height})");
        if (slot.Length < SlotLength) throw new ArgumentException($"tensor slot has {slot.Length} floats, needs {SlotLength}");
        CheckPlanes(frame);
        Prepare(frame.Width, frame.Height, frame.Format);

        int W = TensorWidth, plane = TensorWidth * TensorHeight;
        var p0 = slot[..plane]; var p1 = slot.Slice(plane, plane); var p2 = slot.Slice(2 * plane, plane);
        var colour = ColourFor(frame);
        for (int oy = 0; oy < _nh; oy++)
        {
            ResampleRow(frame, oy);
            int o = oy * W;
            Convert(colour, p0.Slice(o, _nw), p1.Slice(o, _nw), p2.Slice(o, _nw));
            if (_nw < W)
            {
                p0.Slice(o + _nw, W - _nw).Fill(_padNorm[0]);
                p1.Slice(o + _nw, W - _nw).Fill(_padNorm[1]);
                p2.Slice(o + _nw, W - _nw).Fill(_padNorm[2]);
            }
        }
        if (_nh < TensorHeight)
        {
            int o = _nh * W, n = (TensorHeight - _nh) * W;
            p0.Slice(o, n).Fill(_padNorm[0]); p1.Slice(o, n).Fill(_padNorm[1]); p2.Slice(o, n).Fill(_padNorm[2]);
        }
        return new TensorPlacement((float)_nw / frame.Width, (float)_nh / frame.Height, _nw, _nh, frame.Width, frame.Height);
    }

    /// <summary>Nothing to free: scratch is managed arrays (see <see cref="WipeScratch"/>).</summary>
    public void Dispose() { }

    /// <summary>Zeroes the row scratch (it holds the last resampled row's pixel values): for crops of faces, which must not linger.</summary>
    public void WipeScratch()
    {
        Array.Clear(_tmp0); Array.Clear(_tmp1); Array.Clear(_tmp2);
        Array.Clear(_row0); Array.Clear(_row1); Array.Clear(_row2);
    }

    /// <summary>Resized size for a source size under the contract's rule (YOLOX: int(w·r), int(h·r)).</summary>
    public (int Width, int Height) ResizedSize(int srcW, int srcH)
    {
        if (_contract.Resize == ResizeRule.Stretch) return (TensorWidth, TensorHeight);
        double r = Math.Min((double)TensorHeight / srcH, (double)TensorWidth / srcW);
        return (Math.Clamp((int)(srcW * r), 1, TensorWidth), Math.Clamp((int)(srcH * r), 1, TensorHeight));
    }

    /// <summary>Throws when a plane is shorter than the frame's size and strides need (shared with the Vulkan kernel).</summary>
    public static void CheckPlanes(in FrameView f)
    {
        int cw = (f.Width + 1) / 2, ch = (f.Height + 1) / 2;
        switch (f.Format)
        {
            case PixelFormat.Yuv420P:
                Need(f.Plane0, f.Stride0, f.Width, f.Height, 0, f);
                Need(f.Plane1, f.Stride1, cw, ch, 1, f);
                Need(f.Plane2, f.Stride2, cw, ch, 2, f);
                break;
            case PixelFormat.Nv12:
                Need(f.Plane0, f.Stride0, f.Width, f.Height, 0, f);
                Need(f.Plane1, f.Stride1, 2 * cw, ch, 1, f);
                break;
            case PixelFormat.Bgr24: Need(f.Plane0, f.Stride0, 3 * f.Width, f.Height, 0, f); break;
            case PixelFormat.Gray8: Need(f.Plane0, f.Stride0, f.Width, f.Height, 0, f); break;
            default: throw new EphemeraException($"unsupported pixel format {f.Format} for detection");
        }

        static void Need(ReadOnlySpan<byte> p, int stride, int rowBytes, int rows, int index, in FrameView f)
        {
            long need = (long)stride * (rows - 1) + rowBytes;
            if (stride < rowBytes || p.Length < need)
                throw new EphemeraException($"{f.Format} frame {f.Width}x{f.Height}: plane {index} has {p.Length} bytes with stride {stride}, needs stride >= {rowBytes} and {need} bytes");
        }
    }

    private void Prepare(int w, int h, PixelFormat format)
    {
        if (w == _srcW && h == _srcH && (int)format == _format) return;
        (_nw, _nh) = ResizedSize(w, h);
        double sx = (double)w / _nw, sy = (double)h / _nh;
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        _lx = Axis.Build(_nw, sx, w); _ly = Axis.Build(_nh, sy, h);
        _cx = Axis.Build(_nw, sx / 2, cw); _cy = Axis.Build(_nh, sy / 2, ch);
        int tmpLen = format switch { PixelFormat.Bgr24 => 3 * w, _ => w };
        _tmp0 = new float[tmpLen]; _tmp1 = new float[format == PixelFormat.Nv12 ? 2 * cw : cw]; _tmp2 = new float[cw];
        _row0 = new float[_nw]; _row1 = new float[_nw]; _row2 = new float[_nw];
        _srcW = w; _srcH = h; _format = (int)format;
    }

    /// <summary>Fills _row0.._row2 with the resampled source channels of output row <paramref name="oy"/>.</summary>
    private void ResampleRow(in FrameView f, int oy)
    {
        int w = f.Width, cw = (w + 1) / 2;
        switch (f.Format)
        {
            case PixelFormat.Yuv420P when UseVector && Avx2.IsSupported:
                GatherRow(f.Plane0, f.Stride0, _ly, oy, _lx, w, _row0);
                GatherRow(f.Plane1, f.Stride1, _cy, oy, _cx, cw, _row1);
                GatherRow(f.Plane2, f.Stride2, _cy, oy, _cx, cw, _row2);
                break;
            case PixelFormat.Yuv420P:
                VerticalRow(f.Plane0, f.Stride0, _ly, oy, w, _tmp0);
                VerticalRow(f.Plane1, f.Stride1, _cy, oy, cw, _tmp1);
                VerticalRow(f.Plane2, f.Stride2, _cy, oy, cw, _tmp2);
                Horizontal(_tmp0, _lx, 1, 0, _row0);
                Horizontal(_tmp1, _cx, 1, 0, _row1);
                Horizontal(_tmp2, _cx, 1, 0, _row2);
                break;
            case PixelFormat.Nv12:
                VerticalRow(f.Plane0, f.Stride0, _ly, oy, w, _tmp0);
                VerticalRow(f.Plane1, f.Stride1, _cy, oy, 2 * cw, _tmp1);
                Horizontal(_tmp0, _lx, 1, 0, _row0);
                Horizontal(_tmp1, _cx, 2, 0, _row1);
                Horizontal(_tmp1, _cx, 2, 1, _row2);
                break;
            case PixelFormat.Bgr24:
                VerticalRow(f.Plane0, f.Stride0, _ly, oy, 3 * w, _tmp0);
                Horizontal(_tmp0, _lx, 3, 0, _row0);
                Horizontal(_tmp0, _lx, 3, 1, _row1);
                Horizontal(_tmp0, _lx, 3, 2, _row2);
                break;
            case PixelFormat.Gray8:
                VerticalRow(f.Plane0, f.Stride0, _ly, oy, w, _tmp0);
                Horizontal(_tmp0, _lx, 1, 0, _row0);
                _row0.AsSpan().CopyTo(_row1); _row0.AsSpan().CopyTo(_row2);
                break;
        }
    }

    /// <summary>
    /// Both passes in one for a planar channel, eight output pixels at a time: one 32-bit AVX2 gather
    /// per source row fetches the bytes at tap i0 and at i0 + 1 together (the axis tables have
    /// i1 = i0 + 1, or i1 = i0 with weight 0 at the clamped border, where the extra byte is multiplied
    /// by 0), so only the ~2 of every 4.6 source columns a 1080p→416 row uses are read, and the
    /// full-width vertical pass and its scratch row disappear. The arithmetic is the two-pass path's,
    /// in the same order (vertical blend, then horizontal), so the results are the same floats.
    /// Blocks whose last tap would read past the row (the right border) take the scalar loop.
    /// </summary>
    private static unsafe void GatherRow(ReadOnlySpan<byte> plane, int stride, Axis ay, int oy, Axis ax, int count, float[] dst)
    {
        float fy = ay.W[oy];
        var r0 = plane.Slice(ay.I0[oy] * stride, count);
        var r1 = plane.Slice(ay.I1[oy] * stride, count);
        int n = dst.Length, x = 0;
        fixed (byte* p0 = r0, p1 = r1)
        fixed (int* i0 = ax.I0)
        fixed (float* w = ax.W, d = dst)
        {
            var vfy = Vector256.Create(fy);
            var low = Vector256.Create(0xFF);
            for (; x <= n - 8 && i0[x + 7] + 4 <= count; x += 8)
            {
                var idx = Avx.LoadVector256(i0 + x);
                var g0 = Avx2.GatherVector256((int*)p0, idx, 1);
                var g1 = Avx2.GatherVector256((int*)p1, idx, 1);
                var a0 = Avx.ConvertToVector256Single(g0 & low);
                var a1 = Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(g0, 8) & low);
                var b0 = Avx.ConvertToVector256Single(g1 & low);
                var b1 = Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(g1, 8) & low);
                var v0 = a0 + (b0 - a0) * vfy; // the vertical blend at tap i0 …
                var v1 = a1 + (b1 - a1) * vfy; // … and at tap i1
                Avx.Store(d + x, v0 + (v1 - v0) * Avx.LoadVector256(w + x));
            }
            for (; x < n; x++)
            {
                int s0 = i0[x], s1 = ax.I1[x];
                float a = p0[s0], v0 = a + (p1[s0] - a) * fy;
                float c = p0[s1], v1 = c + (p1[s1] - c) * fy;
                d[x] = v0 + (v1 - v0) * w[x];
            }
        }
    }

    private void VerticalRow(ReadOnlySpan<byte> plane, int stride, Axis ay, int oy, int count, float[] dst)
    {
        var r0 = plane.Slice(ay.I0[oy] * stride, count);
        var r1 = plane.Slice(ay.I1[oy] * stride, count);
        float fy = ay.W[oy];
        if (UseVector) BlendRowsVector(r0, r1, fy, dst);
        else BlendRowsScalar(r0, r1, fy, dst);
    }

    internal static void BlendRowsScalar(ReadOnlySpan<byte> r0, ReadOnlySpan<byte> r1, float fy, Span<float> dst)
    {
        for (int x = 0; x < r0.Length; x++)
        {
            float a = r0[x];
            dst[x] = a + (r1[x] - a) * fy;
        }
    }

    internal static void BlendRowsVector(ReadOnlySpan<byte> r0, ReadOnlySpan<byte> r1, float fy, Span<float> dst)
    {
        int n = r0.Length, x = 0;
        ref byte a0 = ref MemoryMarshal.GetReference(r0);
        ref byte b0 = ref MemoryMarshal.GetReference(r1);
        ref float d0 = ref MemoryMarshal.GetReference(dst);
        var vfy = Vector256.Create(fy);
        for (; x <= n - 16; x += 16)
        {
            Widen(Vector128.LoadUnsafe(ref a0, (nuint)x), out var aLo, out var aHi);
            Widen(Vector128.LoadUnsafe(ref b0, (nuint)x), out var bLo, out var bHi);
            (aLo + (bLo - aLo) * vfy).StoreUnsafe(ref d0, (nuint)x);
            (aHi + (bHi - aHi) * vfy).StoreUnsafe(ref d0, (nuint)(x + 8));
        }
        for (; x < n; x++)
        {
            float a = Unsafe.Add(ref a0, x);
            Unsafe.Add(ref d0, x) = a + (Unsafe.Add(ref b0, x) - a) * fy;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(Vector128<byte> v, out Vector256<float> lo, out Vector256<float> hi)
    {
        var l = Vector128.WidenLower(v);
        var h = Vector128.WidenUpper(v);
        lo = Vector256.ConvertToSingle(Vector256.Create(Vector128.WidenLower(l), Vector128.WidenUpper(l)).AsInt32());
        hi = Vector256.ConvertToSingle(Vector256.Create(Vector128.WidenLower(h), Vector128.WidenUpper(h)).AsInt32());
    }

    /// <summary>Two-tap horizontal gather: dst[x] = t[i0] + (t[i1] − t[i0])·w, element i at i·step + offset.</summary>
    private void Horizontal(float[] tmp, Axis ax, int step, int offset, float[] dst)
    {
        if (UseVector && Avx2.IsSupported) HorizontalAvx2(tmp, ax, step, offset, dst);
        else HorizontalScalar(tmp, ax, step, offset, dst);
    }

    /// <summary>
    /// As <see cref="HorizontalScalar"/>, eight output pixels at a time with AVX2 gathers: the scalar
    /// loop's two dependent table loads and two bounds-checked taps per pixel were most of the
    /// preprocess time at 1080p. Every index is inside <paramref name="tmp"/> (the axis tables are
    /// clamped to the source row), so the gathers never read outside it.
    /// </summary>
    private static unsafe void HorizontalAvx2(float[] tmp, Axis ax, int step, int offset, float[] dst)
    {
        int n = dst.Length, x = 0;
        fixed (float* t = tmp)
        fixed (int* i0 = ax.I0, i1 = ax.I1)
        fixed (float* w = ax.W, d = dst)
        {
            var vStep = Vector256.Create(step);
            var vOffset = Vector256.Create(offset);
            for (; x <= n - 8; x += 8)
            {
                var a0 = Avx.LoadVector256(i0 + x);
                var a1 = Avx.LoadVector256(i1 + x);
                if (step != 1 || offset != 0) { a0 = a0 * vStep + vOffset; a1 = a1 * vStep + vOffset; }
                var a = Avx2.GatherVector256(t, a0, 4);
                var b = Avx2.GatherVector256(t, a1, 4);
                Avx.Store(d + x, a + (b - a) * Avx.LoadVector256(w + x));
            }
            for (; x < n; x++)
            {
                float a = t[i0[x] * step + offset], b = t[i1[x] * step + offset];
                d[x] = a + (b - a) * w[x];
            }
        }
    }

    private static void HorizontalScalar(float[] tmp, Axis ax, int step, int offset, float[] dst)
    {
        ref float t = ref MemoryMarshal.GetArrayDataReference(tmp);
        var i0 = ax.I0; var i1 = ax.I1; var wt = ax.W;
        for (int x = 0; x < dst.Length; x++)
        {
            float a = Unsafe.Add(ref t, i0[x] * step + offset);
            float b = Unsafe.Add(ref t, i1[x] * step + offset);
            dst[x] = a + (b - a) * wt[x];
        }
    }

    /// <summary>Affine colour transform applied to resampled (c0, c1, c2) = (Y, U, V) or (B, G, R). Internal: the Vulkan kernel takes the same constants.</summary>
    internal readonly struct Colour
    {
        public readonly bool FromYuv;
        public readonly float YScale, YOffset, BU, GU, GV, RV;
        public Colour(bool fromYuv, bool fullRange)
        {
            FromYuv = fromYuv;
            if (fullRange) { YScale = 1f; YOffset = 0f; BU = 1.772f; GU = -0.344136f; GV = -0.714136f; RV = 1.402f; }
            else { YScale = 255f / 219f; YOffset = -16f * 255f / 219f; BU = 1.772f * 255f / 224f; GU = -0.344136f * 255f / 224f; GV = -0.714136f * 255f / 224f; RV = 1.402f * 255f / 224f; }
        }
    }

    private static Colour ColourFor(in FrameView f) => f.Format switch
    {
        PixelFormat.Yuv420P or PixelFormat.Nv12 => new Colour(true, f.FullRange),
        _ => new Colour(false, true),
    };

    /// <summary>Rows → B, G, R → clamp → model channel order → (x − mean)/std into the planes.</summary>
    private void Convert(in Colour c, Span<float> p0, Span<float> p1, Span<float> p2)
    {
        // Tensor channel k receives colour channel order[k]: BGR models (0,1,2), RGB models (2,1,0).
        bool rgb = _contract.Rgb;
        Span<float> outB = rgb ? p2 : p0, outR = rgb ? p0 : p2;
        int kB = rgb ? 2 : 0, kR = rgb ? 0 : 2;
        float mB = _mean[kB], sB = _invStd[kB], mG = _mean[1], sG = _invStd[1], mR = _mean[kR], sR = _invStd[kR];
        int n = _nw, x = 0;
        if (UseVector)
        {
            ref float r0 = ref MemoryMarshal.GetArrayDataReference(_row0);
            ref float r1 = ref MemoryMarshal.GetArrayDataReference(_row1);
            ref float r2 = ref MemoryMarshal.GetArrayDataReference(_row2);
            ref float oB = ref MemoryMarshal.GetReference(outB);
            ref float oG = ref MemoryMarshal.GetReference(p1);
            ref float oR = ref MemoryMarshal.GetReference(outR);
            Vector256<float> zero = Vector256<float>.Zero, max = Vector256.Create(255f), half = Vector256.Create(128f);
            Vector256<float> ys = Vector256.Create(c.YScale), yo = Vector256.Create(c.YOffset), bu = Vector256.Create(c.BU),
                gu = Vector256.Create(c.GU), gv = Vector256.Create(c.GV), rv = Vector256.Create(c.RV);
            Vector256<float> vmB = Vector256.Create(mB), vsB = Vector256.Create(sB), vmG = Vector256.Create(mG),
                vsG = Vector256.Create(sG), vmR = Vector256.Create(mR), vsR = Vector256.Create(sR);
            for (; x <= n - 8; x += 8)
            {
                var a = Vector256.LoadUnsafe(ref r0, (nuint)x);
                var b = Vector256.LoadUnsafe(ref r1, (nuint)x);
                var d = Vector256.LoadUnsafe(ref r2, (nuint)x);
                Vector256<float> B, G, R;
                if (c.FromYuv)
                {
                    var yy = a * ys + yo; var u = b - half; var v = d - half;
                    B = Vector256.Min(Vector256.Max(yy + u * bu, zero), max);
                    G = Vector256.Min(Vector256.Max(yy + u * gu + v * gv, zero), max);
                    R = Vector256.Min(Vector256.Max(yy + v * rv, zero), max);
                }
                else { B = a; G = b; R = d; }
                ((B - vmB) * vsB).StoreUnsafe(ref oB, (nuint)x);
                ((G - vmG) * vsG).StoreUnsafe(ref oG, (nuint)x);
                ((R - vmR) * vsR).StoreUnsafe(ref oR, (nuint)x);
            }
        }
        for (; x < n; x++)
        {
            float B, G, R;
            if (c.FromYuv)
            {
                float yy = _row0[x] * c.YScale + c.YOffset, u = _row1[x] - 128f, v = _row2[x] - 128f;
                B = Math.Clamp(yy + u * c.BU, 0f, 255f);
                G = Math.Clamp(yy + u * c.GU + v * c.GV, 0f, 255f);
                R = Math.Clamp(yy + v * c.RV, 0f, 255f);
            }
            else { B = _row0[x]; G = _row1[x]; R = _row2[x]; }
            outB[x] = (B - mB) * sB;
            p1[x] = (G - mG) * sG;
            outR[x] = (R - mR) * sR;
        }
    }

    /// <summary>Per output coordinate: the two source taps and the weight of the second (OpenCV INTER_LINEAR).</summary>
    private readonly struct Axis(int[] i0, int[] i1, float[] w)
    {
        public readonly int[] I0 = i0, I1 = i1;
        public readonly float[] W = w;

        public static Axis Build(int dstLen, double scale, int srcLen)
        {
            var i0 = new int[dstLen]; var i1 = new int[dstLen]; var w = new float[dstLen];
            for (int d = 0; d < dstLen; d++)
            {
                double f = (d + 0.5) * scale - 0.5;
                int s = (int)Math.Floor(f);
                double t = f - s;
                if (s < 0) { s = 0; t = 0; }
                if (s >= srcLen - 1) { s = srcLen - 1; t = 0; }
                i0[d] = s; i1[d] = Math.Min(s + 1, srcLen - 1); w[d] = (float)t;
            }
            return new Axis(i0, i1, w);
        }
    }
}
