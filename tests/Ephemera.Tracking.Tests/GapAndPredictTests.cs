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

public class ObservationCentricTests
{
    /// <summary>x of an object moving 6 px/frame up to frame 10, then 2 px/frame while occluded and after.</summary>
    private static float X(long f) => f <= 10 ? 6 * f : 60 + 2 * (f - 10);

    private static float PredictedAfterOcclusion(TrackerOptions options)
    {
        var tracker = new MultiObjectTracker(options);
        for (long f = 1; f <= 10; f++) tracker.Update(Scene.Frame(new BoxF(X(f), 0, 60, 120)), f);
        for (long f = 11; f <= 15; f++) tracker.Update(new Detections(), f);
        Assert.True(Scene.Only(tracker.Update(Scene.Frame(new BoxF(X(16), 0, 60, 120)), 16)).Observed);
        return Scene.Only(tracker.Predict(17)).Box.X;
    }

    [Fact]
    public void ReUpdateAfterGapFollowsTheObservedPathNotTheStalePrediction()
    {
        // ORU re-estimates the velocity along the straight path between the two observations
        // (2 px/frame); without it the filter keeps more of the stale 6 px/frame. (Neither lands
        // exactly: the filter's small velocity noise makes it slow to change speed either way.)
        float truth = X(17);
        float withOru = PredictedAfterOcclusion(TrackerOptions.Default);
        float without = PredictedAfterOcclusion(TrackerOptions.Default with { ReUpdateAfterGap = false });
        Assert.True(MathF.Abs(withOru - truth) < MathF.Abs(without - truth), $"ORU {withOru}, without {without}, truth {truth}");
    }

    [Fact]
    public void TracksOnlyMatchTheirOwnClassUnlessAllowed()
    {
        static Detections Of(int cls, long f)
        {
            var d = new Detections();
            d.Add(Scene.At(0, 0, 3, 0, f), 0.95f, cls);
            return d;
        }
        var strict = new MultiObjectTracker(TrackerOptions.Default);
        strict.Update(Of(0, 1), 1);
        var tracks = strict.Update(Of(2, 2), 2); // a car where a person was: not the same track
        Assert.Equal(2, tracks.Length);
        var loose = new MultiObjectTracker(TrackerOptions.Default with { MatchAcrossClasses = true });
        loose.Update(Of(0, 1), 1);
        Assert.Equal(1, loose.Update(Of(2, 2), 2).Length);
    }
}
