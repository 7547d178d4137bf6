using Ephemera.Analytics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Runtime.Scheduling;

namespace Ephemera.Runtime.Tests;

/// <summary>The by-need schedule's decisions on synthetic 640×480 grey frames (80×60 motion cells).</summary>
public sealed class DetectionSchedulerTests
{
    private const int W = 640, H = 480;
    private static readonly ScheduleOptions Options = new() { Mode = ScheduleMode.ByNeed, FloorFps = 1, EmptyFloorFps = 1, MotionThreshold = 0.002, PixelDelta = 12, GuardBandPx = 64 };
    // A vertical counting line down the middle.
    private static readonly DetectionScheduler.GuardSegment Line = new(new Point2(320, 0), new Point2(320, 480), AnchorPoint.BottomCenter);

    /// <summary>A still scene: mid grey with ±3 levels of per-pixel noise (compression noise), seeded per frame.</summary>
    private static byte[] Still(int seed)
    {
        var px = new byte[W * H];
        var rng = new Random(seed);
        for (int i = 0; i < px.Length; i++) px[i] = (byte)(120 + rng.Next(-3, 4));
        return px;
    }

    private static void Paint(byte[] px, int x, int y, int w, int h, byte value)
    {
        for (int r = y; r < y + h; r++) px.AsSpan(r * W + x, w).Fill(value);
    }

    private static ScheduleTrigger Decide(DetectionScheduler s, byte[] px, double t)
    {
        var trigger = s.Decide(new FrameView(W, H, PixelFormat.Gray8, px, W), t);
        if (trigger != ScheduleTrigger.None) s.Detected();
        return trigger;
    }

    [Fact]
    public void StillSceneDropsToTheFloorRate()
    {
        using var s = new DetectionScheduler(Options, 5, [Line]);
        Assert.Equal(5, s.FloorSlots);
        var decisions = Enumerable.Range(0, 21).Select(i => Decide(s, Still(i), i * 0.2)).ToList();
        Assert.Equal(ScheduleTrigger.First, decisions[0]);
        for (int i = 1; i < decisions.Count; i++)
            Assert.Equal(i % 5 == 0 ? ScheduleTrigger.Floor : ScheduleTrigger.None, decisions[i]);
        // Asked: the first 0.2 s at full rate (5/s), then 3.8 s at the floor (1/s).
        Assert.Equal(1 + 3.8, s.Asked, 6);
    }

    [Fact]
    public void AnEmptyStillSceneDropsToTheEmptyFloorAndATrackRestoresTheFloor()
    {
        using var s = new DetectionScheduler(Options with { FloorFps = 1, EmptyFloorFps = 0.25 }, 5, [Line]);
        Assert.Equal((5, 20), (s.FloorSlots, s.EmptyFloorSlots));
        var decisions = Enumerable.Range(0, 41).Select(i => Decide(s, Still(i), i * 0.2)).ToList();
        for (int i = 1; i < decisions.Count; i++)
            Assert.Equal(i % 20 == 0 ? ScheduleTrigger.Floor : ScheduleTrigger.None, decisions[i]);
        // Asked: 0.2 s at full rate, then 7.8 s at 0.25/s.
        Assert.Equal(1 + 7.8 * 0.25, s.Asked, 6);
        // A confirmed person standing still, away from the line: the ordinary floor (every 5th) again.
        s.ObserveTracks([new TrackedObject(1, 0, new BoxF(20, 100, 30, 90), 0.9f, TrackState.Confirmed, true)], detected: true);
        var withTrack = Enumerable.Range(41, 10).Select(i => Decide(s, Still(i), i * 0.2)).ToList();
        Assert.Equal(ScheduleTrigger.Floor, withTrack[4]);
        Assert.Equal(ScheduleTrigger.Floor, withTrack[9]);
        Assert.Equal(8, withTrack.Count(t => t == ScheduleTrigger.None));
    }

    [Fact]
    public void AMissedTrackKeepsFullRateForOneSecondOfDetectionsThenTheFloorDecides()
    {
        using var s = new DetectionScheduler(Options, 5, [Line]);
        Assert.Equal(5, s.MissedGraceDetections);
        Decide(s, Still(0), 0);
        // A person who left: the tracker keeps the track lost for re-association, away from the line.
        var lost = new TrackedObject(1, 0, new BoxF(20, 100, 30, 90), 0.9f, TrackState.Lost, false);
        var triggers = new List<ScheduleTrigger>();
        for (int i = 1; i <= 8; i++)
        {
            s.ObserveTracks([lost], detected: true);
            triggers.Add(Decide(s, Still(i), i * 0.2));
        }
        Assert.All(triggers.Take(5), t => Assert.Equal(ScheduleTrigger.UncertainTrack, t));
        Assert.All(triggers.Skip(5), t => Assert.Equal(ScheduleTrigger.None, t));
        // Seen again, then missed again: a new streak, full rate at once.
        s.ObserveTracks([lost with { State = TrackState.Confirmed, Observed = true }], detected: true);
        s.ObserveTracks([lost], detected: true);
        Assert.Equal(ScheduleTrigger.UncertainTrack, Decide(s, Still(9), 1.8));
    }

