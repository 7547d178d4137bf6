using System.Globalization;
using System.Text.Json;
using Ephemera.Core;
using Ephemera.Inference.Postprocess;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Inference.Tests;

public class DetectionAccuracyTests(ITestOutputHelper log)
{
    internal sealed record Det(int Cls, float Score, BoxF Box);

    internal static List<Det> ToList(Detections d)
    {
        var l = new List<Det>();
        for (int i = 0; i < d.Count; i++) l.Add(new Det(d.ClassIds[i], d.Scores[i], d.Boxes[i]));
        return l;
    }

    internal static Dictionary<int, List<Det>> RunReference(string video, int[] frames, int size = 416, float score = 0.3f)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "Reference", "yolox_opencv_reference.py");
        var r = ChildProcess.Run("/usr/bin/python3", [script, video, TestModels.Fetch("yolox_nano_coco_416").OriginalPath,
            string.Join(",", frames), size.ToString(CultureInfo.InvariantCulture), score.ToString(CultureInfo.InvariantCulture), "0.45"]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        return ParseJsonLines(r.StdOut);
    }

    internal static Dictionary<int, List<Det>> ParseJsonLines(string text)
    {
        var result = new Dictionary<int, List<Det>>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            using var doc = JsonDocument.Parse(line);
            var dets = doc.RootElement.GetProperty("dets").EnumerateArray().Select(d =>
            {
                var b = d.GetProperty("box").EnumerateArray().Select(x => x.GetSingle()).ToArray();
                return new Det(d.GetProperty("cls").GetInt32(), d.GetProperty("score").GetSingle(), new BoxF(b[0], b[1], b[2], b[3]));
            }).ToList();
            result[doc.RootElement.GetProperty("frame").GetInt32()] = dets;
        }
        return result;
    }

    /// <summary>Fraction of <paramref name="from"/> boxes with score ≥ 0.5 that have a same-class box in <paramref name="to"/> at IoU ≥ 0.85.</summary>
    internal static (int Matched, int Total) Match(IEnumerable<Det> from, IReadOnlyList<Det> to)
    {
        int m = 0, t = 0;
        foreach (var a in from.Where(d => d.Score >= 0.5f))
        {
            t++;
            if (to.Any(b => b.Cls == a.Cls && BoxF.IoU(a.Box, b.Box) >= 0.85f)) m++;
        }
        return (m, t);
    }

    /// <summary>
    /// Acceptance: <c>ephemera detect</c> (native FFmpeg decode → YUV → one-pass preprocessing → ORT →
    /// decode) against OpenCV's own decode + cv2.resize + DNN on the same frames.
    /// </summary>
    [Theory]
    [InlineData("video/vtest.avi", 40)]
    [InlineData("mot15/ADL-Rundle-6/video.mp4", 20)]
    public void DetectVerbMatchesOpenCvDnnReference(string video, int every)
    {
        string path = RepoPaths.Data(video);
        var frames = Enumerable.Range(0, 10).Select(i => i * every).ToArray();
        var reference = RunReference(path, frames);
        Assert.True(File.Exists(ChildProcess.CliDll), $"CLI not built: {ChildProcess.CliDll}");
        var cli = ChildProcess.Cli("detect", "--input", path, "--every", every.ToString(CultureInfo.InvariantCulture),
            "--max-frames", (every * 10).ToString(CultureInfo.InvariantCulture), "--score", "0.3",
            "--input-size", "416", "--json"); // the reference runs at 416; detect's auto size would pick 640 for 1080p
        Assert.True(cli.ExitCode == 0, cli.StdErr);
        var engine = ParseJsonLines(cli.StdOut);
        Assert.Equal(frames, engine.Keys.Order());
        Assert.Equal(frames, reference.Keys.Order());

        int rm = 0, rt = 0, em = 0, et = 0;
        foreach (int f in frames)
        {
            var (a, b) = Match(reference[f], engine[f]); rm += a; rt += b;
            var (c, d) = Match(engine[f], reference[f]); em += c; et += d;
        }
        log.WriteLine($"{video}: reference boxes (score>=0.5) matched by engine {rm}/{rt} = {(double)rm / rt:F3}; engine boxes matched by reference {em}/{et} = {(double)em / et:F3}");
        Assert.True(rt >= 20 && et >= 20, $"too few boxes to judge: {rt}, {et}");
        Assert.True(rm >= 0.95 * rt, $"only {rm}/{rt} reference boxes matched");
        Assert.True(em >= 0.95 * et, $"only {em}/{et} engine boxes matched");
    }
}
