using System.Runtime.InteropServices;
using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Preprocess;
using Ephemera.TestSupport;

namespace Ephemera.Inference.Tests;

public class PreprocessTests
{
    /// <summary>
    /// Naive reference, written from the documented rules and nothing else: per output pixel,
    /// OpenCV INTER_LINEAR source coordinate, bilinear sample of each plane (chroma centred),
    /// BT.601 to B,G,R, clamp, normalise, channel order; pad outside the letterbox.
    /// </summary>
    internal static float[] Naive(InputContract c, int tw, int th, byte[] d, int w, int h, string fmt, bool fullRange)
    {
        var outp = new float[3 * tw * th];
        double r = Math.Min((double)th / h, (double)tw / w);
        int nw = c.Resize == ResizeRule.Stretch ? tw : (int)(w * r), nh = c.Resize == ResizeRule.Stretch ? th : (int)(h * r);
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        double Sample(Func<int, int, double> px, int sw, int sh, double fx, double fy)
        {
            static (int, double) Tap(double f, int n) { int s = (int)Math.Floor(f); double t = f - s; if (s < 0) { s = 0; t = 0; } if (s >= n - 1) { s = n - 1; t = 0; } return (s, t); }
            var (x0, tx) = Tap(fx, sw); var (y0, ty) = Tap(fy, sh);
            int x1 = Math.Min(x0 + 1, sw - 1), y1 = Math.Min(y0 + 1, sh - 1);
            double top = px(x0, y0) + (px(x1, y0) - px(x0, y0)) * tx, bot = px(x0, y1) + (px(x1, y1) - px(x0, y1)) * tx;
            return top + (bot - top) * ty;
        }
        for (int oy = 0; oy < th; oy++)
            for (int ox = 0; ox < tw; ox++)
            {
                double[] bgr = new double[3];
                if (ox >= nw || oy >= nh) { bgr[0] = bgr[1] = bgr[2] = c.Pad; }
                else
                {
                    double sx = (double)w / nw, sy = (double)h / nh;
                    double lx = (ox + 0.5) * sx - 0.5, ly = (oy + 0.5) * sy - 0.5;
                    double cx = (ox + 0.5) * sx / 2 - 0.5, cy = (oy + 0.5) * sy / 2 - 0.5;
                    if (fmt == "bgr24")
                        for (int k = 0; k < 3; k++) bgr[k] = Sample((x, y) => d[y * 3 * w + 3 * x + k], w, h, lx, ly);
                    else
                    {
                        double Y = Sample((x, y) => d[y * w + x], w, h, lx, ly);
                        double U = fmt == "nv12" ? Sample((x, y) => d[w * h + y * 2 * cw + 2 * x], cw, ch, cx, cy) : Sample((x, y) => d[w * h + y * cw + x], cw, ch, cx, cy);
                        double V = fmt == "nv12" ? Sample((x, y) => d[w * h + y * 2 * cw + 2 * x + 1], cw, ch, cx, cy) : Sample((x, y) => d[w * h + cw * ch + y * cw + x], cw, ch, cx, cy);
                        double ys = fullRange ? 1 : 255.0 / 219, yo = fullRange ? 0 : -16 * 255.0 / 219, cs = fullRange ? 1 : 255.0 / 224;
                        double yy = Y * ys + yo; U -= 128; V -= 128;
                        bgr[0] = Math.Clamp(yy + 1.772 * cs * U, 0, 255);
                        bgr[1] = Math.Clamp(yy - 0.344136 * cs * U - 0.714136 * cs * V, 0, 255);
                        bgr[2] = Math.Clamp(yy + 1.402 * cs * V, 0, 255);
                    }
                }
                for (int k = 0; k < 3; k++)
                {
                    int colour = c.Rgb ? 2 - k : k; // tensor channel k holds B,G,R or R,G,B
                    outp[k * tw * th + oy * tw + ox] = (float)((bgr[colour] - c.Mean[k]) / c.Std[k]);
                }
            }
        return outp;
    }