    [Fact]
    public void MotionBringsFullRateBackAtOnce()
    {
        using var s = new DetectionScheduler(Options, 5, [Line]);
        for (int i = 0; i < 7; i++) Decide(s, Still(i), i * 0.2);
        var moving = Still(7);
        Paint(moving, 200, 200, 48, 96, 30); // a dark figure in the middle: 6×12 cells, above 0.2 % of 4800
        Assert.Equal(ScheduleTrigger.Motion, Decide(s, moving, 1.4));
        var moved = Still(8);
        Paint(moved, 216, 200, 48, 96, 30); // it walks on
        Assert.Equal(ScheduleTrigger.Motion, Decide(s, moved, 1.6));
        Assert.Equal(ScheduleTrigger.None, Decide(s, moved, 1.8)); // still again: back towards the floor
    }

    /// <summary>A person at <paramref name="x"/> (box left), 30 px wide: the feet are at x + 15.</summary>
    private static TrackedObject Person(float x, bool observed = true, int id = 1, TrackState state = TrackState.Confirmed) =>
        new(id, 0, new BoxF(x, 100, 30, 90), 0.9f, state, observed);

    /// <summary>Runs one due frame as a camera does: decide, then the tracker's output (the detection's, or the prediction's).</summary>
    private static ScheduleTrigger Step(DetectionScheduler s, int i, TrackedObject track)
    {
        var trigger = Decide(s, Still(i), i * 0.2);
        bool detected = trigger != ScheduleTrigger.None;
        s.ObserveTracks([detected ? track : track with { Observed = false }], detected);
        return trigger;
    }

    [Fact]
    public void AStillTrackBesideTheLineGetsTheFloorWhileAMovingOneKeepsFullRate()
    {
        // Feet 20 px from the line (x = 320), inside the 64 px guard band.
        using (var s = new DetectionScheduler(Options, 5, [Line]))
        {
            Decide(s, Still(0), 0);
            s.ObserveTracks([Person(285)], detected: true);
            // Just come into the band: full rate for the hold (1 s); then, standing still, only the floor (1/s).
            var triggers = Enumerable.Range(1, 15).Select(i => Step(s, i, Person(285))).ToList();
            Assert.All(triggers.Take(4), t => Assert.Equal(ScheduleTrigger.GuardBand, t));
            Assert.Equal(ScheduleTrigger.Floor, triggers[8]);
            Assert.Equal(ScheduleTrigger.Floor, triggers[13]);
            Assert.Equal(2, triggers.Skip(5).Count(t => t != ScheduleTrigger.None));
            // A box jittering by 2 px (under the still distance) is still standing.
            Assert.Equal(ScheduleTrigger.None, Step(s, 16, Person(287)));
        }
        using (var s = new DetectionScheduler(Options, 5, [Line]))
        {
            Decide(s, Still(0), 0);
            s.ObserveTracks([Person(250)], detected: true);
            // A slow walker towards the line, 3 px per due frame (15 px/s; the still distance is 4 px): every
            // due detection runs until it is 50 px past the line (the counter wants 3 observed frames on the new side).
            for (int i = 1; i <= 30; i++)
                Assert.Equal(ScheduleTrigger.GuardBand, Step(s, i, Person(250 + 3 * i)));
        }
    }

    [Fact]
    public void MotionBeforeTheFloorIsDueRunsTheFloorsDetectionTooAndIsAskedOnce()
    {
        using var s = new DetectionScheduler(Options, 5, [Line]);
        var detected = new List<ScheduleTrigger>();
        void At(byte[] px, double t) { var d = Decide(s, px, t); if (d != ScheduleTrigger.None) detected.Add(d); }
        for (int i = 0; i < 4; i++) At(Still(i), i * 0.2); // the first detection, then 0.6 s still (the floor is due at 0.9 s)
        var moving = Still(4);
        Paint(moving, 200, 200, 48, 96, 30);
        At(moving, 0.8);                                   // motion before the floor came due
        for (int i = 5; i <= 9; i++) At(moving, i * 0.2);  // still again; the floor is due at 0.8 + 0.9 s
        Assert.Equal([ScheduleTrigger.First, ScheduleTrigger.Motion, ScheduleTrigger.Floor], detected);
        // Asked: 1 (the first, 0.2 s at 5/s) + 1 (the motion's) + 0.8 s at the floor (1/s) until the floor's
        // decision. The 0.6 s of floor time before the motion is the motion detection's to serve: counting
        // it too (3.4) asked for a detection no schedule would run.
        Assert.Equal(1 + 1 + 0.8, s.Asked, 6);
    }

