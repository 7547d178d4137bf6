using System.Diagnostics;
using Ephemera.Decode;
using Ephemera.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Ephemera.Runtime;

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

    /// <summary>Images per second of a bare ONNX Runtime batch-1 run loop on the model.</summary>
    public static double DetectIps(string model, InferenceOptions options, double seconds, int inputSize = 0)
    {
        // The static graph at the model's size; the dynamic-size graph only when another size is asked for.
        using var session = ModelSession.Open(model, options, dynamicBatch: inputSize > 0);
        var e = session.Entry;
        int h = inputSize > 0 ? inputSize : e.Input.Height, w = inputSize > 0 ? inputSize : e.Input.Width;
        var input = new DenseTensor<float>(new[] { 1, 3, h, w });
        var rng = new Random(1);
        var buf = input.Buffer.Span;
        for (int i = 0; i < buf.Length; i++) buf[i] = rng.Next(256);
        var inputs = new[] { NamedOnnxValue.CreateFromTensor(e.Input.Tensor, input) };
        using (session.Session.Run(inputs)) { } // warm-up
        long n = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            using var r = session.Session.Run(inputs);
            n++;
        }
        return n / sw.Elapsed.TotalSeconds;
    }
}
