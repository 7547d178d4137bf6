using System.Diagnostics;
using System.Globalization;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference;
using Ephemera.Inference.Preprocess;
using Ephemera.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace Ephemera.Bench;

/// <summary>
/// Where the in-engine detector's cost goes against a bare ONNX Runtime loop (issue 17): one thread,
/// one real frame preprocessed at the engine's input, and per round, back to back on the same
/// thread: the bare loop's run (as the bench's <c>Ceilings.DetectIps</c>: a <c>NamedOnnxValue</c>
/// run on its own session), the engine's whole worker step
/// (<see cref="ObjectDetector.InferAndDecode"/>: bound run, box decode, tensor wipe), and the
/// engine step's parts alone (bound run; decode; wipe). Thread CPU time (robust under load) and
/// wall time, medians and sums; <c>--decoders N</c> adds N looping decoders at nice 0 (the engine's
/// camera threads) to show contention.
/// <c>dotnet bench/Ephemera.Bench/bin/Release/net10.0/Ephemera.Bench.dll engine-gap [--rounds 40] [--size 416x320] [--decoders 0] [--nice 0] [--input VIDEO]</c>
/// </summary>
internal static class EngineGap
{
    public static int Run(string[] args)
    {
        int rounds = 40, w = 416, h = 320, decoders = 0, nice = 0;
        string input = Path.Combine(RepoPaths.Var, "data", "vtest.avi");
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds" when i + 1 < args.Length: rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--decoders" when i + 1 < args.Length: decoders = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--nice" when i + 1 < args.Length: nice = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--input" when i + 1 < args.Length: input = args[++i]; break;
                case "--size" when i + 1 < args.Length:
                    var p = args[++i].Split('x');
                    w = int.Parse(p[0], CultureInfo.InvariantCulture); h = int.Parse(p[1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"engine-gap: unknown argument {args[i]}"); return 2;
            }
        }
        var options = new InferenceOptions("cpu", intraOpThreads: 1, parallelRuns: 1); // one run per core, as the engine's CPU default
        using var detector = ObjectDetector.Open(new DetectorOptions { Inference = options, MaxBatch = 1, InputWidth = w, InputHeight = h });
        using var bare = ModelSession.Open(detector.Model.Name, options, dynamicBatch: true);
        var bank = detector.CreateBank();
        // The same dynamic graph with its free dimensions pinned to this size: ORT then plans it as a static graph.
        using var fixedOptions = options.CreateSessionOptions();
        fixedOptions.AddFreeDimensionOverrideByName("batch", 1);
        fixedOptions.AddFreeDimensionOverrideByName("height", h);
        fixedOptions.AddFreeDimensionOverrideByName("width", w);
        using var pinned = new InferenceSession(bare.ModelPath, fixedOptions);
        var pre = detector.CreatePreprocessor();

        // One real frame: the engine's tensor is refilled from it before every engine step (the step wipes it).
        byte[] frame; int fw, fh;
        using (var video = VideoSource.Open(input, new SourceOptions { DecoderThreads = 1 }))
        {
            FrameLease? lease;
            while (video.Read(out lease) != ReadStatus.Frame) { }
            using (lease!) { var v = lease!.View; fw = v.Width; fh = v.Height; frame = Yuv(v); }
        }
        FrameView View() => new(fw, fh, PixelFormat.Yuv420P, frame.AsSpan(0, fw * fh), fw,
            frame.AsSpan(fw * fh, fw * fh / 4), fw / 2, frame.AsSpan(fw * fh * 5 / 4, fw * fh / 4), fw / 2);
        var placement = new TensorPlacement[1];
        var outputs = new Detections?[] { new Detections() };
        void Fill() => placement[0] = pre.Run(View(), bank.Slot(0));

