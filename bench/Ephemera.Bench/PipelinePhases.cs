using System.Globalization;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference;
using Ephemera.Inference.Runtime;
using Ephemera.Tracking;

namespace Ephemera.Bench;

/// <summary>
/// The harness <c>bench/callgrind</c> runs under <c>valgrind --tool=callgrind</c>: one clip through
/// decode → preprocess → detect → track on one thread, as four phases separated by
/// <see cref="ProfileMark"/> so callgrind writes one profile per phase. Each phase repeats the work
/// of the one before and adds one stage, because frames are wiped as soon as a stage is done with
/// them (a stage cannot run later on frames kept aside):
/// <list type="number">
/// <item><c>decode</c>: read N frames, release each;</item>
/// <item><c>preprocess</c>: the same N frames, each preprocessed into a wiped pixel buffer;</item>
/// <item><c>detect</c>: the same N frames through the detector (preprocess, inference, box decode, NMS);</item>
/// <item><c>track</c>: the tracker over the N frames' detections (no pixels involved).</item>
/// </list>
/// A stage's cost is its phase minus the phase before (track is its own). A warm-up over two frames
/// first compiles every method and lets ONNX Runtime make its first-run allocations.
/// Usage: <c>Ephemera.Bench pipeline-phases --input VIDEO [--frames N]</c>.
/// </summary>
internal static class PipelinePhases
{
    public static int Run(string[] args)
    {
        string? input = null;
        int frames = 12;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--input" when i + 1 < args.Length: input = args[++i]; break;
                case "--frames" when i + 1 < args.Length: frames = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"pipeline-phases: unknown argument {args[i]}"); return 2;
            }
        }
        if (input == null || !File.Exists(input)) { Console.Error.WriteLine($"pipeline-phases: --input VIDEO is required and must exist (got {input ?? "nothing"})"); return 2; }
        if (frames < 1) { Console.Error.WriteLine($"pipeline-phases: --frames must be >= 1, got {frames}"); return 2; }

        // One thread everywhere: instruction counts then repeat exactly on the same binary and input.
        var source = new SourceOptions { DecoderThreads = 1 };
        var perFrame = new Detections[frames];
        for (int i = 0; i < frames; i++) perFrame[i] = new Detections();
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        int decoded = RunPhases(input, source, frames, perFrame, tracker);

        var l = PixelLedger.Snapshot(); // after the detector and the scratch tensor are disposed: every buffer is back
        long boxes = perFrame.Take(decoded).Sum(d => (long)d.Count);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pipeline-phases: {decoded} frames, {boxes} detections, {tracker.TrackCount} tracks; pixel buffers allocated {l.Allocated}, wiped {l.Wiped}, leaked {l.Leaked}"));
        return decoded == frames && l.Allocated == l.Wiped && l.Leaked == 0 ? 0 : 1;
    }

    private static int RunPhases(string input, SourceOptions source, int frames, Detections[] perFrame, MultiObjectTracker tracker)
    {
        using var detector = ObjectDetector.Open(new DetectorOptions { Inference = new InferenceOptions("cpu", intraOpThreads: 1, parallelRuns: 1), MaxBatch = 1 });
        var pre = detector.CreatePreprocessor();
        using var slot = PixelBuffer.RentReused((nuint)(pre.SlotLength * sizeof(float)));

        Pass(input, source, Math.Min(2, frames), pre, slot, detector, perFrame);  // warm-up: JIT, ORT first run
        Track(tracker, perFrame, Math.Min(2, frames));
        tracker.Reset();

        ProfileMark.At("decode");
        int decoded = Pass(input, source, frames, null, null, null, null);
        ProfileMark.At("preprocess");
        Pass(input, source, frames, pre, slot, null, null);
        ProfileMark.At("detect");
        Pass(input, source, frames, null, null, detector, perFrame);
        ProfileMark.At("track");
        Track(tracker, perFrame, decoded);
        ProfileMark.At("end");
        return decoded;
    }

    /// <summary>Reads up to <paramref name="frames"/> frames; preprocesses and/or detects each when given the means.</summary>
    private static int Pass(string input, SourceOptions options, int frames, Ephemera.Inference.Preprocess.FramePreprocessor? pre, PixelBuffer? slot,
        ObjectDetector? detector, Detections[]? perFrame)
    {
        using var video = VideoSource.Open(input, options);
        int n = 0;
        while (n < frames)
        {
            var status = video.Read(out var lease);
            if (status == ReadStatus.EndOfStream) break;
            if (status != ReadStatus.Frame) continue;
            using (lease!)
            {
                if (pre != null)
                {
                    var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(slot!.DangerousGetSpan());
                    pre.Run(lease!.View, floats);
                    floats.Clear(); // the tensor held pixels: wiped before the next frame, as the detector's banks are
                }
                if (detector != null) detector.Detect(lease!.View, perFrame![n]);
            }
            n++;
        }
        return n;
    }

    private static void Track(MultiObjectTracker tracker, Detections[] perFrame, int frames)
    {
        for (int i = 0; i < frames; i++) tracker.Update(perFrame[i], i + 1);
    }
}
