using Ephemera.Core;

namespace Ephemera.Tracking.Tests;

public class TrackLifecycleTests
{
    private static BoxF Walker(long f) => Scene.At(100, 50, 4, 0, f);

    [Fact]
    public void TentativeThenConfirmedThenLostThenRemoved()
    {
        var options = TrackerOptions.Default with { MaxLostFrames = 5 };
        var tracker = new MultiObjectTracker(options);
        tracker.Update(new Detections(), 1); // an empty first frame: later tracks start tentative
        var t = Scene.Only(tracker.Update(Scene.Frame(Walker(2)), 2));
        Assert.Equal((TrackState.Tentative, true), (t.State, t.Observed));
        t = Scene.Only(tracker.Update(Scene.Frame(Walker(3)), 3));
        Assert.Equal((TrackState.Confirmed, true), (t.State, t.Observed)); // MinHits = 2
        int id = t.TrackId;
        for (long f = 4; f <= 8; f++)
        {
            t = Scene.Only(tracker.Update(new Detections(), f));
            Assert.Equal((TrackState.Lost, false, id), (t.State, t.Observed, t.TrackId));
            Assert.Equal(0, tracker.RemovedIds.Length);
        }
        // Frame 9 is 6 frames after the last observation (> MaxLostFrames = 5): removed.
        Assert.Equal(0, tracker.Update(new Detections(), 9).Length);
        Assert.Equal([id], tracker.RemovedIds.ToArray());
        tracker.Update(new Detections(), 10);
        Assert.Equal(0, tracker.RemovedIds.Length); // reported once
    }

    [Fact]
    public void LostTrackIsRecoveredWithItsId()
    {
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        int id = 0;
        for (long f = 1; f <= 10; f++) id = Scene.Only(tracker.Update(Scene.Frame(Walker(f)), f)).TrackId;
        for (long f = 11; f <= 15; f++) Assert.Equal(TrackState.Lost, Scene.Only(tracker.Update(new Detections(), f)).State);
        var back = Scene.Only(tracker.Update(Scene.Frame(Walker(16)), 16));
        Assert.Equal((id, TrackState.Confirmed, true), (back.TrackId, back.State, back.Observed));
    }

    [Fact]
    public void UnconfirmedTrackThatMissesIsDropped()
    {
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        tracker.Update(new Detections(), 1);
        int id = Scene.Only(tracker.Update(Scene.Frame(Walker(2)), 2)).TrackId;
        Assert.Equal(0, tracker.Update(new Detections(), 3).Length);
        Assert.Equal([id], tracker.RemovedIds.ToArray());
    }

    [Fact]
    public void FirstFrameTracksAreConfirmedAtOnce()
    {
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        var t = Scene.Only(tracker.Update(Scene.Frame(Walker(1)), 1));
        Assert.Equal(TrackState.Confirmed, t.State);
    }

    [Fact]
    public void WeakDetectionExtendsButNeverStartsATrack()
    {
        // Fixed thresholds: with adaptive ones a lone 0.3 box is the best this "detector" has given,
        // so it would start a track (AdaptiveScoreTests covers that rule).
        var tracker = new MultiObjectTracker(TrackerOptions.ByteOcSort);
        Assert.Equal(0, tracker.Update(Scene.Frame(0.3f, Walker(1)), 1).Length); // below NewTrackScore
        tracker.Reset();
        int id = Scene.Only(tracker.Update(Scene.Frame(0.95f, Walker(1)), 1)).TrackId;
        // 0.3 is a "low" detection (MinScore 0.1 ≤ s < HighScore 0.6): BYTE's second stage keeps the track.
        var t = Scene.Only(tracker.Update(Scene.Frame(0.3f, Walker(2)), 2));
        Assert.Equal((id, true), (t.TrackId, t.Observed));
    }

    [Fact]
    public void TwoCrossingObjectsKeepTheirIds()
    {
        // Two walkers cross paths; direction consistency and the motion model keep ids apart.
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        var ids = new Dictionary<int, int>();
        for (long f = 1; f <= 60; f++)
        {
            var a = Scene.At(100, 100, 6, 0, f); var b = Scene.At(460, 110, -6, 0, f);
            var tracks = tracker.Update(Scene.Frame(a, b), f);
            foreach (var t in tracks)
            {
                if (!t.Observed || MathF.Abs(a.X - b.X) < 20) continue; // too close to say who is who
                int who = MathF.Abs(t.Box.CenterX - a.CenterX) < MathF.Abs(t.Box.CenterX - b.CenterX) ? 0 : 1;
                if (!ids.TryAdd(t.TrackId, who)) Assert.Equal(ids[t.TrackId], who);
            }
        }
        Assert.Equal(2, ids.Count);
    }

    [Fact]
    public void IdsCountPerInstanceAndRestartOnReset()
    {
        var a = new MultiObjectTracker(TrackerOptions.Default);
        var b = new MultiObjectTracker(TrackerOptions.Default);
        var two = Scene.Frame(Walker(1), Scene.At(400, 50, -4, 0, 1));
        Assert.Equal([1, 2], a.Update(two, 1).ToArray().Select(t => t.TrackId).ToArray());
        Assert.Equal([1, 2], b.Update(two, 1).ToArray().Select(t => t.TrackId).ToArray());
        a.Reset();
        Assert.Equal(1, a.Update(Scene.Frame(Walker(5)), 5)[0].TrackId);
    }

    [Fact]
    public void FrameIndexMustIncrease()
    {
        var tracker = new MultiObjectTracker(TrackerOptions.Default);
        tracker.Update(Scene.Frame(Walker(3)), 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => tracker.Update(Scene.Frame(Walker(3)), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => tracker.Predict(2));
    }

    [Fact]
    public void OptionsAreValidatedWhenSet()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TrackerOptions.Default with { HighScore = 1.5f });
        Assert.Throws<ArgumentOutOfRangeException>(() => TrackerOptions.Default with { MinHits = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => TrackerOptions.Default with { MaxLostFrames = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => TrackerOptions.Default with { DirectionDeltaFrames = 99 });
        Assert.Equal(60, TrackerOptions.Default.WithFrameRate(60).MaxLostFrames);
    }
}
