using System.Globalization;
using System.Text;
using System.Text.Json;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary>
/// The chain a user runs with the defaults: <c>detect</c> on ADL-Rundle-6's 1080p video (engine
/// detector, its auto input size, 640 for a 1080p source, and 0.3 score cut) → people as MOTChallenge rows → <c>track</c>
/// with no mode or threshold flag → <c>eval-mot</c> against the ground truth. Detection runs once per
/// test run (<see cref="AdlRundle6Detections"/>); the tests share it.
/// </summary>
public sealed class DefaultTrackingEndToEndTests(AdlRundle6Detections detections) : IClassFixture<AdlRundle6Detections>
{
    private static JsonElement LastJson(string stdout) =>
        JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;

    private static JsonElement TrackAndEvaluate(TempDir tmp, string detPath, params string[] extra)
    {
        string res = tmp.File($"res{extra.Length}{string.Join("", extra)}.txt");
        var t = ChildProcess.Cli(["track", "--detections", detPath, "--seqinfo", TestPaths.Mot15("ADL-Rundle-6/seqinfo.ini"), "--output", res, .. extra]);
        Assert.True(t.ExitCode == 0, t.StdErr);
        var e = ChildProcess.Cli("eval-mot", "--gt", TestPaths.Mot15("ADL-Rundle-6/gt/gt.txt"), "--results", res);
        Assert.True(e.ExitCode == 0, e.StdErr);
        return LastJson(e.StdOut).GetProperty("combined");
    }

    [Fact]
    public void DetectThenTrackWithDefaultsTracksTheStreet()
    {
        using var tmp = new TempDir();
        var auto = TrackAndEvaluate(tmp, detections.MotPath);
        var live = TrackAndEvaluate(tmp, detections.MotPath, "--mode", "live");
        var fixedMot15 = TrackAndEvaluate(tmp, detections.MotPath, "--mode", "byte-ocsort");
        var noGapFill = TrackAndEvaluate(tmp, detections.MotPath, "--interpolate", "0");
        double hota = auto.GetProperty("HOTA").GetDouble();
        // Issue 18's acceptance: HOTA ≥ 0.40 with every default (detect's auto input size picks 640
        // for this 1080p video; track's adaptive score thresholds and its offline gap filling).
        Assert.True(hota >= 0.40, $"default HOTA {hota:0.000}: {auto}");
        Assert.True(auto.GetProperty("MOTA").GetDouble() >= 0.50, auto.ToString());
        // At 640 the fixed live thresholds come level on HOTA (measured .412 vs .412; at 416 they
        // trail, .349 vs .377); the default keeps the better MOTA (.553 vs .532).
        Assert.True(hota >= live.GetProperty("HOTA").GetDouble() - 0.01, $"default {auto} vs live {live}");
        Assert.True(auto.GetProperty("MOTA").GetDouble() > live.GetProperty("MOTA").GetDouble(), $"default {auto} vs live {live}");
        Assert.True(hota > fixedMot15.GetProperty("HOTA").GetDouble() + 0.1, $"default {auto} vs byte-ocsort {fixedMot15}");
        Assert.True(hota > noGapFill.GetProperty("HOTA").GetDouble(), $"default {auto} vs --interpolate 0 {noGapFill}");
    }

    [Fact]
    public void DefaultChainCountsTheStreetLikeTheGroundTruth()
    {
        // Issue 18: the engine's count at x = 960 stays within 2 of the ground-truth tracks' count
        // (here both directions: |Δin| + |Δout| ≤ 2).
        using var tmp = new TempDir();
        string res = tmp.File("res.txt");
        var t = ChildProcess.Cli("track", "--detections", detections.MotPath, "--seqinfo", TestPaths.Mot15("ADL-Rundle-6/seqinfo.ini"), "--output", res);
        Assert.True(t.ExitCode == 0, t.StdErr);
        var e = ChildProcess.Cli("eval-counts", "--gt", TestPaths.Mot15("ADL-Rundle-6/gt/gt.txt"), "--results", res, "--line", "960,0,960,1080");
        Assert.True(e.ExitCode == 0, e.StdErr);
        var line = Assert.Single(LastJson(e.StdOut).GetProperty("lines").EnumerateArray());
        Assert.True(line.GetProperty("gt").GetProperty("in").GetInt32() + line.GetProperty("gt").GetProperty("out").GetInt32() > 0, line.ToString());
        Assert.True(line.GetProperty("abs_error").GetInt32() <= 2, line.ToString());
    }

    [Fact]
    public void DetectPicksTheLargerInputForA1080pSource() =>
        Assert.Contains("at 640x640", detections.StdErr);
}

/// <summary><c>ephemera detect</c> on ADL-Rundle-6's video once, people written as MOTChallenge rows (frames from 1).</summary>
public sealed class AdlRundle6Detections : IDisposable
{
    private readonly TempDir _dir = new();
    public string MotPath { get; }
    /// <summary>detect's stderr (its last line names the model and input size).</summary>
    public string StdErr { get; }

    public AdlRundle6Detections()
    {
        var r = ChildProcess.Cli("detect", "--input", TestPaths.Mot15("ADL-Rundle-6/video.mp4"), "--json");
        if (r.ExitCode != 0) throw new InvalidOperationException($"detect failed ({r.ExitCode}): {r.StdErr}");
        StdErr = r.StdErr;
        var sb = new StringBuilder();
        int frames = 0;
        foreach (var line in r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var j = JsonDocument.Parse(line).RootElement;
            int frame = j.GetProperty("frame").GetInt32() + 1;
            frames++;
            foreach (var d in j.GetProperty("dets").EnumerateArray())
            {
                if (d.GetProperty("cls").GetInt32() != 0) continue; // COCO person
                var b = d.GetProperty("box");
                sb.Append(string.Create(CultureInfo.InvariantCulture,
                    $"{frame},-1,{b[0].GetDouble()},{b[1].GetDouble()},{b[2].GetDouble()},{b[3].GetDouble()},{d.GetProperty("score").GetDouble()},-1,-1,-1\n"));
            }
        }
        if (frames != 525) throw new InvalidOperationException($"detect gave {frames} frames, expected 525");
        MotPath = _dir.File("det.txt");
        File.WriteAllText(MotPath, sb.ToString());
    }

    public void Dispose() => _dir.Dispose();
}
