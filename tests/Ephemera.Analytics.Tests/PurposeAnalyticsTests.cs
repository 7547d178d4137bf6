using System.Text.Json;
using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Analytics.Tests;

public class PurposeAnalyticsTests
{
    [Fact]
    public void RecordsCarryTheirDataClassAndValidJson()
    {
        var plan = new FloorPlan(10, 10, [FloorZone.Parse("A:0,0,5,0,5,10,0,10"), FloorZone.Parse("B:5,0,10,0,10,10,5,10")]);
        var a = new PurposeAnalytics(new PurposeAnalyticsOptions(
            [new CountingLineOptions(new Point2(500, 0), new Point2(500, 1000), timeBinSeconds: 10)],
            new ZoneAnalyserOptions([new ZoneOptions("left", Polygon.Parse("0,0,500,0,500,1000,0,1000"))], timeBinSeconds: 10),
            new FloorFlowOptions(FloorFlowTests.PixelsToMetres, plan, timeBinSeconds: 10, emitTrajectories: true),
            new CrowdIconOptions(FloorFlowTests.PixelsToMetres, plan, intervalSeconds: 1)));
        for (int f = 0; f <= 80; f++) a.Update([Feed.At(1, 100 + f * 10, 500)], [], f * 0.1);  // 1 → 9 m at 1 m/s: crosses x = 5 m
        a.Update([], [1], 8.2);
        Assert.Equal(0, a.TrackStateCount);
        var records = a.Snapshot().Records().ToList();
        var classes = records.Select(r => r.DataClass).ToHashSet();
        Assert.Subset(classes, new HashSet<DataClass> { DataClass.Count, DataClass.ZoneOccupancy, DataClass.DwellHistogram,
            DataClass.TransitionMatrix, DataClass.Trajectory, DataClass.HeatMap, DataClass.IconImage, DataClass.CrowdLevel });
        foreach (var r in records)
        {
            using var _ = JsonDocument.Parse(r.Json);
            Assert.Equal(r.DataClass is DataClass.IconImage or DataClass.HeatMap, r.Png != null);
        }
        var count = records.Single(r => r.DataClass == DataClass.Count);
        Assert.Equal("line:500,0,500,1000", count.Source);
        Assert.Contains("\"out\":1", count.Json);   // left → right on screen across a downward line is "out"
        var m = records.Single(r => r.DataClass == DataClass.TransitionMatrix);
        Assert.Contains("\"from\":\"A\",\"to\":\"B\",\"count\":1", m.Json);
        using var whole = JsonDocument.Parse(a.Snapshot().ToJson());
        Assert.Equal(1, whole.RootElement.GetProperty("lines")[0].GetProperty("out").GetInt32());
    }

    [Fact]
    public void WallClockTimestampsGiveClockAlignedBins()
    {
        var a = new PurposeAnalytics(new PurposeAnalyticsOptions([new CountingLineOptions(new Point2(0, 100), new Point2(200, 100), timeBinSeconds: 60)]));
        var t0 = new DateTimeOffset(2026, 11, 26, 9, 30, 59, TimeSpan.FromHours(9));   // 00:30:59 UTC
        double[] ys = [90, 95, 110, 120, 130];  // first frame below the line: 00:31:00.0 UTC
        for (int i = 0; i < ys.Length; i++) a.Update([Feed.At(1, 50, ys[i])], [], t0.AddSeconds(i * 0.5));
        var bin = a.Snapshot().Lines[0].Bins.Single();
        Assert.Equal(new DateTimeOffset(2026, 11, 26, 0, 31, 0, TimeSpan.Zero), DateTimeOffset.UnixEpoch.AddSeconds(bin.BinStartSeconds));
        Assert.Single(a.Flush(t0.AddMinutes(2)).Lines[0].Bins);
    }

    [Fact]
    public void DuplicateLineNamesAreRejected() =>
        Assert.Throws<EphemeraException>(() => new PurposeAnalyticsOptions([
            new CountingLineOptions(new Point2(0, 0), new Point2(1, 1)), new CountingLineOptions(new Point2(0, 0), new Point2(1, 1))]));
}
