using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Inference;
using Ephemera.Inference.Models;
using Ephemera.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace Ephemera.Bench;

/// <summary>
/// Engine vs bare ORT on a shared, loaded machine: BenchmarkDotNet runs the two methods minutes apart,
/// so load swings between them dominate. This alternates them (bare, engine, bare, engine, …) so
/// both see the same load, and reports medians and the ratio.
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- paired-detector [ROUNDS] [THREADS] [spin|nospin]</c>
/// </summary>
public static class PairedDetectorThroughput
{
    public static void Run(int rounds, int threads, bool spinning = true)
    {
        var frame = SyntheticFrame.Yuv420P();
        var options = new InferenceOptions("cpu", threads, allowSpinning: spinning);
        using var detector = ObjectDetector.Open(new DetectorOptions { Inference = options, MaxBatch = 1 });
        using var so = options.CreateSessionOptions();
        var files = new ModelFetcher().Fetch(ModelCatalog.Load().Get("yolox_nano_coco_416"));
        using var bare = new InferenceSession(files.OriginalPath, so);
        var input = new float[3 * 416 * 416];
        detector.CreatePreprocessor().Run(SyntheticFrame.View(frame), input);
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, 416, 416]);
        using var ro = new RunOptions();
        var dets = new Detections();
        var tb = new List<double>(); var te = new List<double>();
        for (int i = 0; i < rounds + 3; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            using (bare.Run(ro, ["images"], [value], ["output"])) { }
            long t1 = Stopwatch.GetTimestamp();
            detector.Detect(SyntheticFrame.View(frame), dets);
            long t2 = Stopwatch.GetTimestamp();
            if (i < 3) continue; // warm-up
            tb.Add((t1 - t0) * 1000.0 / Stopwatch.Frequency); te.Add((t2 - t1) * 1000.0 / Stopwatch.Frequency);
        }
        static double Median(List<double> v) { var s = v.Order().ToList(); return s[s.Count / 2]; }
        double mb = Median(tb), me = Median(te);
        Console.WriteLine($"paired, {rounds} rounds, {threads} intra-op threads, spinning {spinning}: bare ORT Run median {mb:F1} ms ({1000 / mb:F1} img/s), " +
                          $"engine Detect (1080p YUV420P in, boxes out) median {me:F1} ms ({1000 / me:F1} img/s); engine/bare throughput = {mb / me:F2}");
    }
}
