using System.Text.Json;
using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Cli.Verbs;

/// <summary>
/// <c>./ephemera eval-counts</c>: line counts from a track file against the counts the same lines
/// give on ground-truth tracks. Both files go through the analytics' own line counter
/// (<see cref="MotReplay"/> + <see cref="PurposeAnalytics"/>, as <c>analyze</c> does), so the
/// figure is what the engine's counting would report, not a second implementation of it.
/// </summary>
public sealed class EvalCountsVerb : IVerb
{
    public string Name => "eval-counts";
    public string Summary => "compare line counts from a track file with those from ground-truth tracks";
    public string Usage => """
        usage: ephemera eval-counts --gt GT.txt --results RES.txt --line x1,y1,x2,y2 [--line …]
                                    [--anchor bottom-center|center|top-center] [--fps F]
                                    [--min-frames N] [--min-distance PX]
          --gt            ground-truth tracks, MOTChallenge rows (conf 0 rows are ignore regions;
                          class column read as MOT16 classes, -1 = person)
          --results       tracker output, MOTChallenge rows (class column -1 = person, else COCO id)
          --line          a directed counting segment in image pixels (repeatable), as in `analyze`
          --anchor, --fps, --min-frames, --min-distance   as in `analyze` (fps default: seqinfo.ini
                          beside the ground truth, else 30)
        stdout: {"lines":[{"line":[x1,y1,x2,y2],"gt":{"in":N,"out":M},"results":{"in":N,"out":M},
                 "error":{"in":ΔN,"out":ΔM},"abs_error":|ΔN|+|ΔM|}],"total_gt":…,"total_results":…,
                 "total_abs_error":…}  (Δ = results − gt)
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["gt", "results", "line", "anchor", "fps", "min-frames", "min-distance"], []);
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'");
        string gtPath = a.Require("gt"), resPath = a.Require("results");
        if (a.All("line").Count == 0) throw new UsageException("give at least one --line x1,y1,x2,y2");
        var anchor = a.Get("anchor") is { } an ? Anchors.Parse(an) : AnchorPoint.BottomCenter;
        double fps = a.Get("fps") != null ? a.GetDouble("fps", 30) : MotReplay.FrameRateBeside(gtPath) ?? 30;
        int minFrames = a.GetInt("min-frames", 3);
        double minDistance = a.GetDouble("min-distance", 4);
        var lines = a.All("line").Select(l =>
        {
            var (s, e) = CountingLineOptions.ParseSegment(l);
            return new CountingLineOptions(s, e, anchor, minFrames, minDistance);
        }).ToArray();
        if (!File.Exists(gtPath)) throw new EphemeraException($"{gtPath}: ground-truth file not found");
        if (!File.Exists(resPath)) throw new EphemeraException($"{resPath}: results file not found");

        // Both read before any output: a bad file never leaves half an object on stdout.
        var gt = Count(MotChallenge.Read(gtPath), lines, fps, MotClassColumn.Mot16);
        var res = Count(MotChallenge.Read(resPath), lines, fps, MotClassColumn.Coco);

        int totalGt = 0, totalRes = 0, totalErr = 0;
        using var stream = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteStartArray("lines");
            for (int i = 0; i < lines.Length; i++)
            {
                var g = gt[i]; var r = res[i];
                int err = Math.Abs(r.In - g.In) + Math.Abs(r.Out - g.Out);
                totalGt += g.In + g.Out; totalRes += r.In + r.Out; totalErr += err;
                w.WriteStartObject();
                w.WriteStartArray("line");
                w.WriteNumberValue(g.Start.X); w.WriteNumberValue(g.Start.Y); w.WriteNumberValue(g.End.X); w.WriteNumberValue(g.End.Y);
                w.WriteEndArray();
                w.WriteStartObject("gt"); w.WriteNumber("in", g.In); w.WriteNumber("out", g.Out); w.WriteEndObject();
                w.WriteStartObject("results"); w.WriteNumber("in", r.In); w.WriteNumber("out", r.Out); w.WriteEndObject();
                w.WriteStartObject("error"); w.WriteNumber("in", r.In - g.In); w.WriteNumber("out", r.Out - g.Out); w.WriteEndObject();
                w.WriteNumber("abs_error", err);
                w.WriteEndObject();
                Console.Error.WriteLine($"  line {g.Name}: gt in {g.In} out {g.Out}; results in {r.In} out {r.Out}");
            }
            w.WriteEndArray();
            w.WriteNumber("total_gt", totalGt);
            w.WriteNumber("total_results", totalRes);
            w.WriteNumber("total_abs_error", totalErr);
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return 0;
    }

    private static IReadOnlyList<LineCounts> Count(IReadOnlyList<MotRow> rows, CountingLineOptions[] lines, double fps, MotClassColumn column)
    {
        var analytics = new PurposeAnalytics(new PurposeAnalyticsOptions(lines, null, null, null));
        MotReplay.Run(rows, analytics, fps, CocoClasses.Person, column);
        return analytics.Snapshot().Lines;
    }
}
