using System.Globalization;
using System.Text.Json;
using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary><c>./ephemera eval-counts</c> through the built CLI.</summary>
public class EvalCountsVerbTests
{
    private static JsonElement LastJson(string stdout) =>
        JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;

    [Fact]
    public void GroundTruthAgainstItselfHasNoErrorAndMatchesAnalyze()
    {
        var gt = TestPaths.Mot15("ADL-Rundle-6/gt/gt.txt");
        var r = ChildProcess.Cli("eval-counts", "--gt", gt, "--results", gt, "--line", "960,0,960,1080", "--line", "480,0,480,1080");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var json = LastJson(r.StdOut);
        Assert.Equal(0, json.GetProperty("total_abs_error").GetInt32());
        var first = json.GetProperty("lines")[0];
        // The same counts as the library's line counter (what `analyze` reports).
        var lib = new PurposeAnalytics(new PurposeAnalyticsOptions([new CountingLineOptions(new Point2(960, 0), new Point2(960, 1080))]));
        MotReplay.Run(MotChallenge.Read(gt), lib, 30);
        var want = lib.Snapshot().Lines[0];
        Assert.True(want.In + want.Out > 0);
        Assert.Equal(want.In, first.GetProperty("gt").GetProperty("in").GetInt32());
        Assert.Equal(want.Out, first.GetProperty("gt").GetProperty("out").GetInt32());
        Assert.Equal(want.In, first.GetProperty("results").GetProperty("in").GetInt32());
        Assert.Equal(json.GetProperty("total_gt").GetInt32(), json.GetProperty("total_results").GetInt32());
    }

    [Fact]
    public void MissingTracksShowAsSignedError()
    {
        // Drop every ground-truth track that crosses x = 960 leftwards ("in" for a top-to-bottom
        // line): the results then miss exactly gt.in crossings in and none out.
        using var tmp = new TempDir();
        var gtPath = TestPaths.Mot15("ADL-Rundle-6/gt/gt.txt");
        var rows = MotChallenge.Read(gtPath);
        var crossersIn = rows.Where(r => r.Confidence != 0).GroupBy(r => r.Id)
            .Where(g =>
            {
                var o = g.OrderBy(r => r.Frame).ToList();
                return o[0].Box.CenterX > 980 && o[^1].Box.CenterX < 940;
            })
            .Select(g => g.Key).ToHashSet();
        Assert.NotEmpty(crossersIn);
        string res = tmp.File("res.txt");
        File.WriteAllLines(res, File.ReadLines(gtPath).Where(l => !crossersIn.Contains(int.Parse(l.Split(',')[1], CultureInfo.InvariantCulture))));
        var r = ChildProcess.Cli("eval-counts", "--gt", gtPath, "--results", res, "--line", "960,0,960,1080");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var line = LastJson(r.StdOut).GetProperty("lines")[0];
        int errIn = line.GetProperty("error").GetProperty("in").GetInt32();
        Assert.True(errIn < 0 && errIn >= -crossersIn.Count, line.ToString());
        Assert.Equal(0, line.GetProperty("error").GetProperty("out").GetInt32());
        Assert.Equal(-errIn, line.GetProperty("abs_error").GetInt32());
    }

    [Theory]
    [InlineData("--line", "1,2,3")]
    [InlineData("--results", "/nonexistent/res.txt")]
    [InlineData("--anchor", "feet")]
    public void BadInputExitsTwoNamingTheCause(string option, string value)
    {
        var gt = TestPaths.Mot15("TUD-Campus/gt/gt.txt");
        var args = new List<string> { "eval-counts", "--gt", gt, option, value };
        if (option != "--line") args.AddRange(["--line", "0,0,10,10"]);
        if (option != "--results") args.AddRange(["--results", gt]);
        var r = ChildProcess.Cli(args.ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(value, r.StdErr);
        Assert.Equal("", r.StdOut);
    }

    [Fact]
    public void NoLineIsUsageErrorAndHelpWorks()
    {
        var gt = TestPaths.Mot15("TUD-Campus/gt/gt.txt");
        var r = ChildProcess.Cli("eval-counts", "--gt", gt, "--results", gt);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--line", r.StdErr);
        var h = ChildProcess.Cli("eval-counts", "--help");
        Assert.Equal(0, h.ExitCode);
        Assert.Contains("--results", h.StdOut + h.StdErr);
    }
}
