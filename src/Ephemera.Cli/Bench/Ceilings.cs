using System.Diagnostics;
using Ephemera.Decode;
using Ephemera.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Ephemera.Cli.Bench;

/// <summary>
/// The machine's raw ceilings for a workload, measured in the same run as the benchmark: how fast
/// FFmpeg (through the engine's decoder, no pacing, no detection) decodes the source with every
/// core busy, and how many images per second ONNX Runtime alone runs through the model (a bare
/// <c>Run</c> loop on a preallocated input, same provider and threads as the engine).
/// </summary>
public static class Ceilings
{
    /// <summary>Total decoded frames per second with <paramref name="parallel"/> single-threaded decoders.</summary>
    public static double DecodeFps(string source, double seconds, int parallel)
    {
        long frames = 0;
        var sw = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, parallel).Select(_ => new Thread(() =>
        {
            using var src = VideoSource.Open(source, SourceOptions.Default with { Loop = true, DecoderThreads = 1 });
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                if (src.Read(out var f) == ReadStatus.Frame) { f!.Dispose(); Interlocked.Increment(ref frames); }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return frames / sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Images per second of bare ONNX Runtime batch-1 run loops on the model, with
    /// <see cref="InferenceOptions.EffectiveParallelRuns"/> loops at once on one session (the layout the
    /// engine's batcher uses; on CPU one single-threaded loop per core, ORT's fastest layout for a
    /// small CNN). <paramref name="width"/>×<paramref name="height"/> 0 = the model's own input on its
    /// static graph; another size runs the dynamic-size graph.
    /// </summary>
    public static double DetectIps(string model, InferenceOptions options, double seconds, int width = 0, int height = 0) =>
        DetectLoops(model, options, seconds, width, height).ImagesPerSecond;

    /// <summary>
    /// The bare loops of <see cref="DetectIps"/> and what one image cost them: the loop threads' own
    /// CPU time per image (ONNX Runtime runs on the calling thread with one intra-op thread, the CPU
    /// default; with more, its pool's work is not counted) and wall time per image per loop.
    /// </summary>
    public static DetectLoopFigures DetectLoops(string model, InferenceOptions options, double seconds, int width = 0, int height = 0)
    {
        bool resized = width > 0 || height > 0;
        using var session = ModelSession.Open(model, options, dynamicBatch: resized);
        var e = session.Entry;
        int h = height > 0 ? height : e.Input.Height, w = width > 0 ? width : e.Input.Width;
        NamedOnnxValue[] Inputs() // one per loop: runs share the session, not their tensors
        {
            var input = new DenseTensor<float>(new[] { 1, 3, h, w });
            var rng = new Random(1);
            var buf = input.Buffer.Span;
            for (int i = 0; i < buf.Length; i++) buf[i] = rng.Next(256);
            return [NamedOnnxValue.CreateFromTensor(e.Input.Tensor, input)];
        }
        using (session.Session.Run(Inputs())) { } // warm-up
        long n = 0, cpuNs = 0;
        int loopsRun = options.EffectiveParallelRuns;
        var sw = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, loopsRun).Select(_ => new Thread(() =>
        {
            var inputs = Inputs();
            long c0 = Core.ThreadCpuClock.NowNs();
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                using var r = session.Session.Run(inputs);
                Interlocked.Increment(ref n);
            }
            Interlocked.Add(ref cpuNs, Core.ThreadCpuClock.NowNs() - c0);
        })).ToList();
        loops.ForEach(t => t.Start());
        loops.ForEach(t => t.Join());
        double ips = n / sw.Elapsed.TotalSeconds;
        return new DetectLoopFigures(ips, n == 0 ? 0 : cpuNs / 1e6 / n, ips > 0 ? loopsRun * 1000 / ips : 0);
    }
}

/// <summary>Bare run loops: images/s in all, thread-CPU ms per image, wall ms per image per loop.</summary>
public readonly record struct DetectLoopFigures(double ImagesPerSecond, double CpuMsPerImage, double WallMsPerImage);
