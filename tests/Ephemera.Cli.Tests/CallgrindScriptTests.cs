using System.Text.Json;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary>
/// <c>bench/callgrind/run</c>: one short clip through decode → preprocess → detect → track under
/// callgrind, instruction counts per stage. Where a baseline for this CPU's instruction set is
/// committed, the script compares with it and exits 3 outside its tolerance, which fails this test:
/// a hot-path change that moves a count must update the baseline in the same commit.
/// </summary>
[Collection("engine")]
public sealed class CallgrindScriptTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public void CountsEveryStageOfTheShortClipAndStaysWithinTheBaseline()
    {
        var script = Path.Combine(RepoPaths.Root, "bench", "callgrind", "run");
        var r = ChildProcess.Run("bash", [script, "--input", TestPaths.Video("vtest.avi"), "--out", _dir.Path], TimeSpan.FromMinutes(12));
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}\n{r.StdErr}\n{r.StdOut}");

        // The harness balanced the ledger: every pixel buffer it allocated was wiped.
        Assert.Matches(@"pixel buffers allocated (\d+), wiped \1, leaked 0", r.StdErr);

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir.Path, "counts.json")));
        var perFrame = doc.RootElement.GetProperty("instructions_per_frame");
        long decode = perFrame.GetProperty("decode").GetInt64(), preprocess = perFrame.GetProperty("preprocess").GetInt64();
        long detect = perFrame.GetProperty("detect").GetInt64(), track = perFrame.GetProperty("track").GetInt64();
        Assert.All(new[] { decode, preprocess, detect, track }, c => Assert.True(c > 0, $"a stage counted {c} instructions"));
        // The detector is the bulk of a frame's work; a harness whose phases were cut wrongly would not show it.
        Assert.True(detect > 5 * (decode + preprocess), $"detect {detect} against decode {decode} + preprocess {preprocess}");
        Assert.True(track < preprocess, $"track {track} against preprocess {preprocess}");
        // ONNX Runtime runs in the detect phase: the phases really are separate. A few hundred
        // instructions of it may land elsewhere (a finaliser releasing a warm-up OrtValue on its own
        // thread), never a detector run: at most 0.1 % of the detect phase's.
        var phases = doc.RootElement.GetProperty("phases_by_component");
        long ortDetect = phases.GetProperty("detect").GetProperty("onnxruntime").GetInt64();
        long ortDecode = phases.GetProperty("decode").TryGetProperty("onnxruntime", out var d) ? d.GetInt64() : 0;
        Assert.True(ortDetect > 0);
        Assert.True(ortDecode * 1000 <= ortDetect, $"onnxruntime counted {ortDecode} instructions in the decode phase against {ortDetect} in detect");
    }

    public void Dispose() => _dir.Dispose();
}
