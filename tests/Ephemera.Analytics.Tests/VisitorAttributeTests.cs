using Ephemera.Analytics.Attributes;
using Ephemera.Analytics.Forecast;
using Ephemera.Core;

namespace Ephemera.Analytics.Tests;

public class AgeBandTests
{
    [Fact]
    public void TenYearBandsMergeMinorsAndOpenAtSeventy()
    {
        var b = new AgeBands(10);
        Assert.Equal(["0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70+"], b.Labels);
        Assert.Equal(0, b.IndexOf(17.9)); Assert.Equal(1, b.IndexOf(18)); Assert.Equal(2, b.IndexOf(30)); Assert.Equal(6, b.IndexOf(95));
        Assert.Equal(["0-17", "18-24", "25-29", "30-34"], new AgeBands(5).Labels.Take(4));
        Assert.Contains("H3", Assert.Throws<EphemeraException>(() => new AgeBands(3)).Message);
    }
}

public class VisitorAttributeTests
{
    private static TrackedObject Person(int id, float x) => new(id, CocoClasses.Person, new BoxF(x, 100, 50, 150), 0.9f, TrackState.Confirmed, true);

    private static VisitorAttributeAnalyser New() => new(new VisitorAttributeOptions(new AgeBands(10), 3600));

    [Fact]
    public void AVisitorWhoseFaceNeverPassedTheGateIsCountedAsUnknownAndTotalsMatchTheVisitors()
    {
        var a = New();
        a.Update([Person(1, 0), Person(2, 300), Person(3, 600)], [], 10);
        // Track 1: three estimates, the best two say ~34 and male; track 2: female 25; track 3: none.
        Assert.True(a.Observe(new BoxF(2, 100, 50, 150), 34, 0.9f, 0.9f));
        Assert.True(a.Observe(new BoxF(0, 102, 50, 150), 36, 0.8f, 0.8f));
        Assert.True(a.Observe(new BoxF(300, 100, 50, 150), 25, 0.05f, 0.7f));
        Assert.False(a.Observe(new BoxF(1000, 100, 50, 150), 50, 0.5f, 1f)); // matches no track: dropped, counted
        Assert.Equal(3, a.TrackStateCount);
        a.Update([], [1, 2, 3], 20);
        Assert.Equal(0, a.TrackStateCount); // nothing per person outlives its track
        var bins = a.Flush(3600);
        var bin = Assert.Single(bins);
        Assert.Equal(3, bin.Total);
        int Row(string label) => bin.Rows.ToList().IndexOf(label);
        Assert.Equal(1, bin.Counts[Row("30-39"), 1]);   // male
        Assert.Equal(1, bin.Counts[Row("18-29"), 0]);   // female
        Assert.Equal(1, bin.Counts[Row("unknown"), 2]); // never passed the gate
        Assert.Equal(1, a.EstimatesUnmatched);
    }

    [Fact]
    public void OnlyTheBestEstimatesCountAndAnUndecidedSexGoesToUnknown()
    {
        var a = new VisitorAttributeAnalyser(new VisitorAttributeOptions(new AgeBands(10), 3600, estimatesPerTrack: 2));
        a.Update([Person(7, 0)], [], 0);
        a.Observe(new BoxF(0, 100, 50, 150), 80, 0.55f, 0.1f); // poor quality: replaced by the two better ones
        a.Observe(new BoxF(0, 100, 50, 150), 44, 0.52f, 0.9f);
        a.Observe(new BoxF(0, 100, 50, 150), 46, 0.48f, 0.9f);
        a.Update([], [7], 1);
        var bin = Assert.Single(a.Flush(7200));
        Assert.Equal(1, bin.Counts[bin.Rows.ToList().IndexOf("40-49"), 2]);
    }

    [Fact]
    public void WithAnEntranceZoneOnlyTracksSeenInItAreVisitors()
    {
        var door = new Polygon([new Point2(0, 0), new Point2(200, 0), new Point2(200, 400), new Point2(0, 400)]);
        var a = new VisitorAttributeAnalyser(new VisitorAttributeOptions(new AgeBands(10), 3600, entrance: door));
        a.Update([Person(1, 0), Person(2, 500)], [], 0);       // 1 at the door (feet at x 25, y 250), 2 elsewhere
        Assert.Equal(1, a.TrackStateCount);
        Assert.False(a.Observe(new BoxF(500, 100, 50, 150), 30, 0.9f, 1f)); // an estimate for a non-visitor is dropped
        a.Update([Person(2, 100)], [1], 1);                    // 2 walks into the door zone later: now a visitor
        a.Update([], [2], 2);
        Assert.Equal(2, Assert.Single(a.Flush(3600)).Total);
    }

