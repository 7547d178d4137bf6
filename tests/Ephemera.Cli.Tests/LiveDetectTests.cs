using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary>`detect` is free on files (offline evaluation) and gated on live cameras.</summary>
public class LiveDetectTests
{
    private static string Manifests(string file) => Path.Combine(RepoPaths.Root, "configs", "manifests", file);

    [Fact]
    public void DetectOnALiveCameraWithoutAManifestIsRefusedBeforeAnyFrameIsRead()
    {
        // No server listens here: the refusal must come before the source is opened at all.
        var r = ChildProcess.Cli("detect", "--input", "rtsp://127.0.0.1:9/cam", "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--manifest", r.StdErr);
        Assert.Contains("BP-a", r.StdErr);
        Assert.Equal("", r.StdOut.Trim());
    }

    [Fact]
    public void DetectOnALiveCameraWhoseManifestKeepsTracksInMemoryIsRefused()
    {
        using var dir = new TempDir();
        var r = ChildProcess.Cli("detect", "--input", "rtsp://127.0.0.1:9/cam", "--manifest", Manifests("case3-outdoor-counts.yaml"),
            "--camera", "plaza-count-1", "--db", dir.File("e.db"), "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("M2", r.StdErr);
        Assert.Contains("Track", r.StdErr);
        Assert.Equal("", r.StdOut.Trim());
    }

    [Fact]
    public void DetectOnAFileNeedsNoManifest()
    {
        var r = ChildProcess.Cli("detect", "--input", TestPaths.Video("vtest.avi"), "--max-frames", "2", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Equal(2, r.StdOut.Trim().Split('\n').Length);
        Assert.Contains("at 416x416", r.StdErr); // a 768×576 source keeps the manifest's size (auto)
    }
}

/// <summary><c>detect --tiles N</c>: side-by-side crops merged into one frame's detections.</summary>
public class TiledDetectTests
{
    private static List<(int Cls, float Score, float X, float Y, float W, float H)> Dets(string stdout, int frame) =>
        System.Text.Json.JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[frame]).RootElement
            .GetProperty("dets").EnumerateArray()
            .Select(d => (d.GetProperty("cls").GetInt32(), d.GetProperty("score").GetSingle(),
                d.GetProperty("box")[0].GetSingle(), d.GetProperty("box")[1].GetSingle(), d.GetProperty("box")[2].GetSingle(), d.GetProperty("box")[3].GetSingle()))
            .ToList();

    [Fact]
    public void TwoTilesFindAtLeastTheWholeFramesPeopleWithoutDuplicates()
    {
        string video = TestPaths.Mot15("ADL-Rundle-6/video.mp4");
        var whole = ChildProcess.Cli("detect", "--input", video, "--max-frames", "2", "--tiles", "1", "--json");
        var tiled = ChildProcess.Cli("detect", "--input", video, "--max-frames", "2", "--tiles", "2", "--json");
        Assert.True(whole.ExitCode == 0, whole.StdErr);
        Assert.True(tiled.ExitCode == 0, tiled.StdErr);
        for (int f = 0; f < 2; f++)
        {
            var w = Dets(whole.StdOut, f).Where(d => d.Cls == 0).ToList();
            var t = Dets(tiled.StdOut, f).Where(d => d.Cls == 0).ToList();
            Assert.True(t.Count >= w.Count, $"frame {f}: tiled {t.Count} people, whole frame {w.Count}");
            Assert.All(t, d => Assert.True(d.X >= 0 && d.Y >= 0 && d.X + d.W <= 1920.5 && d.Y + d.H <= 1080.5, $"box outside the frame: {d}"));
            // Merged across the seam: no two people left overlapping as much as NMS removes.
            for (int i = 0; i < t.Count; i++)
                for (int j = i + 1; j < t.Count; j++)
                    Assert.True(BoxF.IoU(new BoxF(t[i].X, t[i].Y, t[i].W, t[i].H), new BoxF(t[j].X, t[j].Y, t[j].W, t[j].H)) <= 0.45f, $"frame {f}: duplicate {t[i]} / {t[j]}");
        }
        // A person seen whole by one tile is matched by a box of the whole-frame run (same object, same place).
        var w0 = Dets(whole.StdOut, 0).Where(d => d.Cls == 0 && d.Score > 0.6).ToList();
        var t0 = Dets(tiled.StdOut, 0).Where(d => d.Cls == 0).ToList();
        Assert.All(w0, d => Assert.Contains(t0, e => BoxF.IoU(new BoxF(d.X, d.Y, d.W, d.H), new BoxF(e.X, e.Y, e.W, e.H)) > 0.5f));
    }

    [Fact]
    public void TilesOutOfRangeIsExit2()
    {
        var r = ChildProcess.Cli("detect", "--input", TestPaths.Video("vtest.avi"), "--tiles", "5", "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--tiles", r.StdErr);
    }
}
