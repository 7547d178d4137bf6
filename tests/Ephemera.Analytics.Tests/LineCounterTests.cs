using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Analytics.Tests;

public class LineCounterTests
{
    // Horizontal segment drawn left → right at y = 100 from x = 0 to x = 200: its right side is BELOW
    // it in image coordinates (y down), so moving down the image is "in".
    private static LineCounter Horizontal(int minFrames = 3, double minDist = 4) =>
        new(new CountingLineOptions(new Point2(0, 100), new Point2(200, 100), minFramesAcross: minFrames, minDistancePx: minDist));

    public static TheoryData<string, double, double[], int, int> Scenarios => new()
    {
        { "touches the line and turns back", 50, [90, 95, 100, 95, 90], 0, 0 },
        { "stops on the line", 50, [90, 95, 100, 100, 100], 0, 0 },
        { "crosses downwards (left → right of the segment)", 50, [90, 95, 105, 110, 115, 120], 1, 0 },
        { "crosses upwards", 50, [120, 115, 110, 105, 95, 90, 85, 80], 0, 1 },
        { "crosses back within the hysteresis frames", 50, [90, 95, 105, 110, 95, 90], 0, 0 },
        { "flickers across by less than the minimum distance", 50, [98, 99, 101, 102, 103, 102, 101, 99, 98], 0, 0 },
        { "small steps across, counted once far enough", 50, [98, 99, 101, 102, 103, 104, 106, 108], 1, 0 },
        { "jumps over the line in one step", 50, [80, 130, 135, 140], 1, 0 },
        { "passes beside the end of the segment", 250, [80, 90, 110, 120, 130, 140], 0, 0 },
        { "passes just inside the end of the segment", 199, [80, 90, 110, 120, 130, 140], 1, 0 },
        { "crosses in then back out", 50, [80, 90, 110, 120, 130, 110, 90, 80, 70], 1, 1 },
        { "in, out, in again counts once per direction", 50, [80, 90, 110, 120, 130, 90, 80, 70, 110, 120, 130], 1, 1 },
        { "removed before the hysteresis is met", 50, [90, 95, 105], 0, 0 },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Scenario(string what, double x, double[] ys, int expectedIn, int expectedOut)
    {
        var c = Horizontal();
        Feed.Walk(c, 7, Feed.Ys(x, ys));
        Assert.True(expectedIn == c.In && expectedOut == c.Out, $"{what}: expected in {expectedIn} out {expectedOut}, got in {c.In} out {c.Out}");
        Assert.Equal(0, c.TrackStateCount);
    }

    [Fact]
    public void TentativeTracksAreNeverCounted()
    {
        var c = Horizontal();
        Feed.Walk(c, 1, Feed.Ys(50, 80, 90, 110, 120, 130), TrackState.Tentative);
        Assert.Equal((0, 0), (c.In, c.Out));
        Assert.Equal(0, c.TrackStateCount);
    }

    [Fact]
    public void CrossingWhileLostIsCountedWhenTheTrackReturnsConfirmed()
    {
        // Lost boxes are predictions and are skipped; the step from the last confirmed position to
        // the next confirmed one crosses the segment, so the crossing still counts.
        var c = Horizontal();
        c.Update([Feed.At(3, 50, 80)], [], 0.0);
        c.Update([Feed.At(3, 50, 90)], [], 0.1);
        c.Update([Feed.At(3, 50, 105, TrackState.Lost)], [], 0.2);
        c.Update([Feed.At(3, 50, 112, TrackState.Lost)], [], 0.3);
        Assert.Equal(0, c.In);
        c.Update([Feed.At(3, 50, 120)], [], 0.4);
        c.Update([Feed.At(3, 50, 125)], [], 0.5);
        c.Update([Feed.At(3, 50, 130)], [], 0.6);
        Assert.Equal(1, c.In);
    }

    [Fact]
    public void PredictedBoxesAreSkippedUnlessAskedFor()
    {
        foreach (bool usePredicted in new[] { false, true })
        {
            var c = new LineCounter(new CountingLineOptions(new Point2(0, 100), new Point2(200, 100), usePredicted: usePredicted));
            c.Update([Feed.At(3, 50, 90)], [], 0.0);
            c.Update([Feed.At(3, 50, 110, observed: false)], [], 0.1);
            c.Update([Feed.At(3, 50, 120, observed: false)], [], 0.2);
            c.Update([Feed.At(3, 50, 130, observed: false)], [], 0.3);
            Assert.Equal(usePredicted ? 1 : 0, c.In);
        }
    }

    [Fact]
    public void VerticalLineDrawnDownwardsCountsLeftwardMovementAsIn()
    {
        var c = new LineCounter(new CountingLineOptions(new Point2(960, 0), new Point2(960, 1080)));
        Feed.Walk(c, 1, new[] { 1000.0, 980, 970, 950, 940, 930, 920 }.Select(x => (x, 500.0)));   // right → left on screen
        Feed.Walk(c, 2, new[] { 900.0, 950, 970, 980, 990, 1000 }.Select(x => (x, 500.0)));         // left → right on screen
        Feed.Walk(c, 3, new[] { 900.0, 950, 970, 980, 990, 1000 }.Select(x => (x, 500.0)));
        Assert.Equal(1, c.In);
        Assert.Equal(2, c.Out);
        Assert.True(c.SignedDistance(new Point2(900, 500)) > 0, "x < 960 is the right side of a downward line");
    }

    [Fact]
    public void LineNearTheFrameEdgeCountsWhenTheClippedAnchorReachesTheMinimumDistance()
    {
        // 1080-row frame, line 6 px above the bottom edge: boxes are clipped at 1080, so the feet can
        // get at most 6 px past the line. With a 4 px hysteresis distance the crossing still counts.
        var c = new LineCounter(new CountingLineOptions(new Point2(0, 1074), new Point2(1920, 1074), minDistancePx: 4));
        Feed.Walk(c, 1, Feed.Ys(600, 1060, 1066, 1072, 1076, 1079, 1080, 1080));
        Assert.Equal(1, c.In);
        // A hysteresis distance larger than the gap to the edge can never be met: documented trade-off.
        var strict = new LineCounter(new CountingLineOptions(new Point2(0, 1074), new Point2(1920, 1074), minDistancePx: 10));
        Feed.Walk(strict, 1, Feed.Ys(600, 1060, 1066, 1072, 1076, 1079, 1080, 1080));
        Assert.Equal(0, strict.In);
    }

    [Fact]
    public void TwoLinesCrossedInTheSameStepAreBothCounted()
    {
        var a = new PurposeAnalytics(new PurposeAnalyticsOptions([
            new CountingLineOptions(new Point2(0, 100), new Point2(200, 100), name: "a"),
            new CountingLineOptions(new Point2(0, 104), new Point2(200, 104), name: "b")]));
        Feed.Walk(a, 1, Feed.Ys(50, 90, 95, 110, 115, 120, 125));
        Assert.All(a.Lines, l => Assert.Equal((1, 0), (l.In, l.Out)));
        Assert.Equal(0, a.TrackStateCount);
    }

    [Fact]
    public void CountsGoToTheClassAndTheTimeBinOfTheCrossing()
    {
        var c = new LineCounter(new CountingLineOptions(new Point2(0, 100), new Point2(200, 100), timeBinSeconds: 60));
        Feed.Walk(c, 1, Feed.Ys(50, 90, 110, 120, 130), cls: CocoClasses.Car, t0: 59.85);     // crosses at 59.95 → bin [0,60)
        Feed.Walk(c, 2, Feed.Ys(50, 90, 110, 120, 130), cls: CocoClasses.Bicycle, t0: 61);    // bin [60,120)
        Feed.Walk(c, 3, Feed.Ys(50, 90, 110, 120, 130), cls: 15 /* cat: not counted */, t0: 62);
        var s = c.Snapshot();
        Assert.Equal(2, s.In);
        Assert.Equal(new DirectionCounts(1, 0), s.ByClass["vehicle"]);
        Assert.Equal(new DirectionCounts(1, 0), s.ByClass["bicycle"]);
        Assert.Equal(new DirectionCounts(0, 0), s.ByClass["person"]);
        Assert.Equal([(0.0, "vehicle"), (60.0, "bicycle")], s.Bins.Select(b => (b.BinStartSeconds, b.Class)).ToArray());
        Assert.Equal(DataClass.Count, s.DataClass);

        var flushed = c.Flush(60);
        Assert.Single(flushed.Bins);
        Assert.Single(c.Snapshot().Bins);
    }

    [Fact]
    public void RemovedStateInTheTrackListEvictsToo()
    {
        var c = Horizontal();
        c.Update([Feed.At(1, 50, 90), Feed.At(2, 60, 90)], [], 0);
        Assert.Equal(2, c.TrackStateCount);
        c.Update([Feed.At(1, 50, 90, TrackState.Removed), Feed.At(2, 60, 92)], [], 0.1);
        Assert.Equal(1, c.TrackStateCount);
        c.Update([], [2], 0.2);
        Assert.Equal(0, c.TrackStateCount);
    }

    [Fact]
    public void StaleTracksAreEvictedWhenTheTrackerNeverRemovesThem()
    {
        var c = new LineCounter(new CountingLineOptions(new Point2(0, 100), new Point2(200, 100), staleTrackSeconds: 2));
        c.Update([Feed.At(1, 50, 90)], [], 0);
        c.Update([], [], 1);
        Assert.Equal(1, c.TrackStateCount);
        c.Update([], [], 3);
        Assert.Equal(0, c.TrackStateCount);
    }

    [Fact]
    public void SteadyStateUpdatesDoNotAllocate()
    {
        var a = new PurposeAnalytics(new PurposeAnalyticsOptions(
            [new CountingLineOptions(new Point2(0, 100), new Point2(200, 100))],
            new ZoneAnalyserOptions([new ZoneOptions("z", Polygon.Parse("0,0,200,0,200,200,0,200"))]),
            new FloorFlowOptions(FloorFlowTests.PixelsToMetres, new FloorPlan(10, 10), maxPointsPerVisit: 64)));
        var tracks = new TrackedObject[20];
        void Frame(int f)
        {
            for (int i = 0; i < tracks.Length; i++) tracks[i] = Feed.At(i, 10 * i, 50 + (f % 100), cls: CocoClasses.Person);
            a.Update(tracks, ReadOnlySpan<int>.Empty, f / 30.0);
        }
        for (int f = 0; f < 200; f++) Frame(f); // warm up: every track and the bin exist
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int f = 200; f < 260; f++) Frame(f);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData("1,2,3")]
    [InlineData("1,2,3,x")]
    [InlineData("5,5,5,5")]
    public void BadLinesAreRejectedWithTheCause(string text)
    {
        var e = Assert.ThrowsAny<EphemeraException>(() =>
        {
            var (s, en) = CountingLineOptions.ParseSegment(text);
            _ = new CountingLineOptions(s, en);
        });
        Assert.Contains("line", e.Message);
    }
}
