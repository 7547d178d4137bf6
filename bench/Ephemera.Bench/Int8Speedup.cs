using Ephemera.Inference.Models;
using Ephemera.Inference.Runtime;

namespace Ephemera.Bench;

/// <summary>
/// fp32 against the project's int8 QDQ graph of YOLOX-Nano, per image, interleaved (fp32, int8, fp32,
/// int8 … so a loaded machine's swings hit both alike) at 416×416 and the engine's fitted inputs
/// (416×320 for 4:3, 416×256 for 16:9), batch 1 and 4, one intra-op thread (the engine's CPU
/// default: one single-threaded run per core). fp32 at 416×416 batch 1 runs the static graph, as the
/// engine's single-frame path does.
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- int8-speedup [ROUNDS] [THREADS]</c>
/// </summary>
public static class Int8Speedup
{
    public static void Run(int rounds, int threads)
    {
        var files = new ModelFetcher().Fetch(ModelCatalog.Load().Get("yolox_nano_coco_416"));
        var options = new InferenceOptions("cpu", threads, parallelRuns: 1);
        Console.WriteLine($"cpu flags: {PrecisionProbe.CpuFlags()}; {threads} intra-op thread(s); {rounds} interleaved rounds of >= 200 ms each; median ms per image");
        Console.WriteLine("input      batch  fp32 ms  int8 ms  int8 speed-up");
        using var int8 = ModelSession.Open(files, options, int8: true);
        using var fp32Static = ModelSession.Open(files, options, dynamicBatch: false);
        using var fp32Dynamic = ModelSession.Open(files, options, dynamicBatch: true);
        foreach (var (w, h) in new[] { (416, 416), (416, 320), (416, 256) })
        foreach (int batch in new[] { 1, 4 })
        {
            var fp32 = w == 416 && h == 416 && batch == 1 ? fp32Static : fp32Dynamic;
            var (f, i) = PrecisionProbe.Measure(fp32, int8, batch, w, h, rounds, roundMs: 200);
            Console.WriteLine($"{w}x{h,-6} {batch,5} {f,8:F2} {i,8:F2} {f / i,10:F2}x");
        }
    }
}