    [Fact]
    public void WalkingAlongTheLineIsNotCrossingIt()
    {
        using var s = new DetectionScheduler(Options, 5, [Line]);
        Decide(s, Still(0), 0);
        var t = Person(265);
        s.ObserveTracks([t], detected: true);
        for (int i = 1; i <= 5; i++) Step(s, i, t);
        // 40 px down the image per due frame, 40 px from the line all the way: no full rate from the guard band.
        var triggers = Enumerable.Range(6, 10).Select(i => Step(s, i, t with { Box = t.Box with { Y = 100 + 4 * i } })).ToList();
        Assert.DoesNotContain(ScheduleTrigger.GuardBand, triggers);
    }

    [Fact]
    public void MotionInsideAStillGuardedTracksBoxBringsFullRate()
    {
        using var s = new DetectionScheduler(Options, 5, [Line]);
        Decide(s, Still(0), 0);
        s.ObserveTracks([Person(285)], detected: true);
        for (int i = 1; i <= 7; i++) Step(s, i, Person(285));
        Assert.Equal(ScheduleTrigger.None, Step(s, 8, Person(285)));
        // The person starts to move inside their own (masked) box: not scene motion, but beside a line it may be a crossing.
        var moving = Still(9);
        Paint(moving, 285, 150, 30, 40, 30);
        Assert.Equal(ScheduleTrigger.GuardBand, Decide(s, moving, 1.8));
        // The same away from any line is the tracker's business.
        using var far = new DetectionScheduler(Options, 5, [Line]);
        Decide(far, Still(0), 0);
        far.ObserveTracks([Person(40)], detected: true);
        for (int i = 1; i <= 8; i++) Step(far, i, Person(40));
        var fidget = Still(9);
        Paint(fidget, 40, 150, 30, 40, 30);
        Assert.Equal(ScheduleTrigger.None, Decide(far, fidget, 1.8));
    }

    [Fact]
    public void AnUnconfirmedTrackBesideTheLineKeepsFullRate()
    {
        using var s = new DetectionScheduler(Options, 5, [Line]);
        Decide(s, Still(0), 0);
        // Lost beside the line, past the missed-track grace: where it is is not known.
        var lost = Person(285, observed: false, state: TrackState.Lost);
        for (int i = 1; i <= 10; i++)
        {
            s.ObserveTracks([lost], detected: true);
            Assert.NotEqual(ScheduleTrigger.None, Decide(s, Still(i), i * 0.2));
        }
        Assert.Equal(ScheduleTrigger.GuardBand, Decide(s, Still(11), 2.2));
        // Predicted away from the line and the hold: the guard is off, the scene still → floor rate.
        s.ObserveTracks([Person(20, observed: false)], detected: false);
        Assert.Equal(ScheduleTrigger.None, Decide(s, Still(12), 2.4));
    }

    [Fact]
    public void AMissedTrackPredictedOutOfTheFrameHasLeft()
    {
        using var s = new DetectionScheduler(Options, 5, []);
        Decide(s, Still(0), 0);
        s.ObserveTracks([Person(630, observed: false, state: TrackState.Lost)], detected: true); // centre at x = 645 > 640
        Assert.Equal(ScheduleTrigger.None, Decide(s, Still(1), 0.2));
        s.ObserveTracks([Person(600, observed: false, state: TrackState.Lost)], detected: true); // centre inside: missed
        Assert.Equal(ScheduleTrigger.UncertainTrack, Decide(s, Still(2), 0.4));
    }

    [Fact]
    public void APredictionDriftingOffAStillPersonDoesNotUnmaskThem()
    {
        using var s = new DetectionScheduler(Options, 5, []);
        var seated = Still(0);
        Paint(seated, 200, 200, 48, 96, 30);
        Decide(s, seated, 0);
        s.ObserveTracks([new TrackedObject(1, 0, new BoxF(200, 200, 48, 96), 0.9f, TrackState.Confirmed, true)], detected: true);
        // The tracker's velocity carries the predicted box 100 px off; the person fidgets where they sat.
        s.ObserveTracks([new TrackedObject(1, 0, new BoxF(300, 200, 48, 96), 0.9f, TrackState.Confirmed, false)], detected: false);
        var fidget = Still(1);
        Paint(fidget, 204, 200, 48, 96, 30);
        Assert.Equal(ScheduleTrigger.None, Decide(s, fidget, 0.2));
    }

