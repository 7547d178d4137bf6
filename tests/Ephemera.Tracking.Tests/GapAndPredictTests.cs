using Ephemera.Core;

namespace Ephemera.Tracking.Tests;

public class GapAndPredictTests
{
    [Fact]
    public void FrameGapIsPredictedThrough()
    {
        // Moving 8 px/frame; frames 11–19 never arrive. The prediction at frame 20 must still
        // overlap the detection, so the track continues with its id.
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        int id = 0;
        for (long f = 1; f <= 10; f++) id = Scene.Only(tracker.Update(Scene.Frame(Scene.At(0, 0, 8, 0, f)), f)).TrackId;
        var t = Scene.Only(tracker.Update(Scene.Frame(Scene.At(0, 0, 8, 0, 20)), 20));
        Assert.Equal((id, true, TrackState.Confirmed), (t.TrackId, t.Observed, t.State));
    }

    [Fact]
    public void PredictOnlyFramesMoveTracksAndKeepState()
    {
        // Detector every 3rd frame; in between the tracker predicts. The predicted box follows
        // the motion (≈ 5 px/frame) and the track stays confirmed and unobserved.
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        int id = 0;
        for (long f = 1; f <= 60; f++)
        {
            var truth = Scene.At(10, 20, 5, 1, f);
            if (f % 3 == 1)
            {
                var t = Scene.Only(tracker.Update(Scene.Frame(truth), f));
                if (id == 0) id = t.TrackId;
                Assert.Equal((id, true), (t.TrackId, t.Observed));
            }
            else
            {
                var t = Scene.Only(tracker.Predict(f));
                Assert.Equal((id, false, TrackState.Confirmed), (t.TrackId, t.Observed, t.State));
                if (f > 20) Assert.True(BoxF.IoU(t.Box, truth) > 0.8f, $"frame {f}: predicted {t.Box} vs {truth}");
            }
        }
    }

    [Fact]
    public void PredictOnlyRemovesTracksUnobservedTooLong()
    {
        var tracker = new MultiObjectTracker(TrackerOptions.Default with { MaxLostFrames = 10 });
        int id = Scene.Only(tracker.Update(Scene.Frame(Scene.At(0, 0, 1, 0, 1)), 1)).TrackId;
        for (long f = 2; f <= 11; f++) Assert.Equal(1, tracker.Predict(f).Length);
        Assert.Equal(0, tracker.Predict(12).Length);
        Assert.Equal([id], tracker.RemovedIds.ToArray());
    }

    [Fact]
    public void ReUpdateAfterGapRestoresVelocity()
    {
        // ORU: after a 10-frame occlusion the re-found track's velocity comes from the straight path
        // between the two observations, so the next prediction lands on the object.
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        for (long f = 1; f <= 10; f++) tracker.Update(Scene.Frame(Scene.At(0, 0, 6, 0, f)), f);
        for (long f = 11; f <= 14; f++) tracker.Update(new Detections(), f);
        tracker.Update(Scene.Frame(Scene.At(0, 0, 6, 0, 15)), 15);
        var predicted = Scene.Only(tracker.Predict(16)).Box;
        Assert.True(BoxF.IoU(predicted, Scene.At(0, 0, 6, 0, 16)) > 0.85f, predicted.ToString());
    }
}
