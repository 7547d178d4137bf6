using System.Text.Json;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary><c>anonymise</c> on a file: released frames become JPEGs, the summary proves the wipe, a manifest without images refuses.</summary>
[Collection("engine")]
public sealed class AnonymiseVerbTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public void EveryNthFrameIsAnonymisedCheckedAndWrittenAsJpeg()
    {
        var outDir = _dir.File("out");
        var r = ChildProcess.Cli("anonymise", "--input", TestPaths.Video("car-detection.mp4"), "--output", outDir, "--every", "100", "--max-frames", "201");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var frames = lines[..^1].Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([0L, 100L, 200L], frames.Select(f => f.GetProperty("frame").GetInt64()));
        foreach (var f in frames)
        {
            bool released = f.GetProperty("released").GetBoolean();
            Assert.Equal(released, f.GetProperty("output_check").GetString() != "withheld");
            if (!released) continue;
            var bytes = File.ReadAllBytes(f.GetProperty("file").GetString()!);
            Assert.True(bytes.Length > 1000 && bytes[0] == 0xFF && bytes[1] == 0xD8, "not a JPEG");
        }
        Assert.Equal(frames.Count(f => f.GetProperty("released").GetBoolean()), Directory.GetFiles(outDir, "frame-*.jpg").Length);
        var summary = JsonDocument.Parse(lines[^1]).RootElement;
        Assert.Equal(201, summary.GetProperty("frames_decoded").GetInt64());
        Assert.Equal(summary.GetProperty("pixel_buffers_allocated").GetInt64(), summary.GetProperty("pixel_buffers_wiped").GetInt64());
        Assert.Equal(0, summary.GetProperty("pixel_buffers_leaked").GetInt64());
    }

    [Fact]
    public void AManifestThatDoesNotDeclareAnonymisedImagesRefuses()
    {
        var r = ChildProcess.Cli("anonymise", "--input", TestPaths.Video("car-detection.mp4"), "--output", _dir.File("out"),
            "--manifest", Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("M2", r.StdErr);
        Assert.False(Directory.Exists(_dir.File("out")) && Directory.GetFiles(_dir.File("out")).Length > 0);
    }

    public void Dispose() => _dir.Dispose();
}
