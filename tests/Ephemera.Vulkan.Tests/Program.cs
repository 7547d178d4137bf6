using Ephemera.Config;
using Ephemera.Inference.Preprocess;

namespace Ephemera.Vulkan.Tests;

/// <summary>
/// Entry point used only when a test re-runs this assembly as a child process (the loader reads
/// VK_ICD_FILENAMES once, at load): <c>fallback</c> selects <c>kernels: vulkan</c> the way the engine
/// does and runs the preprocess with whatever was chosen, printing what happened.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is not ["fallback"]) { Console.Error.WriteLine("usage: Ephemera.Vulkan.Tests fallback"); return 2; }
        try { using var d = VulkanDevice.Open(); Console.WriteLine($"device: {d}"); }
        catch (VulkanUnavailableException e) { Console.WriteLine($"open error: {e.Message}"); }

        var kernels = KernelSelection.Select(KernelChoice.Vulkan, line => Console.WriteLine($"log: {line}"));
        using var pre = kernels?.Create(Inputs.Yolox, 416, 256) ?? new FramePreprocessor(Inputs.Yolox, 416, 256);
        using var frame = SyntheticFrame.Create(1920, 1080, seed: 3);
        var slot = new float[pre.SlotLength];
        var placement = pre.Run(frame.View, slot);
        Console.WriteLine($"ran: {pre.GetType().Name} {placement.ResizedWidth}x{placement.ResizedHeight} nonzero={slot.Count(v => v != 0f && v != 114f)}");
        (kernels as IDisposable)?.Dispose();
        return 0;
    }
}
