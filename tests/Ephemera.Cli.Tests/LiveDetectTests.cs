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
