using System.Text.Json;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary><c>forecast</c> reads a case-1 camera's released aggregates from the store and forecasts the checkout queue.</summary>
public class ForecastVerbTests
{
    private static int Truth(DateTimeOffset t) => 20 + 10 * (int)t.DayOfWeek + t.Hour;

    [Fact]
    public void ForecastFromStoredAggregatesRecoversTheWeeklyPattern()
    {
        using var dir = new TempDir();
        string db = dir.File("e.db");
        var jst = TimeSpan.FromHours(9);
        var from = new DateTimeOffset(2026, 11, 30, 9, 0, 0, jst); // a Monday
        var m = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case1-store-attributes.yaml"));
        using (var store = EphemeraStore.Open(db))
        {
            store.RegisterManifest(m);
            string[] rows = ["18-29", "30-39", "unknown"], cols = ["female", "male", "unknown"];
            for (int h = 1; h <= 14 * 24; h++)
            {
                var t = from.AddHours(-h);
                var counts = new int[3, 3];
                counts[1, 1] = Truth(t); // ≥ k = 10: released as is
                store.WriteCountTable(m.CameraId, DataClass.AttributeAggregate, t.ToUniversalTime(), TimeSpan.FromHours(1), rows, cols, counts);
            }
        }
        var r = ChildProcess.Cli("forecast", "--db", db, "--camera", m.CameraId, "--service-rate", "30", "--hours", "3",
            "--from", from.ToString("o"), "--utc-offset", "+09:00");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        var bins = doc.RootElement.GetProperty("bins").EnumerateArray().ToList();
        Assert.Equal(3, bins.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Truth(from.AddHours(i)), bins[i].GetProperty("expected_arrivals").GetDouble(), 6);
            Assert.Equal("WeekdayHour", bins[i].GetProperty("basis").GetString());
        }
        Assert.Equal(2, bins[0].GetProperty("tills").GetInt32()); // λ 39/h, μ 30/h: Wq ≈ 1.46 min ≤ 2 min
        Assert.Equal(14 * 24, doc.RootElement.GetProperty("history_bins").GetInt32());
    }

    [Theory]
    [InlineData(new[] { "forecast", "--camera", "x" }, "--service-rate is required")]
    [InlineData(new[] { "forecast", "--camera", "x", "--service-rate", "30", "--db", "/nonexistent/e.db" }, "store not found: /nonexistent/e.db")]
    [InlineData(new[] { "forecast", "--camera", "x", "--service-rate", "0", "--db", "/dev/null" }, "service rate")]
    public void BadUsageExitsTwoNamingTheCause(string[] args, string expected)
    {
        var r = ChildProcess.Cli(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.StdErr);
    }
}
