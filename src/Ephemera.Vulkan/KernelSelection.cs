using System.Diagnostics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Preprocess;

namespace Ephemera.Vulkan;

/// <summary>
/// Turns the engine option <c>kernels: simd | vulkan | auto</c> into the detector's preprocess
/// kernels, once at start, with one log line saying what runs and why:
/// <list type="bullet">
/// <item><description>simd: the CPU kernels (null is returned: the detector's default; no log line).</description></item>
/// <item><description>vulkan: the best Vulkan device, whatever it is (lavapipe included: for
/// correctness checks); no loader, driver, device or compute queue → the cause and SIMD.</description></item>
/// <item><description>auto: Vulkan only on a discrete or integrated GPU that ran the 1080p preprocess
/// faster than SIMD in a short measurement here; otherwise SIMD (a CPU driver never wins).</description></item>
/// </list>
/// The caller owns a returned <see cref="VulkanKernels"/> and disposes it after the detector.
/// </summary>
public static class KernelSelection
{
    public static IPreprocessKernels? Select(KernelChoice choice, Action<string> log)
    {
        if (choice == KernelChoice.Simd) return null; // the default: nothing to say
        VulkanKernels kernels;
        try { kernels = VulkanKernels.Open(); }
        catch (VulkanUnavailableException e)
        {
            log($"kernels: {Name(choice)} asked for Vulkan, which is unavailable ({e.Message}); running the SIMD kernels");
            return null;
        }
        if (choice == KernelChoice.Vulkan) { log($"kernels: {kernels.Describe()}"); return kernels; }

        if (!kernels.Device.IsHardware)
        {
            log($"kernels: auto chose simd: the Vulkan device {kernels.Device.Name} is a {kernels.Device.Kind} driver, not a GPU");
            kernels.Dispose();
            return null;
        }
        var (simdMs, gpuMs) = MeasurePreprocess(kernels, frames: 8);
        if (gpuMs < simdMs)
        {
            log($"kernels: auto chose {kernels.Describe()}: 1080p preprocess {gpuMs:F2} ms vs SIMD {simdMs:F2} ms");
            return kernels;
        }
        log($"kernels: auto chose simd: 1080p preprocess on {kernels.Device.Name} {gpuMs:F2} ms vs SIMD {simdMs:F2} ms");
        kernels.Dispose();
        return null;
    }

    private static string Name(KernelChoice c) => c.ToString().ToLowerInvariant();

    /// <summary>The YOLOX-style contract (BGR, 0..255, pad 114) used where no model is at hand.</summary>
    public static InputContract MeasureContract { get; } = new("images", 416, 416, false, [0f, 0f, 0f], [1f, 1f, 1f], ResizeRule.Letterbox, 114f, true);

    /// <summary>Median ms per 1080p YUV420P → 416×256 preprocess, SIMD then Vulkan, on a synthetic frame (no decoder needed).</summary>
    public static (double SimdMs, double VulkanMs) MeasurePreprocess(VulkanKernels kernels, int frames)
    {
        const int W = 1920, H = 1080, TW = 416, TH = 256;
        using var frame = SyntheticFrame.Create(W, H, seed: 1);
        var slot = new float[3 * TW * TH];
        using var simd = new FramePreprocessor(MeasureContract, TW, TH);
        using var gpu = kernels.Create(MeasureContract, TW, TH);
        double simdMs = Median(frames, () => simd.Run(frame.View, slot));
        double gpuMs = Median(frames, () => gpu.Run(frame.View, slot));
        simd.WipeScratch();
        Array.Clear(slot);
        return (simdMs, gpuMs);
    }

    private static double Median(int n, Action run)
    {
        run(); // warm-up: JIT, pipelines, first allocation
        var t = new double[n];
        for (int i = 0; i < n; i++)
        {
            long start = Stopwatch.GetTimestamp();
            run();
            t[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(t);
        return t[n / 2];
    }
}
