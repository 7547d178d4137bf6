using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference.Models;
using Ephemera.Inference.Preprocess;
using Xunit.Abstractions;

namespace Ephemera.Vulkan.Tests;

/// <summary>The GPU preprocess equals the SIMD one on real frames: within 1 LSB of the 8-bit input per channel, same letterbox.</summary>
public sealed class PreprocessParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly VulkanKernels _zeroCopy = VulkanKernels.Open(zeroCopy: true);
    private readonly VulkanKernels _staging = VulkanKernels.Open(zeroCopy: false);

    public void Dispose() { _zeroCopy.Dispose(); _staging.Dispose(); }

    public static TheoryData<string, string, int, int, bool> Cases => new()
    {
        { "vtest", "yolox", 416, 320, true }, { "vtest", "rgb", 320, 320, false }, { "vtest", "stretch", 320, 240, true },
        { "adl6", "yolox", 416, 256, true }, { "adl6", "yolox", 416, 256, false }, { "adl6", "rgb", 320, 320, true },
    };

    [VulkanTheory]
    [MemberData(nameof(Cases))]
    public void Yuv420pFramesMatchTheSimdPath(string video, string contractName, int tw, int th, bool zeroCopy)
    {
        var contract = Contract(contractName);
        var kernels = zeroCopy ? _zeroCopy : _staging;
        using var simd = new FramePreprocessor(contract, tw, th);
        using var gpu = (VulkanPreprocessor)kernels.Create(contract, tw, th);
        var expected = new float[simd.SlotLength];
        var actual = new float[simd.SlotLength];
        double worst = 0;
        int frames = Inputs.ForFrames(video == "vtest" ? Inputs.Vtest : Inputs.AdlRundle6, count: 3, every: 40, lease =>
        {
            var p0 = simd.Run(lease.View, expected);
            Array.Fill(actual, float.NaN);
            var p1 = gpu.Run(lease.View, actual);
            Assert.Equal(p0, p1);
            Assert.Equal(zeroCopy && _zeroCopy.ZeroCopy ? FramePath.ZeroCopy : FramePath.Staging, gpu.LastPath);
            worst = Math.Max(worst, MaxLsb(expected, actual, contract, tw * th));
        });
        Assert.Equal(3, frames);
        output.WriteLine($"{video} {contractName} {tw}x{th} {gpu.LastPath}: max difference {worst:F4} LSB");
        Assert.True(worst <= 1.0, $"GPU tensor differs from SIMD by {worst:F3} LSB (> 1)");
        Assert.True(Variance(expected) > 0.01, "the frames gave a flat tensor: the comparison would prove nothing");
    }

    [VulkanFact]
    public void Nv12FramesMatchTheSimdPath()
    {
        using var simd = new FramePreprocessor(Inputs.Yolox, 416, 256);
        using var gpu = (VulkanPreprocessor)_zeroCopy.Create(Inputs.Yolox, 416, 256);
        var expected = new float[simd.SlotLength];
        var actual = new float[simd.SlotLength];
        double worst = 0;
        Inputs.ForFrames(Inputs.AdlRundle6, count: 2, every: 60, lease =>
        {
            var v = lease.View;
            int w = v.Width, h = v.Height, cw = w / 2, ch = h / 2;
            using var nv12 = PixelBuffer.Rent((nuint)(w * h + w * ch));
            var d = nv12.DangerousGetSpan();
            for (int y = 0; y < h; y++) v.Plane0.Slice(y * v.Stride0, w).CopyTo(d.Slice(y * w, w));
            for (int y = 0; y < ch; y++)
                for (int x = 0; x < cw; x++)
                {
                    d[w * h + y * w + 2 * x] = v.Plane1[y * v.Stride1 + x];
                    d[w * h + y * w + 2 * x + 1] = v.Plane2[y * v.Stride2 + x];
                }
            var frame = new FrameView(w, h, PixelFormat.Nv12, d[..(w * h)], w, d[(w * h)..], w, fullRange: v.FullRange);
            simd.Run(frame, expected);
            gpu.Run(frame, actual);
            worst = Math.Max(worst, MaxLsb(expected, actual, Inputs.Yolox, 416 * 256));
        });
        output.WriteLine($"NV12 {gpu.LastPath}: max difference {worst:F4} LSB");
        Assert.True(worst <= 1.0, $"GPU NV12 tensor differs from SIMD by {worst:F3} LSB");
    }

    [VulkanFact]
    public void OtherFormatsRunTheSimdPath()
    {
        using var gpu = (VulkanPreprocessor)_staging.Create(Inputs.Yolox, 64, 64);
        var bgr = new byte[32 * 16 * 3];
        new Random(5).NextBytes(bgr);
        var slot = new float[gpu.SlotLength];
        gpu.Run(new FrameView(32, 16, PixelFormat.Bgr24, bgr, 96), slot);
        Assert.Equal(FramePath.Simd, gpu.LastPath);
        Assert.Contains(slot, v => v != 114f && v != 0f);
    }

    private static InputContract Contract(string name) => name switch
    {
        "yolox" => Inputs.Yolox, "rgb" => Inputs.RgbNormalised, "stretch" => Inputs.Stretch,
        _ => throw new ArgumentException(name),
    };

    /// <summary>Largest difference in 8-bit input units: tensor difference × the channel's std.</summary>
    internal static double MaxLsb(float[] expected, float[] actual, InputContract c, int plane)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)expected[i] - actual[i]) * c.Std[i / plane];
            if (double.IsNaN(d)) return double.PositiveInfinity;
            worst = Math.Max(worst, d);
        }
        return worst;
    }

    private static double Variance(float[] v)
    {
        double mean = v.Average(x => (double)x);
        return v.Average(x => (x - mean) * (x - mean));
    }
}

/// <summary>A theory that needs a Vulkan driver (skipped only when none is installed; see <see cref="VulkanFactAttribute"/>).</summary>
public sealed class VulkanTheoryAttribute : TheoryAttribute
{
    public VulkanTheoryAttribute() => Skip = new VulkanFactAttribute().Skip;
}
