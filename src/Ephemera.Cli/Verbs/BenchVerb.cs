using System.Text.Json;
using System.Text.Json.Nodes;
using Ephemera.Runtime;
using Ephemera.Cli.Bench;
using Spectre.Console;

namespace Ephemera.Cli.Verbs;

/// <summary><c>./ephemera bench</c>: N live-paced copies of a source through the whole engine, with the machine's ceilings.</summary>
public sealed class BenchVerb : IVerb
{
    public string Name => "bench";
    public string Summary => "stream benchmark: N paced sources, sustained?, latency, ceilings, efficiency";
    public string Usage => """
        usage: ephemera bench --source FILE --streams N --seconds S [--detect-fps F] [--find-max] --json OUT
                              [--model NAME] [--provider cpu|cuda|…] [--threads T] [--parallel-runs R] [--max-batch B]
                              [--input-size S] [--input-fit auto|square]

        Runs N copies of FILE paced at its native frame rate, like live cameras, through decode,
        detection (F per second per camera, default 5), tracking and counting, for S seconds. In
        the same run it measures the ceilings: FFmpeg decode fps of FILE with every core busy, and
        bare ONNX Runtime images/s of the model at its own input, run the way the engine runs it
        (on CPU one single-threaded run per core). Writes JSON to OUT: streams, sustained,
        frames_dropped, latency_ms {p50,p99}, stage_ms, rss_mb, max_pixel_lifetime_ms,
        pixel_buffers_leaked, ceiling {decode_fps, detect_ips, detect_input,
        detect_ips_engine_input, engine_input}, efficiency (sustained streams ÷ the streams the
        ceilings allow, 1 / (fps / decode_fps + detect_fps / detect_ips)). The engine fits the
        detector input to the source's aspect (--input-fit auto, e.g. 416x320 for 4:3) and
        skips decoding frames nobody needs; both are the engine's gains over the ceilings. --find-max searches the largest sustained N (starting
        from --streams, or from the ceilings' estimate when --streams is not given).
        """;

    /// <summary>Upper bound of --streams: beyond this a bench only measures memory exhaustion.</summary>
    public const int MaxStreams = 256;

    private static int CheckStreams(int streams) =>
        streams is < 1 or > MaxStreams ? throw new UsageException($"--streams must be 1…{MaxStreams}, got {streams}") : streams;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["source", "streams", "seconds", "detect-fps", "json", "model", "provider", "threads", "parallel-runs", "max-batch", "input-size", "input-fit"], ["find-max"]);
        var options = new BenchOptions
        {
            Source = Path.GetFullPath(a.Require("source")),
            Streams = CheckStreams(a.GetInt("streams", 1)),
            Seconds = a.GetDouble("seconds", 30),
            DetectFps = a.GetDouble("detect-fps", 5),
            Model = a.Get("model") ?? "yolox_nano_coco_416",
            Provider = a.Get("provider") ?? "cpu",
            IntraOpThreads = a.GetInt("threads", 0),
            MaxBatch = a.GetInt("max-batch", 0),
            InputSize = a.GetInt("input-size", 0),
            ParallelRuns = a.GetInt("parallel-runs", 0),
            InputFit = a.Get("input-fit") switch
            {
                null or "auto" => Ephemera.Config.InputFit.Auto,
                "square" => Ephemera.Config.InputFit.Square,
                var other => throw new UsageException($"--input-fit must be auto or square, got '{other}'"),
            },
        };
        string outPath = a.Require("json");
        options.Validate();
        var err = StatusConsole.Create();

        err.MarkupLine($"[bold]ceilings[/]: measuring decode of {Markup.Escape(Path.GetFileName(options.Source))} and bare ONNX Runtime ({options.Model}, {options.Provider})…");
        var ceiling = BenchRunner.MeasureCeilings(options);
        err.MarkupLine($"  decode {ceiling.DecodeFps:0} fps, detect {ceiling.DetectIps:0.0} images/s at {ceiling.DetectInput}" +
                       (ceiling.EngineInput != ceiling.DetectInput ? $" ({ceiling.DetectIpsEngineInput:0.0} at the engine's {ceiling.EngineInput})" : ""));

        var trials = new List<BenchResult>();
        BenchResult RunAt(int n)
        {
            err.MarkupLine($"[bold]run[/]: {n} streams for {options.Seconds:0} s at {options.DetectFps} detections/s each");
            int tick = 0;
            var r = BenchRunner.Run(options with { Streams = n }, ceiling, loggers: StderrLoggerFactory.Instance, onTick: host =>
            {
                if (++tick % 5 == 0)
                    err.MarkupLine($"  {host.Elapsed.TotalSeconds:0}s: {host.Cameras.Sum(c => c.FramesDecoded)} frames, " +
                                   $"{host.Cameras.Sum(c => c.DetectionsDone)} detections, {host.Cameras.Sum(c => c.DetectionsSkipped)} skipped, " +
                                   $"{host.Cameras.Sum(c => c.LateFrames)} late");
            });
            trials.Add(r);
            err.Write(ResultTable(r));
            return r;
        }

        BenchResult best;
        if (a.Flag("find-max"))
        {
            double allowed = BenchRunner.StreamsAllowed(ceiling, ProbeFps(options.Source), options.DetectFps);
            int n = a.Get("streams") != null ? options.Streams : Math.Max(1, (int)Math.Floor(allowed * 0.9));
            var r = RunAt(n);
            BenchResult? lastGood = r.Sustained ? r : null;
            if (r.Sustained)
                while (true) { var up = RunAt(++n); if (!up.Sustained) break; lastGood = up; }
            else
                while (n > 1) { var down = RunAt(--n); if (down.Sustained) { lastGood = down; break; } }
            best = lastGood ?? trials[^1];
        }
        else best = RunAt(options.Streams);

        var json = JsonSerializer.SerializeToNode(best)!.AsObject();
        if (trials.Count > 1)
            json["trials"] = new JsonArray(trials.Select(t => (JsonNode)new JsonObject
            {
                ["streams"] = t.Streams, ["sustained"] = t.Sustained, ["why_not_sustained"] = t.WhyNotSustained,
                ["detect_fps_achieved"] = t.DetectFpsAchieved, ["latency_p99_ms"] = t.Latency.P99,
            }).ToArray());
        var dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllText(outPath, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        err.MarkupLine($"[bold]result[/]: {best.Streams} streams, sustained {best.Sustained}, efficiency {best.Efficiency} → {Markup.Escape(outPath)}");
        Console.Out.WriteLine(json.ToJsonString());
        return 0;
    }

    private static double ProbeFps(string source)
    {
        using var s = Ephemera.Decode.VideoSource.Open(source);
        return s.FrameRate > 0 ? s.FrameRate : 25;
    }

    private static Table ResultTable(BenchResult r)
    {
        var t = new Table().Border(TableBorder.Simple).AddColumns("streams", "sustained", "detect/s/cam", "late", "skipped", "p50 ms", "p99 ms", "rss MB", "allowed", "efficiency", "why not");
        t.AddRow(r.Streams.ToString(), r.Sustained ? "[green]yes[/]" : "[red]no[/]", r.DetectFpsAchieved.ToString("0.00"), r.LateFrames.ToString(),
            r.DetectionsSkipped.ToString(), r.Latency.P50.ToString("0"), r.Latency.P99.ToString("0"), r.RssMb.ToString("0"),
            r.StreamsAllowed.ToString("0.0"), r.Efficiency.ToString("0.00"), Markup.Escape(r.WhyNotSustained ?? ""));
        return t;
    }
}
