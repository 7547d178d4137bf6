using System.Text.Json;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary>End to end through the built CLI: <c>track</c> and <c>eval-mot</c>.</summary>
public class TrackingVerbTests
{
    private static JsonElement LastJson(string stdout) =>
        JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;

    [Fact]
    public void EvalMotReproducesTheOracleVector()
    {
        var r = ChildProcess.Cli("eval-mot", "--gt", TestPaths.Mot15("TUD-Campus/gt/gt.txt"),
            "--results", TestPaths.Mot15("TUD-Campus/oracle/tracker.txt"));
        Assert.True(r.ExitCode == 0, r.StdErr);
        var m = LastJson(r.StdOut).GetProperty("sequences").GetProperty("TUD-Campus");
        Assert.Equal(0.557659, m.GetProperty("IDF1").GetDouble(), 1e-3);
        Assert.Equal(0.729730, m.GetProperty("IDP").GetDouble(), 1e-3);
        Assert.Equal(0.451253, m.GetProperty("IDR").GetDouble(), 1e-3);
        Assert.Equal(0.582173, m.GetProperty("Recall").GetDouble(), 1e-3);
        Assert.Equal(0.941441, m.GetProperty("Precision").GetDouble(), 1e-3);
        Assert.Equal(0.526462, m.GetProperty("MOTA").GetDouble(), 1e-3);
        Assert.Equal(0.277201, m.GetProperty("MOTP").GetDouble(), 1e-3);
        Assert.Equal((8, 1, 6, 1), (m.GetProperty("GT").GetInt32(), m.GetProperty("MT").GetInt32(), m.GetProperty("PT").GetInt32(), m.GetProperty("ML").GetInt32()));
        Assert.Equal((13, 150, 7, 7), (m.GetProperty("FP").GetInt32(), m.GetProperty("FN").GetInt32(), m.GetProperty("IDSW").GetInt32(), m.GetProperty("Frag").GetInt32()));
        foreach (var key in new[] { "HOTA", "DetA", "AssA", "LocA" }) Assert.InRange(m.GetProperty(key).GetDouble(), 0.01, 1);
    }

    [Fact]
    public void TrackThenEvaluateTudCampus()
    {
        using var tmp = new TempDir();
        string res = tmp.File("results/TUD-Campus.txt");
        var t = ChildProcess.Cli("track", "--detections", TestPaths.Mot15("TUD-Campus/det/det.txt"),
            "--seqinfo", TestPaths.Mot15("TUD-Campus/seqinfo.ini"), "--output", res);
        Assert.True(t.ExitCode == 0, t.StdErr);
        var summary = LastJson(t.StdOut);
        Assert.Equal(71, summary.GetProperty("frames").GetInt32());
        Assert.InRange(summary.GetProperty("tracks").GetInt32(), 5, 30);
        Assert.True(summary.GetProperty("fps").GetDouble() > 0);
        var firstRow = File.ReadLines(res).First().Split(',');
        Assert.Equal(10, firstRow.Length);
        Assert.Equal(["-1", "-1", "-1"], firstRow[7..]);

        // The --gt-root form: sequences are subdirectories with gt/gt.txt.
        string gtRoot = tmp.File("gt");
        Directory.CreateDirectory(Path.Combine(gtRoot, "TUD-Campus", "gt"));
        File.Copy(TestPaths.Mot15("TUD-Campus/gt/gt.txt"), Path.Combine(gtRoot, "TUD-Campus", "gt", "gt.txt"));
        var e = ChildProcess.Cli("eval-mot", "--gt-root", gtRoot, "--results-dir", tmp.File("results"));
        Assert.True(e.ExitCode == 0, e.StdErr);
        var json = LastJson(e.StdOut);
        var seq = json.GetProperty("sequences").GetProperty("TUD-Campus");
        Assert.True(seq.GetProperty("HOTA").GetDouble() > 0.519, seq.ToString());
        Assert.True(seq.GetProperty("MOTA").GetDouble() > 0.627, seq.ToString());
        Assert.True(seq.GetProperty("IDF1").GetDouble() > 0.727, seq.ToString());
        Assert.Equal(seq.GetProperty("HOTA").GetDouble(), json.GetProperty("combined").GetProperty("HOTA").GetDouble(), 9);
    }