    [Fact]
    public void NewObjectAtTheEdgeBringsFullRate()
    {
        using var s = new DetectionScheduler(Options, 5, []);
        for (int i = 0; i < 3; i++) Decide(s, Still(i), i * 0.2);
        var entering = Still(3);
        Paint(entering, 0, 300, 16, 24, 250); // 2×3 cells at the left edge: below the whole-frame threshold, above the border band's
        Assert.Equal(ScheduleTrigger.EdgeMotion, Decide(s, entering, 0.6));
        // The detector found it: a new (tentative) track is not trusted until confirmed.
        s.ObserveTracks([new TrackedObject(1, 0, new BoxF(0, 300, 16, 24), 0.7f, TrackState.Tentative, true)], detected: true);
        Assert.Equal(ScheduleTrigger.UncertainTrack, Decide(s, entering, 0.8));
        // A missed (lost) track keeps it there too; once every track is seen again, it is not.
        s.ObserveTracks([new TrackedObject(1, 0, new BoxF(0, 300, 16, 24), 0.7f, TrackState.Lost, false)], detected: true);
        Assert.Equal(ScheduleTrigger.UncertainTrack, Decide(s, entering, 1.0));
        s.ObserveTracks([new TrackedObject(1, 0, new BoxF(0, 300, 16, 24), 0.7f, TrackState.Confirmed, true)], detected: true);
        Assert.Equal(ScheduleTrigger.None, Decide(s, entering, 1.2));
    }

    [Fact]
    public void ATrackedPersonFidgetingInPlaceIsNotMotion()
    {
        using var s = new DetectionScheduler(Options, 5, []);
        var standing = Still(0);
        Paint(standing, 200, 200, 48, 96, 30);
        Decide(s, standing, 0);
        s.ObserveTracks([new TrackedObject(1, 0, new BoxF(200, 200, 48, 96), 0.9f, TrackState.Confirmed, true)], detected: true);
        var fidget = Still(1);
        Paint(fidget, 204, 200, 48, 96, 30); // moved 4 px inside its own (grown) box
        Paint(fidget, 196, 250, 16, 16, 200); // and a hand
        Assert.Equal(ScheduleTrigger.None, Decide(s, fidget, 0.2));
        var walkedOff = Still(2);
        Paint(walkedOff, 400, 200, 48, 96, 30); // now far outside it
        Assert.Equal(ScheduleTrigger.Motion, Decide(s, walkedOff, 0.4));
    }

    [Fact]
    public void PackedBgrCannotBeMeasuredSoEveryDueDetectionRuns()
    {
        using var s = new DetectionScheduler(Options, 5, []);
        var bgr = new byte[W * H * 3];
        for (int i = 0; i < 3; i++)
            Assert.Equal(ScheduleTrigger.Unmeasurable, s.Decide(new FrameView(W, H, PixelFormat.Bgr24, bgr, W * 3), i * 0.2));
    }

    [Theory]
    [InlineData(77, 43, 80)]
    [InlineData(640, 480, 640)]
    [InlineData(9, 8, 16)]
    public void CellMeansAndChangedCountsMatchTheScalarDefinition(int width, int height, int stride)
    {
        var rng = new Random(width * 31 + height);
        var y = new byte[stride * height];
        rng.NextBytes(y);
        int cols = width / MotionMeter.Scale, rows = height / MotionMeter.Scale;
        var cells = new byte[cols * rows];
        MotionMeter.Downsample(y, stride, cols, rows, new int[cols], cells);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int sum = 0;
                for (int k = 0; k < 8; k++) for (int i = 0; i < 8; i++) sum += y[(r * 8 + k) * stride + c * 8 + i];
                Assert.Equal((sum + 32) / 64, cells[r * cols + c]);
            }

        var a = new byte[1000]; var b = new byte[1000]; var ignored = new byte[1000];
        rng.NextBytes(a); rng.NextBytes(b);
        for (int i = 0; i < ignored.Length; i += 7) ignored[i] = 0xFF;
        int expected = 0;
        for (int i = 0; i < a.Length; i++) if (ignored[i] == 0 && Math.Abs(a[i] - b[i]) > 40) expected++;
        Assert.Equal(expected, MotionMeter.CountChanged(a, b, ignored, 40));
    }
}
