using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Evaluation;
using Ephemera.Inference;
using Ephemera.TestSupport;
using Ephemera.Tracking;
using Xunit.Abstractions;

namespace Ephemera.Runtime.Tests;

/// <summary>
/// ADL-Rundle-6 (1080p30, 24 people, ground truth) through the engine's own path: native decode →
/// YOLOX-Nano at 640 (the 1080p choice: small people are lost at 416) → live tracker → counting
/// line, compared with the same analyser run on the ground-truth tracks.
/// </summary>
[Collection("engine")]
public sealed class EndToEndAccuracyTests(ITestOutputHelper output)
{
    [Fact]
    public void AdlRundle6CountsAtX960AgreeWithGroundTruthAndTracksScore()
    {
        var gtRows = MotChallenge.Read(TestPaths.Mot15("ADL-Rundle-6/gt/gt.txt"));
        var line = new CountingLineOptions(new Point2(960, 0), new Point2(960, 1080), name: "x960");

        var gtCounter = new LineCounter(line);
        MotReplay.Run(gtRows, gtCounter, fps: 30);
        var gt = gtCounter.Snapshot();

        using var detector = ObjectDetector.Open(new DetectorOptions
        {
            InputWidth = 640, InputHeight = 640, Decode = new Inference.Postprocess.DecodeOptions(0.1f),
        });
        using var source = VideoSource.Open(TestPaths.Mot15("ADL-Rundle-6/video.mp4"));
        var tracker = new MultiObjectTracker(TrackerOptions.Live);
        var engineCounter = new LineCounter(line);
        var dets = new Detections();
        var results = new List<MotRow>();
        while (source.Read(out var frame) == ReadStatus.Frame)
        {
            long index;
            using (frame)
            {
                index = frame!.Index;
                detector.Detect(frame.View, dets); // the lease is released right after: pixels wiped
            }
            var people = new bool[dets.Count];
            for (int i = 0; i < dets.Count; i++) people[i] = dets.ClassIds[i] == CocoClasses.Person;
            dets.Filter(people);
            var tracks = tracker.Update(dets, index);
            engineCounter.Update(tracks, tracker.RemovedIds, index / 30.0);
            foreach (var t in tracks)
                if (t.State == TrackState.Confirmed && t.Observed) results.Add(new MotRow((int)index + 1, t.TrackId, t.Box, t.Score));
        }
        var engine = engineCounter.Snapshot();
        var m = MotEvaluator.Evaluate(gtRows, results);
        output.WriteLine($"x=960 gt in {gt.In} out {gt.Out}; engine in {engine.In} out {engine.Out}");
        output.WriteLine($"HOTA {m.Hota:0.000} DetA {m.DetA:0.000} AssA {m.AssA:0.000} MOTA {m.Mota:0.000} IDF1 {m.Idf1:0.000} IDSW {m.Idsw} FP {m.Fp} FN {m.Fn}");

        Assert.True(gt.In + gt.Out >= 10, "ground truth should show people crossing the middle");
        Assert.InRange(engine.In, gt.In - 2, gt.In + 2);
        Assert.InRange(engine.Out, gt.Out - 2, gt.Out + 2);
        // Regression guard: the end-to-end result measured when this test was written was HOTA 0.376, MOTA 0.50.
        Assert.True(m.Hota > 0.33, $"HOTA {m.Hota:0.000}");
        Assert.True(m.Mota > 0.40, $"MOTA {m.Mota:0.000}");
    }
}
