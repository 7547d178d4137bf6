using Ephemera.Analytics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference;
using Ephemera.Runtime.Scheduling;
using Ephemera.TestSupport;
using Ephemera.Tracking;
using Xunit.Abstractions;

namespace Ephemera.Runtime.Tests;

/// <summary>
/// The by-need schedule against the full rate on real clips: every frame decoded, the detector run
/// on every due frame (5 per second, as the demo), and two pipelines fed from it — full rate gets
/// every detection; by need gets only those its <see cref="DetectionScheduler"/> asks for, and the
/// tracker predicts through the rest, as a camera does (analytics see the detected frames only). Both count the same line. One detector run
/// serves both, so the test costs one full-rate pass.
/// </summary>
[Collection("engine")]
public sealed class ScheduleByNeedTests(ITestOutputHelper output)
{
    private static readonly ScheduleOptions ByNeed = new() { Mode = ScheduleMode.ByNeed };

    [Fact]
    public void PlazaCountsByNeedStayWithinTwoPercentOfFullRate()
    {
        // The demo's plaza-west line (configs/demo.yaml): people cross it all the time.
        var r = Replay(TestPaths.Video("vtest.avi"), 416, 320, new LineConfig("west", 300, 0, 300, 576));
        AssertWithinTwoPercent(r);
    }

    [Fact]
    public void IdleHeavyCountsByNeedStayWithinTwoPercentAndDetectFarLess()
    {
        // One visitor at a time walks up to a table, stays, and leaves; the bench's line, down the middle.
        var r = Replay(TestPaths.Video("one-by-one-person-detection.mp4"), 416, 256, new LineConfig("middle", 384, 0, 384, 432));
        AssertWithinTwoPercent(r);
        // Long empty or still stretches, a visitor sitting beside the line: the schedule must actually save work there (158 of 697).
        Assert.True(r.ByNeedDetections < 0.3 * r.FullDetections, $"by need ran {r.ByNeedDetections} of {r.FullDetections} detections");
    }

    private void AssertWithinTwoPercent(ReplayResult r)
    {
        output.WriteLine($"full: in {r.Full.In} out {r.Full.Out} ({r.FullDetections} detections); by need: in {r.ByNeed.In} out {r.ByNeed.Out} " +
                         $"({r.ByNeedDetections} detections); triggers {r.Triggers}");
        int full = r.Full.In + r.Full.Out, byNeed = r.ByNeed.In + r.ByNeed.Out;
        Assert.True(full >= 4, $"the line should be crossed ({full} at full rate)");
        Assert.InRange(byNeed, Math.Floor(full * 0.98), Math.Ceiling(full * 1.02));
        Assert.InRange(r.ByNeed.In, Math.Floor(r.Full.In * 0.98), Math.Ceiling(r.Full.In * 1.02));
        Assert.InRange(r.ByNeed.Out, Math.Floor(r.Full.Out * 0.98), Math.Ceiling(r.Full.Out * 1.02));
    }

    private sealed record ReplayResult(LineCounts Full, LineCounts ByNeed, int FullDetections, int ByNeedDetections, string Triggers);

    private static ReplayResult Replay(string clip, int inputWidth, int inputHeight, LineConfig line)
    {
        using var detector = ObjectDetector.Open(new DetectorOptions { InputWidth = inputWidth, InputHeight = inputHeight, Decode = new Inference.Postprocess.DecodeOptions(0.1f) });
        using var source = VideoSource.Open(clip);
        double fps = source.FrameRate > 0 ? source.FrameRate : 25;
        int every = Math.Max(1, (int)Math.Round(fps / 5)); // 5 due detections per second
        var lineOptions = new CountingLineOptions(new Point2(line.X1, line.Y1), new Point2(line.X2, line.Y2), name: line.Name);
        var fullTracker = new MultiObjectTracker(TrackerOptions.Default);
        var needTracker = new MultiObjectTracker(TrackerOptions.Default);
        var fullCounter = new LineCounter(lineOptions);
        var needCounter = new LineCounter(lineOptions);
        using var scheduler = new DetectionScheduler(ByNeed, fps / every, [new DetectionScheduler.GuardSegment(lineOptions.Start, lineOptions.End, lineOptions.Anchor)]);
        var dets = new Detections();
        int fullRuns = 0, needRuns = 0;
        while (source.Read(out var frame) == ReadStatus.Frame)
        {
            long index;
            bool detect;
            using (frame)
            {
                index = frame!.Index;
                if (index % every != 0) continue;
                detector.Detect(frame.View, dets);
                detect = scheduler.Decide(frame.View, index / fps) != ScheduleTrigger.None;
                if (detect) scheduler.Detected();
            }
            fullRuns++;
            double t = index / fps;
            fullCounter.Update(fullTracker.Update(dets, index), fullTracker.RemovedIds, t);
            if (detect)
            {
                needRuns++;
                var tracks = needTracker.Update(dets, index);
                needCounter.Update(tracks, needTracker.RemovedIds, t);
                scheduler.ObserveTracks(tracks, detected: true);
            }
            else
            {
                // As a camera does: the tracker predicts, analytics see only detected frames (and removals).
                var tracks = needTracker.Predict(index);
                if (needTracker.RemovedIds.Length > 0) needCounter.Update([], needTracker.RemovedIds, t);
                scheduler.ObserveTracks(tracks, detected: false);
            }
        }
        string triggers = string.Join(", ", Enum.GetValues<ScheduleTrigger>().Select(k => $"{k} {scheduler.Decisions(k)}"));
        return new ReplayResult(fullCounter.Snapshot(), needCounter.Snapshot(), fullRuns, needRuns, triggers);
    }
}
