using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Analytics.Tests;

public class ZoneAnalyserTests
{
    private static readonly Polygon Square = Polygon.Parse("100,100,200,100,200,200,100,200");

    private static ZoneAnalyser Analyser(bool shelf = false, double grace = 1, double bin = 60) =>
        new(new ZoneAnalyserOptions([new ZoneOptions("shelf", Square, shelfFront: shelf, minStopSeconds: 3)],
            timeBinSeconds: bin, dwellBucketEdgesSeconds: [0, 2, 5, 10], exitGraceSeconds: grace));

    public static TheoryData<string, double, double, bool> PointCases => new()
    {
        { "centre", 150, 150, true },
        { "outside left", 99, 150, false },
        { "outside below", 150, 201, false },
        { "on the left edge (inside by convention)", 100, 150, true },
        { "on the right edge (outside by convention)", 200, 150, false },
        { "far away", -1000, 5000, false },
    };

    [Theory]
    [MemberData(nameof(PointCases))]
    public void PointInPolygon(string what, double x, double y, bool inside) =>
        Assert.True(Square.Contains(new Point2(x, y)) == inside, what);

    [Fact]
    public void ConcavePolygonExcludesItsNotch()
    {
        var u = Polygon.Parse("0,0,30,0,30,30,20,30,20,10,10,10,10,30,0,30"); // a U shape
        Assert.True(u.Contains(new Point2(5, 20)));
        Assert.False(u.Contains(new Point2(15, 20)));
        Assert.True(u.Contains(new Point2(15, 5)));
        Assert.Equal(30 * 30 - 10 * 20, u.Area, 9);
    }

    [Fact]
    public void OccupancyMeanAndMaxPerBin()
    {
        var z = Analyser(bin: 10);
        // 10 frames in bin [0,10): 2 people inside on 5 frames, 1 on 5 frames; one person outside all along.
        for (int f = 0; f < 10; f++)
        {
            TrackedObject[] t = f < 5
                ? [Feed.At(1, 150, 150), Feed.At(2, 160, 150), Feed.At(3, 500, 500)]
                : [Feed.At(1, 150, 150), Feed.At(3, 500, 500)];
            z.Update(t, [], f);
        }
        z.Update([Feed.At(1, 150, 150)], [], 10); // bin [10,20)
        var r = z.Snapshot().Zones[0];
        Assert.Equal(2, r.Occupancy.Count);
        Assert.Equal(1.5, r.Occupancy[0].MeanOccupancy, 9);
        Assert.Equal(2, r.Occupancy[0].MaxOccupancy);
        Assert.Equal(10, r.Occupancy[0].Frames);
        Assert.Equal(1, r.Occupancy[1].MaxOccupancy);
        Assert.Equal(DataClass.ZoneOccupancy, r.Occupancy[0].DataClass);
    }

    [Fact]
    public void OnlyTheConfiguredClassesAreOccupants()
    {
        var people = Analyser();
        people.Update([Feed.At(1, 150, 150), Feed.At(2, 150, 150, cls: CocoClasses.Car), Feed.At(3, 150, 150, cls: 26 /* handbag */)], [], 0);
        Assert.Equal(1, people.OccupancyOf(0));
        var cars = new ZoneAnalyser(new ZoneAnalyserOptions([new ZoneOptions("lot", Square)], classIds: [CocoClasses.Car, CocoClasses.Truck]));
        cars.Update([Feed.At(1, 150, 150), Feed.At(2, 150, 150, cls: CocoClasses.Car), Feed.At(3, 150, 150, cls: CocoClasses.Truck)], [], 0);
        Assert.Equal(2, cars.OccupancyOf(0));
        Assert.Throws<EphemeraException>(() => new ZoneAnalyserOptions([new ZoneOptions("lot", Square)], classIds: [80]));
    }

    [Fact]
    public void UnconfirmedTracksAreNotOccupants()
    {
        var z = Analyser();
        z.Update([Feed.At(1, 150, 150, TrackState.Tentative), Feed.At(2, 150, 150, TrackState.Lost)], [], 0);
        Assert.Equal(0, z.OccupancyOf(0));
        Assert.Equal(0, z.TrackStateCount);
    }