    [Fact]
    public void SortModeRuns()
    {
        using var tmp = new TempDir();
        var t = ChildProcess.Cli("track", "--detections", TestPaths.Mot15("TUD-Campus/det/det.txt"), "--mode", "sort", "--output", tmp.File("r.txt"));
        Assert.True(t.ExitCode == 0, t.StdErr);
        Assert.True(new FileInfo(tmp.File("r.txt")).Length > 0);
    }

    [Fact]
    public void MissingDetectionFileIsExit2NamingTheFile()
    {
        using var tmp = new TempDir();
        string missing = tmp.File("nope.txt");
        var r = ChildProcess.Cli("track", "--detections", missing, "--output", tmp.File("r.txt"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(missing, r.StdErr);
        var e = ChildProcess.Cli("eval-mot", "--gt", missing, "--results", missing);
        Assert.Equal(2, e.ExitCode);
        Assert.Contains(missing, e.StdErr);
    }

    [Fact]
    public void MalformedRowIsExit2NamingFileAndLine()
    {
        using var tmp = new TempDir();
        string bad = tmp.File("det.txt");
        File.WriteAllLines(bad, ["1,-1,10,10,20,40,0.9,-1,-1,-1", "2,-1,10,x,20,40,0.9,-1,-1,-1"]);
        var r = ChildProcess.Cli("track", "--detections", bad, "--output", tmp.File("r.txt"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{bad}:2", r.StdErr);
        var e = ChildProcess.Cli("eval-mot", "--gt", TestPaths.Mot15("TUD-Campus/gt/gt.txt"), "--results", bad);
        Assert.Equal(2, e.ExitCode);
        Assert.Contains($"{bad}:2", e.StdErr);
    }

    [Fact]
    public void DetectHeaderAppliesTheDetectorsProfileLikeDetectorFlag()
    {
        // TUD-Campus's public boxes with an ephemera-detect header naming YOLOX-Nano: track applies that
        // model's tracking profile (other results than without the header), exactly as --detector does.
        using var tmp = new TempDir();
        string plain = TestPaths.Mot15("TUD-Campus/det/det.txt"), headed = tmp.File("det.txt");
        File.WriteAllLines(headed, ["# ephemera-detect model=yolox_nano_coco_416 every=1 input=640x640 tiles=2", .. File.ReadAllLines(plain)]);
        string Track(string det, string name, params string[] extra)
        {
            string res = tmp.File(name);
            var r = ChildProcess.Cli(["track", "--detections", det, "--seqinfo", TestPaths.Mot15("TUD-Campus/seqinfo.ini"), "--output", res, .. extra]);
            Assert.True(r.ExitCode == 0, r.StdErr);
            return File.ReadAllText(res);
        }
        string withHeader = Track(headed, "a.txt"), withFlag = Track(plain, "b.txt", "--detector", "yolox_nano_coco_416"), without = Track(plain, "c.txt");
        Assert.Equal(withFlag, withHeader);
        Assert.NotEqual(without, withHeader);
        // A named mode reproduces its figures as measured: the profile does not apply.
        Assert.Equal(Track(plain, "d.txt", "--mode", "byte-ocsort"), Track(headed, "e.txt", "--mode", "byte-ocsort"));

        var unknown = ChildProcess.Cli("track", "--detections", plain, "--output", tmp.File("f.txt"), "--detector", "nope");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("yolox_nano_coco_416", unknown.StdErr);
        string bad = tmp.File("bad.txt");
        File.WriteAllLines(bad, ["# ephemera-detect model=yolox_nano_coco_416 every=0", "1,-1,10,10,20,40,0.9,-1,-1,-1"]);
        var badEvery = ChildProcess.Cli("track", "--detections", bad, "--output", tmp.File("g.txt"));
        Assert.Equal(2, badEvery.ExitCode);
        Assert.Contains($"{bad}:1: every", badEvery.StdErr);
    }

    [Fact]
    public void BadUsageIsExit2()
    {
        Assert.Equal(2, ChildProcess.Cli("track", "--detections", TestPaths.Mot15("TUD-Campus/det/det.txt"), "--output", "/tmp/x.txt", "--mode", "deepsort").ExitCode);
        Assert.Equal(2, ChildProcess.Cli("track", "--output", "/tmp/x.txt").ExitCode);
        Assert.Equal(2, ChildProcess.Cli("eval-mot", "--gt", TestPaths.Mot15("TUD-Campus/gt/gt.txt")).ExitCode);
        Assert.Equal(0, ChildProcess.Cli("eval-mot", "--help").ExitCode);
    }
}
