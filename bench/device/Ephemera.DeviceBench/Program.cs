using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ephemera.Anonymisation;
using Ephemera.Core;
using Ephemera.Inference.Preprocess;
using Ephemera.Vulkan;

namespace Ephemera.DeviceBench;

/// <summary>
/// Measures the Vulkan kernels on this machine's best Vulkan device against the SIMD kernels on its
/// CPU, back to back, on synthetic 1080p YUV420P frames, and prints one JSON object:
/// preprocess 1080p → 416×256 and the case-4 mask (mosaic and solid, 8 boxes) per frame, transfer
/// included (zero copy and staging where both exist), the wipe check (every GPU buffer that held
/// pixels reads back zero) and the GPU ledger (allocated = wiped).
/// Usage: ephemera-device-bench [frames per measurement, default 60]
/// </summary>
public static class Program
{
    private const int W = 1920, H = 1080, TW = 416, TH = 256;

    public static int Main(string[] args)
    {
        int frames = args.Length > 0 && int.TryParse(args[0], out int n) && n > 0 ? n : 60;
        var result = new JsonObject { ["frames_per_figure"] = frames, ["frame"] = $"{W}x{H} yuv420p", ["tensor"] = $"{TW}x{TH}" };
        try { Run(frames, result); }
        catch (VulkanUnavailableException e)
        {
            result["vulkan_error"] = e.Message;
            Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 3;
        }
        Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return result["wipe_ok"]?.GetValue<bool>() == true && result["ledger_balanced"]?.GetValue<bool>() == true ? 0 : 1;
    }

    private static void Run(int frames, JsonObject result)
    {
        var ledger0 = GpuLedger.Take();
        using var frameSet = new FrameSet(4);
        var slot = new float[3 * TW * TH];
        var contract = KernelSelection.MeasureContract;

        using (var simd = new FramePreprocessor(contract, TW, TH))
            result["simd_preprocess_ms"] = PerFrame(frames, i => simd.Run(frameSet[i].View, slot));
        result["simd_mask_mosaic_ms"] = PerFrame(frames, i => CpuMask(frameSet[i].Planes, MaskStyle.Mosaic));
        result["simd_mask_solid_ms"] = PerFrame(frames, i => CpuMask(frameSet[i].Planes, MaskStyle.SolidFill));

        bool wipeOk = true;
        foreach (bool zeroCopy in new[] { true, false })
        {
            using var kernels = VulkanKernels.Open(zeroCopy);
            if (zeroCopy) // the first pass opens the device with host import allowed: its facts
            {
                result["device"] = kernels.Device.Name;
                result["device_kind"] = kernels.Device.Kind.ToString();
                result["host_import"] = kernels.Device.CanImportHostMemory;
                result["import_alignment"] = kernels.Device.ImportAlignment;
            }
            if (zeroCopy && !kernels.ZeroCopy) { result["zero_copy"] = "unsupported: staging only"; continue; }
            string path = zeroCopy ? "zero_copy" : "staging";
            using var pre = (VulkanPreprocessor)kernels.Create(contract, TW, TH);
            result[$"vulkan_preprocess_{path}_ms"] = PerFrame(frames, i => pre.Run(frameSet[i].View, slot));
            result[$"vulkan_preprocess_{path}_path"] = pre.LastPath.ToString();
            wipeOk &= AllZero(pre.OutputBuffer) && (pre.StagingBuffer == null || AllZero(pre.StagingBuffer));
            using var masker = new VulkanMasker(kernels);
            result[$"vulkan_mask_mosaic_{path}_ms"] = PerFrame(frames, i => masker.Apply(frameSet[i].Planes, Boxes, new MaskOptions(MaskStyle.Mosaic)));
            result[$"vulkan_mask_solid_{path}_ms"] = PerFrame(frames, i => masker.Apply(frameSet[i].Planes, Boxes, new MaskOptions(MaskStyle.SolidFill)));
            wipeOk &= masker.StagingBuffer == null || AllZero(masker.StagingBuffer);
            wipeOk &= PoolWipeCheck(kernels);
        }
        Array.Clear(slot);
        var ledger = GpuLedger.Take();
        result["wipe_ok"] = wipeOk;
        result["gpu_buffers_allocated"] = ledger.Allocated - ledger0.Allocated;
        result["gpu_buffers_wiped"] = ledger.Wiped - ledger0.Wiped;
        result["ledger_balanced"] = ledger.Allocated - ledger0.Allocated == ledger.Wiped - ledger0.Wiped;
    }

    // Eight face/plate-sized boxes spread over the frame.
    private static readonly BoxF[] Boxes = Enumerable.Range(0, 8).Select(i => new BoxF(100 + i * 220, 150 + (i % 3) * 250, 60 + i * 12, 80 + i * 10)).ToArray();

    private static long CpuMask(YuvPlanes p, MaskStyle style)
    {
        long n = 0;
        var o = new MaskOptions(style);
        foreach (var b in Boxes) n += Masker.Apply(p, b, o);
        return n;
    }

    /// <summary>Rents a buffer, fills it with a pattern as pixels, returns it and reads it back.</summary>
    private static unsafe bool PoolWipeCheck(VulkanKernels k)
    {
        var b = k.Pool.Rent(8 << 20);
        new Span<byte>(b.Pointer, 8 << 20).Fill(0x5A);
        b.OnPixelsWritten();
        k.Pool.Return(b);
        return AllZero(b);
    }

    private static unsafe bool AllZero(GpuBuffer b) => new ReadOnlySpan<byte>(b.Pointer, checked((int)b.Size)).IndexOfAnyExcept((byte)0) < 0;

    /// <summary>Median ms per call over <paramref name="frames"/> calls after three warm-up calls.</summary>
    private static double PerFrame(int frames, Action<int> run)
    {
        for (int i = 0; i < 3; i++) run(i);
        var t = new double[frames];
        for (int i = 0; i < frames; i++)
        {
            long s = Stopwatch.GetTimestamp();
            run(i);
            t[i] = Stopwatch.GetElapsedTime(s).TotalMilliseconds;
        }
        Array.Sort(t);
        return Math.Round(t[frames / 2], 3);
    }

    /// <summary>A few different synthetic frames, cycled (the masks change them; that does not change the work).</summary>
    private sealed class FrameSet(int count) : IDisposable
    {
        private readonly SyntheticFrame[] _frames = Enumerable.Range(0, count).Select(i => SyntheticFrame.Create(W, H, seed: 100 + i)).ToArray();
        public SyntheticFrame this[int i] => _frames[i % _frames.Length];
        public void Dispose() { foreach (var f in _frames) f.Dispose(); }
    }
}