        var bareInput = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(new[] { 1, 3, h, w });
        Fill(); bank.Slot(0).CopyTo(bareInput.Buffer.Span);
        NamedOnnxValue[] bareInputs = [NamedOnnxValue.CreateFromTensor(detector.Model.Input.Tensor, bareInput)];

        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, decoders).Select(_ => new Thread(() =>
        {
            using var src = VideoSource.Open(input, SourceOptions.Default with { Loop = true, DecoderThreads = 1 });
            while (!stop.IsCancellationRequested) if (src.Read(out var f) == ReadStatus.Frame) f!.Dispose();
        }) { IsBackground = true }).ToList();
        load.ForEach(t => t.Start());

        var names = new[] { "bare Run (NamedOnnxValue)", "engine step (InferAndDecode)", "  bound run only", "  box decode only", "  wipe only", "bare Run, free dims pinned" };
        var cpu = names.Select(_ => new List<double>()).ToArray();
        var wall = names.Select(_ => new List<double>()).ToArray();
        void Time(int k, bool keep, Action a)
        {
            long c0 = ThreadCpuClock.NowNs(), t0 = Stopwatch.GetTimestamp();
            a();
            long t1 = Stopwatch.GetTimestamp(), c1 = ThreadCpuClock.NowNs();
            if (!keep) return;
            cpu[k].Add((c1 - c0) / 1e6); wall[k].Add((t1 - t0) * 1000.0 / Stopwatch.Frequency);
        }
        var session = detector.Session.Session;
        if (nice > 0) ThreadNice.TrySetCurrent(nice); // the batcher's workers run at nice 5
        for (int r = 0; r < rounds + 3; r++)
        {
            bool keep = r >= 3; // the first rounds warm up (JIT, ORT's first-run planning)
            Time(0, keep, () => { using var res = bare.Session.Run(bareInputs); });
            Fill();
            Time(1, keep, () => detector.InferAndDecode(bank, 1, placement, outputs));
            Fill();
            Time(2, keep, () => session.RunWithBinding(bank.RunOptions, bank.Binding(1)));
            Time(3, keep, () => bank.Decoder.Yolox!.Decode(bank.Output.AsSpan(0, bank.OutputFloatsPerImage), placement[0], outputs[0]!));
            Time(4, keep, () => bank.Wipe(1));
            Time(5, keep, () => { using var res = pinned.Run(bareInputs); });
        }
        stop.Cancel();
        load.ForEach(t => t.Join());

        static double Median(List<double> v) { var s = v.Order().ToList(); return s.Count == 0 ? 0 : s[s.Count / 2]; }
        Console.WriteLine($"engine-gap: {detector.Model.Name} at {w}x{h}, {rounds} rounds, 1 intra-op thread, spinning off, {decoders} looping decoders, nice {nice}, {Environment.ProcessorCount} cores");
        Console.WriteLine($"{"",-30} {"cpu med ms",10} {"cpu sum ms",11} {"wall med ms",11}");
        for (int k = 0; k < names.Length; k++)
            Console.WriteLine($"{names[k],-30} {Median(cpu[k]),10:F3} {cpu[k].Sum(),11:F1} {Median(wall[k]),11:F3}");
        Console.WriteLine($"engine/bare thread-CPU ratio: median {Median(cpu[1]) / Median(cpu[0]):F3}, sum {cpu[1].Sum() / cpu[0].Sum():F3}; " +
                          $"bound run/bare: median {Median(cpu[2]) / Median(cpu[0]):F3}");
        pre.Dispose();
        Array.Clear(frame); bareInput.Buffer.Span.Clear(); // pixels and pixel-derived floats: wiped before they go
        return 0;
    }

    private static byte[] Yuv(in FrameView v)
    {
        if (v.Format != PixelFormat.Yuv420P) throw new EphemeraException($"engine-gap: expects a YUV420P clip, got {v.Format}");
        var d = new byte[v.Width * v.Height * 3 / 2];
        for (int y = 0; y < v.Height; y++) v.Plane0.Slice(y * v.Stride0, v.Width).CopyTo(d.AsSpan(y * v.Width));
        int cw = v.Width / 2, ch = v.Height / 2, u = v.Width * v.Height, vv = u + cw * ch;
        for (int y = 0; y < ch; y++)
        {
            v.Plane1.Slice(y * v.Stride1, cw).CopyTo(d.AsSpan(u + y * cw));
            v.Plane2.Slice(y * v.Stride2, cw).CopyTo(d.AsSpan(vv + y * cw));
        }
        return d;
    }
}