    private static void AssertClose(float[] expected, float[] actual, float tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++) { float e = Math.Abs(expected[i] - actual[i]); if (e > worst) { worst = e; at = i; } }
        Assert.True(worst <= tol, $"max |diff| {worst} at {at}: expected {(at >= 0 ? expected[at] : 0)}, got {(at >= 0 ? actual[at] : 0)}");
    }

    [Theory]
    [InlineData("yuv420p", false, false)]
    [InlineData("yuv420p", true, false)]
    [InlineData("yuv420p", false, true)]
    [InlineData("nv12", false, false)]
    [InlineData("nv12", true, true)]
    [InlineData("bgr24", false, false)]
    [InlineData("bgr24", true, false)]
    public void VectorAndScalarKernelsMatchTheNaiveReference(string fmt, bool forceScalar, bool fullRange)
    {
        var (pre, data) = KernelInputs.Preprocess(fmt);
        pre.ForceScalar = forceScalar;
        var slot = new float[pre.SlotLength];
        var placement = pre.Run(RawFrames.View(data, KernelInputs.W, KernelInputs.H, fmt, fullRange), slot);
        var expected = Naive(KernelInputs.Contract, 96, 64, data, KernelInputs.W, KernelInputs.H, fmt, fullRange);
        // Normalised units (std 2–4): 1e-3 is far below one grey level.
        AssertClose(expected, slot, 1e-3f);
        Assert.Equal(((int)(333 * (64.0 / 251)), 64), (placement.ResizedWidth, placement.ResizedHeight));
    }

    /// <summary>
    /// The YUV420P gather path reads two bytes per 32-bit gather: upscaling (many output pixels on the
    /// clamped right border, where the second byte lies past the row) and the 1080p street frame at
    /// the engine's 416×256 tensor both match the reference.
    /// </summary>
    [Theory]
    [InlineData(37, 21, 96, 64)]
    [InlineData(1920, 1080, 416, 256)]
    public void TheYuvGatherPathMatchesTheReferenceUpscaledAndAt1080p(int w, int h, int tw, int th)
    {
        var rng = new Random(7);
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        var data = new byte[w * h + 2 * cw * ch];
        rng.NextBytes(data);
        var pre = new FramePreprocessor(KernelInputs.Contract, tw, th);
        var slot = new float[pre.SlotLength];
        pre.Run(RawFrames.View(data, w, h, "yuv420p"), slot);
        AssertClose(Naive(KernelInputs.Contract, tw, th, data, w, h, "yuv420p", false), slot, 1e-3f);
    }

    [Fact]
    public void RgbStretchContractPutsRedFirstAndFillsTheWholeTensor()
    {
        var contract = new InputContract("input", 40, 30, true, [127, 127, 127], [128, 128, 128], ResizeRule.Stretch, 0, false);
        var (_, data) = KernelInputs.Preprocess("bgr24");
        var pre = new FramePreprocessor(contract, 40, 30);
        var slot = new float[pre.SlotLength];
        var p = pre.Run(RawFrames.View(data, KernelInputs.W, KernelInputs.H, "bgr24"), slot);
        Assert.Equal((40, 30), (p.ResizedWidth, p.ResizedHeight));
        AssertClose(Naive(contract, 40, 30, data, KernelInputs.W, KernelInputs.H, "bgr24", false), slot, 1e-4f);
    }

    [Theory]
    [InlineData("DOTNET_EnableAVX2", "yuv420p")]
    [InlineData("DOTNET_EnableHWIntrinsic", "yuv420p")]
    [InlineData("DOTNET_EnableHWIntrinsic", "nv12")]
    [InlineData("DOTNET_EnableHWIntrinsic", "bgr24")]
    public void KernelWithSimdSwitchedOffInAChildProcessMatchesTheReference(string knob, string fmt)
    {
        using var tmp = new TempDir();
        string outFile = tmp.File("slot.bin");
        string dll = typeof(Program).Assembly.Location;
        var r = ChildProcess.Run("dotnet", [dll, "preprocess", fmt, outFile], env: new Dictionary<string, string> { [knob] = "0" });
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        Assert.Contains("vector256=False", r.StdOut); // the child really ran the scalar path
        var slot = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outFile)).ToArray();
        var (_, data) = KernelInputs.Preprocess(fmt);
        AssertClose(Naive(KernelInputs.Contract, 96, 64, data, KernelInputs.W, KernelInputs.H, fmt, false), slot, 1e-3f);
    }

    [Fact]
    public void EmptyOrShortFramesAreClearErrors()
    {
        var pre = new FramePreprocessor(KernelInputs.Contract, 96, 64);
        var slot = new float[pre.SlotLength];
        var e1 = Assert.Throws<EphemeraException>(() => pre.Run(default, slot));
        Assert.Contains("empty frame", e1.Message);
        var tooShort = new byte[100];
        var e2 = Assert.Throws<EphemeraException>(() => pre.Run(new FrameView(64, 48, PixelFormat.Yuv420P, tooShort, 64, tooShort, 32, tooShort, 32), slot));
        Assert.Contains("plane 0", e2.Message);
        Assert.Throws<EphemeraException>(() => new FrameView(0, 0, PixelFormat.Yuv420P, default, 0));
    }
}

public class InputShapeTests
{
    [Theory]
    [InlineData(768, 576, 416, 416, 320)]    // 4:3 plaza: 416×312 content
    [InlineData(1920, 1080, 416, 416, 256)]  // 16:9: 416×234
    [InlineData(640, 360, 416, 416, 256)]
    [InlineData(1080, 1920, 416, 256, 416)]  // portrait
    [InlineData(1920, 1080, 640, 640, 384)]  // 640×360
    [InlineData(500, 500, 416, 416, 416)]
    public void OneSourceGetsTheSmallestMultipleOf32ThatHoldsItAtTheSquareScale(int w, int h, int side, int ew, int eh)
    {
        var (fw, fh) = Preprocess.InputShape.FitToSources(side, [(w, h)]);
        Assert.Equal((ew, eh), (fw, fh));
        // The letterbox scale in the fitted tensor equals the square input's: same object sizes.
        double square = Math.Min((double)side / w, (double)side / h);
        double fitted = Math.Min((double)fw / w, (double)fh / h);
        Assert.Equal(square, fitted, 9);
    }

    [Fact]
    public void MixedSourcesGetATensorThatHoldsEachAtItsSquareScale()
    {
        Assert.Equal((416, 320), Preprocess.InputShape.FitToSources(416, [(1920, 1080), (768, 576)]));
        Assert.Equal((416, 416), Preprocess.InputShape.FitToSources(416, [(1920, 1080), (1080, 1920)]));
        Assert.Equal((416, 416), Preprocess.InputShape.FitToSources(416, []));
    }

    [Fact]
    public void BadSizesAreRefusedWithTheValue()
    {
        Assert.Contains("400", Assert.Throws<Ephemera.Core.EphemeraException>(() => Preprocess.InputShape.FitToSources(400, [(10, 10)])).Message);
        Assert.Contains("0x5", Assert.Throws<Ephemera.Core.EphemeraException>(() => Preprocess.InputShape.FitToSources(416, [(0, 5)])).Message);
    }
}
