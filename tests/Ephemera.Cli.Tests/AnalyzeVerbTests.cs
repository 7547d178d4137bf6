using System.Text.Json;
using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary><c>./ephemera analyze</c> end to end, through the built CLI.</summary>
public class AnalyzeVerbTests
{
    [Fact]
    public void CountsAdlRundle6GroundTruthLikeTheLibraryInTheDocumentedShape()
    {
        var gt = TestPaths.Mot15("ADL-Rundle-6/gt/gt.txt");
        var r = ChildProcess.Cli("analyze", "--tracks", gt, "--line", "960,0,960,1080", "--line", "480,0,480,1080",
            "--zone", "left:0,500,960,500,960,1080,0,1080", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        var lines = doc.RootElement.GetProperty("lines");
        Assert.Equal(2, lines.GetArrayLength());
        var first = lines[0];
        Assert.Equal(["line", "in", "out", "by_class"], first.EnumerateObject().Select(p => p.Name));
        Assert.Equal([960.0, 0, 960, 1080], first.GetProperty("line").EnumerateArray().Select(e => e.GetDouble()));

        // Same numbers as the library run directly (30 fps from seqinfo.ini).
        var lib = new PurposeAnalytics(new PurposeAnalyticsOptions([new CountingLineOptions(new Point2(960, 0), new Point2(960, 1080))]));
        MotReplay.Run(MotChallenge.Read(gt), lib, 30);
        var want = lib.Snapshot().Lines[0];
        Assert.Equal(want.In, first.GetProperty("in").GetInt32());
        Assert.Equal(want.Out, first.GetProperty("out").GetInt32());
        Assert.Equal(want.In, first.GetProperty("by_class").GetProperty("person").GetProperty("in").GetInt32());
        Assert.True(want.In + want.Out > 0);

        var zone = Assert.Single(doc.RootElement.GetProperty("zones").EnumerateArray());
        Assert.Equal("left", zone.GetProperty("zone").GetString());
        Assert.True(zone.GetProperty("max_occupancy").GetInt32() > 0);
    }

    [Theory]
    [InlineData("--line", "1,2,3")]
    [InlineData("--anchor", "feet")]
    [InlineData("--zone", "z:1,2,3,4")]
    public void BadInputExitsTwoNamingTheCause(string option, string value)
    {
        var gt = TestPaths.Mot15("TUD-Campus/gt/gt.txt");
        var args = new List<string> { "analyze", "--tracks", gt, "--json", option, value };
        if (option != "--line") args.AddRange(["--line", "0,0,10,10"]);
        var r = ChildProcess.Cli(args.ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(value, r.StdErr);
        Assert.Equal("", r.StdOut);
    }

    [Fact]
    public void MissingTrackFileExitsTwo()
    {
        var r = ChildProcess.Cli("analyze", "--tracks", "/nonexistent/res.txt", "--line", "0,0,10,10", "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("/nonexistent/res.txt", r.StdErr);
    }
}

public class AnalyzeVerbFloorTests
{
    [Fact]
    public void FloorCalibrationGivesTransitionsAHeatMapAndIconsWithoutTrajectoriesByDefault()
    {
        using var dir = new TempDir();
        var gt = TestPaths.Mot15("TUD-Campus/gt/gt.txt");
        string heat = dir.File("heat.png"), icons = dir.File("icons.png");
        var r = ChildProcess.Cli("analyze", "--tracks", gt, "--json",
            "--floor-calibration", "0,480,0,0; 640,480,8,0; 640,150,8,12; 0,150,0,12", "--floor-size", "8x12",
            "--floor-zone", "west:0,0,4,0,4,12,0,12", "--floor-zone", "east:4,0,8,0,8,12,4,12",
            "--heatmap", heat, "--icons", icons);
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        var flow = doc.RootElement.GetProperty("flow");
        Assert.True(flow.TryGetProperty("transitions", out _));
        Assert.False(flow.TryGetProperty("trajectories", out _));
        Assert.Equal("IconImage", doc.RootElement.GetProperty("crowd").GetProperty("data_class").GetString());
        byte[] sig = [0x89, 0x50, 0x4E, 0x47];
        Assert.Equal(sig, File.ReadAllBytes(heat)[..4]);
        Assert.Equal(sig, File.ReadAllBytes(icons)[..4]);
    }
}