    [Fact]
    public void DwellHistogramAndShelfFrontStops()
    {
        var z = Analyser(shelf: true);
        // Track 1 stays 6 s (bucket [5,10)), track 2 stays 1 s ([0,2)), track 3 stays 3.5 s ([2,5), a stop).
        Stay(z, 1, 0, 6);
        Stay(z, 2, 10, 11);
        Stay(z, 3, 20, 23.5);
        var r = z.Snapshot().Zones[0];
        Assert.Equal([1L, 1, 1, 0], r.TotalDwell.Counts);
        Assert.Equal(3, r.Visits);
        Assert.Equal(2, r.Stops);                       // 6 s and 3.5 s ≥ 3 s
        Assert.Equal([0L, 1, 1, 0], r.TotalStopDwell!.Counts);
        Assert.Equal(0, z.TrackStateCount);
        Assert.Equal(DataClass.DwellHistogram, r.TotalDwell.DataClass);
    }

    [Fact]
    public void ShortAbsenceWithinGraceKeepsTheVisitLongerEndsIt()
    {
        var z = Analyser(grace: 1);
        for (double t = 0; t <= 3; t += 0.5) z.Update([Feed.At(1, 150, 150)], [], t);
        for (double t = 3.5; t <= 3.9; t += 0.2) z.Update([Feed.At(1, 500, 150)], [], t); // out for < 1 s
        for (double t = 4; t <= 6; t += 0.5) z.Update([Feed.At(1, 150, 150)], [], t);
        Assert.Equal(0, z.Snapshot().Zones[0].Visits);   // still one open visit
        for (double t = 6.5; t <= 8.5; t += 0.5) z.Update([Feed.At(1, 500, 150)], [], t);   // out for 2.5 s
        var r = z.Snapshot().Zones[0];
        Assert.Equal(1, r.Visits);
        Assert.Equal(1, r.TotalDwell.Counts[2]);            // 6 s → [5,10)
        Assert.Equal(0, z.TrackStateCount);
    }

    [Fact]
    public void FlushReturnsClosedBinsOnce()
    {
        var z = Analyser(bin: 10);
        for (int f = 0; f < 25; f++) z.Update([Feed.At(1, 150, 150)], [], f);
        var first = z.Flush(20).Zones[0];
        Assert.Equal(2, first.Occupancy.Count);
        Assert.Empty(z.Flush(20).Zones[0].Occupancy);
        Assert.Single(z.Snapshot().Zones[0].Occupancy);
    }

    [Theory]
    [InlineData("a:1,2,3,4")]
    [InlineData("a:0,0,10,10,20,20")]
    [InlineData("nocolon")]
    [InlineData("a:0,0,1,0,1,y")]
    public void BadZonesAreRejectedWithTheCause(string text) =>
        Assert.StartsWith($"zone '{text}'", Assert.ThrowsAny<EphemeraException>(() => ZoneOptions.Parse(text)).Message);

    [Fact]
    public void BadOptionsAreRejected()
    {
        Assert.Throws<EphemeraException>(() => new ZoneAnalyserOptions([new ZoneOptions("a", Square), new ZoneOptions("a", Square)]));
        Assert.Throws<EphemeraException>(() => new ZoneAnalyserOptions([new ZoneOptions("a", Square)], dwellBucketEdgesSeconds: [1, 2]));
        Assert.Throws<EphemeraException>(() => new ZoneAnalyserOptions([new ZoneOptions("a", Square)], dwellBucketEdgesSeconds: [0, 5, 5]));
        Assert.Throws<EphemeraException>(() => new ZoneAnalyserOptions([new ZoneOptions("a", Square)], timeBinSeconds: 0));
    }

    private static void Stay(ZoneAnalyser z, int id, double from, double to)
    {
        for (double t = from; t <= to + 1e-9; t += 0.5) z.Update([Feed.At(id, 150, 150)], [], t);
        z.Update([], [id], to + 0.5);
    }
}