    [Fact]
    public void BinsCloseOnlyWhenTheirHourIsOverAndByArrivalTime()
    {
        var a = New();
        a.Update([Person(1, 0)], [], 3599);
        a.Update([], [1], 3700); // arrived in the first hour, left in the second
        Assert.Empty(a.Flush(3599));
        var bin = Assert.Single(a.Flush(3600));
        Assert.Equal(0, bin.BinStartSeconds);
        Assert.Empty(a.Flush(99999));
    }
}

public class CheckoutForecastTests
{
    [Fact]
    public void ErlangCMatchesTheTextbookValues()
    {
        // a = 1, c = 2: C = 1/3, Lq = 1/3. a = 2, c = 3: C = 4/9, Lq = 8/9.
        var (c1, lq1, _) = CheckoutForecast.MMc(60, 60, 2);
        Assert.Equal(1.0 / 3, c1, 9); Assert.Equal(1.0 / 3, lq1, 9);
        var (c2, lq2, wq2) = CheckoutForecast.MMc(60, 30, 3);
        Assert.Equal(4.0 / 9, c2, 9); Assert.Equal(8.0 / 9, lq2, 9); Assert.Equal(8.0 / 9 / 60, wq2, 9);
        Assert.True(double.IsPositiveInfinity(CheckoutForecast.MMc(60, 30, 2).QueueLength)); // ρ = 1: unstable
    }

    /// <summary>Arrivals per weekday and hour of a synthetic store: 20 + 10·weekday + hour (known answer).</summary>
    private static int Truth(DateTimeOffset t) => 20 + 10 * (int)t.DayOfWeek + t.Hour;

    [Fact]
    public void SeasonalForecastRecoversASyntheticWeekAndSizesTheTills()
    {
        var jst = TimeSpan.FromHours(9);
        var from = new DateTimeOffset(2026, 11, 30, 9, 0, 0, jst); // a Monday, 9:00 in the store's time
        // Three weeks of hourly history, stored in UTC as the engine stores bins.
        var history = Enumerable.Range(1, 21 * 24).Select(h => from.AddHours(-h))
            .Select(t => new ArrivalBin(t.ToUniversalTime(), Truth(t))).ToList();
        var q = new CheckoutQueueOptions(serviceRatePerHour: 30, targetWait: TimeSpan.FromMinutes(2));
        var f = CheckoutForecast.Forecast(history, from, 6, q);
        Assert.Equal(6, f.Count);
        for (int i = 0; i < 6; i++)
        {
            var t = from.AddHours(i);
            Assert.Equal(t, f[i].Start);
            Assert.Equal(ForecastBasis.WeekdayHour, f[i].Basis);
            Assert.Equal(Truth(t), f[i].ExpectedArrivals, 9);
            // The tills are the fewest with Wq ≤ 2 min; one fewer would miss it (or be unstable).
            var (_, _, wq) = CheckoutForecast.MMc(Truth(t), 30, f[i].TillsNeeded);
            Assert.True(wq * 60 <= 2.0);
            Assert.True(f[i].TillsNeeded == 1 || CheckoutForecast.MMc(Truth(t), 30, f[i].TillsNeeded - 1).WaitHours * 60 > 2.0);
        }
        // Monday 9:00: λ = 20 + 10 + 9 = 39/h, μ = 30/h → 2 tills: a = 1.3, ρ = 0.65, C ≈ 0.512, Lq ≈ 0.951, Wq ≈ 1.46 min ≤ 2 min.
        Assert.Equal(2, f[0].TillsNeeded);
        Assert.Equal(0.65, f[0].Utilisation, 9);
        Assert.Equal(0.951, f[0].ExpectedQueueLength, 3);
        Assert.Equal(1.46, f[0].ExpectedWait.TotalMinutes, 2);
    }

    [Fact]
    public void ShortHistoryFallsBackToTheHourOfDayThenToTheOverallMean()
    {
        var from = new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);
        // Two days only: no weekday has two samples, every hour has two.
        var history = Enumerable.Range(1, 48).Select(h => from.AddHours(-h)).Select(t => new ArrivalBin(t, t.Hour * 2)).ToList();
        var q = new CheckoutQueueOptions(30);
        var f = CheckoutForecast.Forecast(history, from, 2, q);
        Assert.All(f, b => Assert.Equal(ForecastBasis.HourOfDay, b.Basis));
        Assert.Equal(18, f[0].ExpectedArrivals, 9);
        var one = CheckoutForecast.Forecast([new ArrivalBin(from.AddHours(-1), 12)], from, 1, q);
        Assert.Equal((ForecastBasis.Overall, 12.0), (one[0].Basis, one[0].ExpectedArrivals));
        Assert.Equal(ForecastBasis.None, CheckoutForecast.Forecast([], from, 1, q)[0].Basis);
        Assert.Contains("service rate", Assert.Throws<EphemeraException>(() => new CheckoutQueueOptions(0)).Message);
    }
}
