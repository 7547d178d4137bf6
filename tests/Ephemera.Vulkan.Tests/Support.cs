using System.Runtime.InteropServices;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference.Models;
using Ephemera.TestSupport;

// One test at a time: the ledger tests compare process-wide counts, and the machine has two cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Ephemera.Vulkan.Tests;

/// <summary>
/// A fact that needs a Vulkan driver. It is skipped only when none is installed at all (no loader
/// library or no ICD manifest), never because a present driver fails: CI installs Mesa's lavapipe,
/// so there these tests run and a broken driver fails them.
/// </summary>
public sealed class VulkanFactAttribute : FactAttribute
{
    public VulkanFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("VK_ICD_FILENAMES") is { Length: > 0 }) return; // chosen on purpose: run
        bool loader = NativeLibrary.TryLoad("libvulkan.so.1", out var h);
        if (loader) NativeLibrary.Free(h);
        bool icd = new[] { "/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d" }
            .Any(d => Directory.Exists(d) && Directory.EnumerateFiles(d, "*.json").Any());
        if (!loader || !icd) Skip = $"no Vulkan driver installed (loader {(loader ? "found" : "missing")}, ICD manifest {(icd ? "found" : "missing")}): apt-get install libvulkan1 mesa-vulkan-drivers";
    }
}

/// <summary>Shared inputs: contracts and real decoded frames.</summary>
internal static class Inputs
{
    /// <summary>YOLOX: BGR, 0..255, pad 114.</summary>
    public static readonly InputContract Yolox = new("images", 416, 416, false, [0f, 0f, 0f], [1f, 1f, 1f], ResizeRule.Letterbox, 114f, true);
    /// <summary>An ImageNet-normalised RGB model, to check channel order, mean and std.</summary>
    public static readonly InputContract RgbNormalised = new("input", 320, 320, true, [123.675f, 116.28f, 103.53f], [58.395f, 57.12f, 57.375f], ResizeRule.Letterbox, 0f, true);
    /// <summary>A stretched (no letterbox) input.</summary>
    public static readonly InputContract Stretch = new("input", 320, 240, false, [0f, 0f, 0f], [255f, 255f, 255f], ResizeRule.Stretch, 0f, false);

    public static string Vtest
    {
        get
        {
            string local = Path.Combine(RepoPaths.Var, "data", "vtest.avi");
            return File.Exists(local) ? local : TestPaths.Video("vtest.avi");
        }
    }

    public static string AdlRundle6 => TestPaths.Mot15(Path.Combine("ADL-Rundle-6", "video.mp4"));

    /// <summary>Decodes <paramref name="count"/> frames, <paramref name="every"/> apart, handing each lease (native pool memory) to <paramref name="use"/>.</summary>
    public static int ForFrames(string path, int count, int every, Action<FrameLease> use)
    {
        using var source = VideoSource.Open(path, SourceOptions.Default with { Hardware = HardwareDecode.None, Paced = false });
        int seen = 0, used = 0;
        while (used < count && source.Read(out var lease) == ReadStatus.Frame)
        {
            using (lease!)
            {
                if (seen++ % every == 0) { use(lease!); used++; }
            }
        }
        return used;
    }
}
