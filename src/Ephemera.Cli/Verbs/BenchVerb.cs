using System.Text.Json;
using System.Text.Json.Nodes;
using Ephemera.Core;
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
        usage: ephemera bench --source FILE --streams N --seconds S [--detect-fps F] [--find-max] [--repeat N] --json OUT
                              [--rule detect=0.95,late=0.01,p99=500,p99_intervals=2,counts=0.02] [--ceiling-seconds S] [--calibration-seconds S]
                              [--schedule full|by_need] [--floor-fps F] [--phases P] [--no-reference]
                              [--model NAME] [--provider cpu|cuda|…] [--threads T] [--parallel-runs R] [--max-batch B]
                              [--input-size S] [--input-fit auto|square] [--precision fp32|int8|auto] [--report DIR] [--memory] [--soak SECONDS]
               ephemera bench --report-from JSON --report DIR

        Runs N copies of FILE paced at its native frame rate, like live cameras, through decode,
        detection (F per second per camera, default 5), tracking and counting, for S seconds. In
        the same run it measures the ceilings: FFmpeg decode fps of FILE with every core busy, and
        bare ONNX Runtime images/s of the model at its own input, run the way the engine runs it
        (on CPU one single-threaded run per core). Writes JSON to OUT: streams, sustained,
        frames_dropped, latency_ms {p50,p99}, stage_ms, rss_mb, max_pixel_lifetime_ms,
        pixel_buffers_leaked, ceiling {decode_fps, detect_ips, detect_input,
        detect_ips_engine_input, engine_input, detect_cpu_ms_per_image_engine_input}, efficiency
        (sustained streams ÷ the streams the ceilings allow, 1 / (fps / decode_fps + detect_fps /
        detect_ips)), efficiency_engine_input (the same with detect_ips_engine_input), and
        detector_cost (thread-CPU ms per image inside the engine vs the bare loop at the engine's
        input, and their ratio). The engine fits the
        detector input to the source's aspect (--input-fit auto, e.g. 416x320 for 4:3) and
        skips decoding frames nobody needs; both are the engine's gains over the ceilings. --find-max searches the largest sustained N (starting
        from --streams, or from the ceilings' estimate when --streams is not given), bisecting and
        confirming the boundary with a second look. --repeat N runs every stream count N times (3 with
        --find-max) and reports the median and min–max of each figure. The primary figure is CPU cost:
        cpu_ms_per_camera_second per stage (threads' own CPU clocks) and capacity_streams = cores × 1000
        ÷ its total, which moves little with other tenants' noise. Short calibrations before, between
        and after the trials measure the machine's drift; over 10 % marks the verdict uncertain.
        --rule changes what counts as sustained; every result carries the rule it was judged by.
        --schedule by_need detects a still camera less often (down to --floor-fps, default 0.5): each
        camera is then judged on the detections its own schedule asked for. Every trial's line counts
        are compared with a full-rate replay of the same frames (every due frame detected, unpaced;
        run once and cached in var/bench/reference/): count_difference; --no-reference skips it.
        --phases P spreads the cameras over P start points of the clip (k × clip length ÷ P, at the
        keyframe at or before it, dealt in an order that spreads any first N over the whole clip), so
        they do not play it in lockstep (default 64 with --schedule by_need, else 1; 1 = every camera
        from the first frame); each camera's counts are compared with its phase's reference.
        --report DIR also writes DIR/bench.json and DIR/report.html, a self-contained page (inline
        SVG charts, no external resources) with every trial, the CPU per stage, the ceilings, memory
        and the machine; --report-from JSON draws that page from a saved bench JSON without running.
        --memory (implied by --find-max) measures RSS at 1, 10 and the max streams in a fresh process
        and reports MB per added stream; --soak SECONDS then runs the max that long and reports RSS drift.
        """;

    /// <summary>Upper bound of --streams: beyond this a bench only measures memory exhaustion.</summary>
    public const int MaxStreams = 256;

    private static int CheckStreams(int streams) =>
        streams is < 1 or > MaxStreams ? throw new UsageException($"--streams must be 1…{MaxStreams}, got {streams}") : streams;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["source", "streams", "seconds", "detect-fps", "json", "model", "provider", "threads", "parallel-runs", "max-batch", "input-size", "input-fit", "precision",
            "repeat", "rule", "ceiling-seconds", "calibration-seconds", "schedule", "floor-fps", "phases", "report", "report-from", "soak", "rss-series"], ["find-max", "no-reference", "memory"]);
        if (a.Get("report-from") is { } reportFrom) return ReportFrom(reportFrom, a.Require("report"));
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
            CeilingSeconds = a.GetDouble("ceiling-seconds", 4),
            InputFit = a.Get("input-fit") switch
            {
                null or "auto" => Ephemera.Config.InputFit.Auto,
                "square" => Ephemera.Config.InputFit.Square,
                var other => throw new UsageException($"--input-fit must be auto or square, got '{other}'"),
            },
            Precision = a.Get("precision") switch
            {
                null or "fp32" => DetectorPrecision.Fp32,
                "int8" => DetectorPrecision.Int8,
                "auto" => DetectorPrecision.Auto,
                var other => throw new UsageException($"--precision must be fp32, int8 or auto, got '{other}'"),
            },
            Schedule = new Ephemera.Config.ScheduleOptions
            {
                Mode = a.Get("schedule") switch
                {
                    null or "full" => Ephemera.Config.ScheduleMode.Full,
                    "by_need" or "by-need" => Ephemera.Config.ScheduleMode.ByNeed,
                    var other => throw new UsageException($"--schedule must be full or by_need, got '{other}'"),
                },
                FloorFps = a.GetDouble("floor-fps", new Ephemera.Config.ScheduleOptions().FloorFps),
            },
            CompareWithFullRate = !a.Flag("no-reference"),
            Phases = a.GetInt("phases", 0),
        };
        if (options.Phases is < 0 or > MaxStreams) throw new UsageException($"--phases must be 1…{MaxStreams} (0 = auto), got {options.Phases}");
        if (options.Schedule.FloorFps is < Ephemera.Config.ScheduleOptions.MinFloorFps or > Ephemera.Config.ScheduleOptions.MaxFloorFps || double.IsNaN(options.Schedule.FloorFps))
            throw new UsageException($"--floor-fps must be {Ephemera.Config.ScheduleOptions.MinFloorFps}…{Ephemera.Config.ScheduleOptions.MaxFloorFps}, got {options.Schedule.FloorFps}");
        bool findMax = a.Flag("find-max");
        int repeat = a.GetInt("repeat", findMax ? 3 : 1);
        if (repeat is < 1 or > 20) throw new UsageException($"--repeat must be 1…20, got {repeat}");
        double calSeconds = a.GetDouble("calibration-seconds", 2);
        if (!(calSeconds > 0) || !(options.CeilingSeconds > 0)) throw new UsageException("--ceiling-seconds and --calibration-seconds must be positive");
        SustainedRule rule;
        try { rule = a.Get("rule") is { } r ? SustainedRule.Parse(r) : new SustainedRule(); }
        catch (EphemeraException e) { throw new UsageException(e.Message); }
        string outPath = a.Require("json");
        options.Validate();
        if (a.Get("rss-series") is { } series) return BenchMemory.RunSeries(options, series, rule, outPath, m => Console.Error.WriteLine(m));
        var err = StatusConsole.Create();
        string? reportDir = a.Get("report");
        double soakSeconds = a.GetDouble("soak", 0);
        if (soakSeconds < 0 || double.IsNaN(soakSeconds)) throw new UsageException($"--soak must be a positive number of seconds, got {soakSeconds}");
        var progress = new BenchProgress(err);
        err.MarkupLine($"[bold]rule[/]: {Markup.Escape(rule.ToString())}");
        (options, var precision) = BenchRunner.ResolvePrecision(options);
        if (precision != null)
            err.MarkupLine($"[bold]precision[/]: {precision.Chosen.ToString().ToLowerInvariant()} for every trial and reference ({Markup.Escape(precision.Reason)})");

        err.MarkupLine($"[bold]ceilings[/]: measuring decode of {Markup.Escape(Path.GetFileName(options.Source))} and bare ONNX Runtime ({options.Model}, {options.Provider})…");
        var ceiling = BenchRunner.MeasureCeilings(options);
        err.MarkupLine($"  decode {ceiling.DecodeFps:0} fps, detect {ceiling.DetectIps:0.0} images/s at {ceiling.DetectInput}" +
                       (ceiling.EngineInput != ceiling.DetectInput ? $" ({ceiling.DetectIpsEngineInput:0.0} at the engine's {ceiling.EngineInput})" : "") +
                       $", {ceiling.DetectCpuMsPerImageEngineInput:0.00} CPU ms per image at {ceiling.EngineInput}");

        // The machine's own drift: the same short ceiling loops before, between and after the trials.
        var inference = new Ephemera.Inference.Runtime.InferenceOptions(options.Provider, options.IntraOpThreads, parallelRuns: options.ParallelRuns);
        var calibrations = new List<Calibration>();
        void Calibrate(string when)
        {
            var c = new Calibration(when, Math.Round(Ceilings.DetectIps(options.Model, inference, calSeconds), 1),
                Math.Round(Ceilings.DecodeFps(options.Source, calSeconds, Environment.ProcessorCount), 1));
            calibrations.Add(c);
            err.MarkupLine($"  [grey]calibration {Markup.Escape(when)}: detect {c.DetectIps:0.0} images/s, decode {c.DecodeFps:0} fps[/]");
        }
        Calibrate("before");

        var trials = new List<BenchResult>();
        var probes = new List<Probe>();
        Probe ProbeAt(int n)
        {
            var group = new List<BenchResult>();
            for (int i = 0; i < repeat; i++)
            {
                err.MarkupLine($"[bold]run[/]: {n} streams for {options.Seconds:0} s at {options.DetectFps} detections/s each" +
                               (options.Schedule.Mode == Ephemera.Config.ScheduleMode.ByNeed ? $", by need (floor {options.Schedule.FloorFps}/s)" : "") +
                               (repeat > 1 ? $" (trial {i + 1} of {repeat})" : ""));
                progress.Start(n, options.Seconds);
                var r = BenchRunner.Run(options with { Streams = n }, ceiling, loggers: StderrLoggerFactory.Instance, rule: rule, onTick: progress.Tick);
                progress.End();
                trials.Add(r); group.Add(r);
                err.Write(ResultTable(r));
            }
            var p = new Probe(n, group);
            probes.Add(p);
            if (repeat > 1) err.MarkupLine($"  {n} streams: sustained in {p.SustainedTrials} of {repeat} trials → {(p.Sustained ? "[green]sustained[/]" : "[red]not sustained[/]")}");
            Calibrate($"after {n} streams");
            return p;
        }

        Probe best;
        if (findMax)
        {
            double allowed = BenchRunner.StreamsAllowed(ceiling, ProbeFps(options.Source), options.DetectFps);
            int start = a.Get("streams") != null ? options.Streams : Math.Max(1, (int)Math.Floor(allowed * 0.9));
            best = FindMax(start, ProbeAt);
        }
        else best = ProbeAt(options.Streams);

        var chosen = best.Median;
        var json = JsonSerializer.SerializeToNode(chosen)!.AsObject();
        json["repeat"] = repeat;
        json["sustained_trials"] = best.SustainedTrials;
        json["sustained"] = best.Sustained; // the majority of the trials at this count, not the one shown
        json["spread"] = Spread(best.Trials);
        json["drift"] = Drift(calibrations);
        json["rule_text"] = rule.ToString();
        // The trials ran the resolved precision as asked for; the JSON keeps why auto chose it.
        if (precision != null) json["precision"] = JsonSerializer.SerializeToNode(PrecisionFigures.From(precision));
        json["probes"] = new JsonArray(probes.Select(p => (JsonNode)new JsonObject
        {
            ["streams"] = p.Streams, ["sustained"] = p.Sustained, ["sustained_trials"] = p.SustainedTrials, ["trials"] = p.Trials.Count,
        }).ToArray());
        json["trials"] = new JsonArray(trials.Select(t => (JsonNode)new JsonObject
        {
            ["streams"] = t.Streams, ["sustained"] = t.Sustained, ["why_not_sustained"] = t.WhyNotSustained,
            ["detect_fps_achieved"] = t.DetectFpsAchieved, ["latency_p99_ms"] = t.Latency.P99,
            ["cpu_ms_per_camera_second"] = t.CpuMsPerCameraSecond?.Total, ["capacity_streams"] = t.CapacityStreams, ["rss_mb"] = t.RssMb,
            ["detections_asked"] = t.DetectionsAsked, ["detections_done"] = t.DetectionsDone,
            ["count_relative_difference"] = t.CountDifference?.Relative,
            ["efficiency_engine_input"] = t.EfficiencyEngineInput, ["detector_cpu_ratio"] = t.DetectorCost?.CpuRatio,
        }).ToArray());
        json["machine"] = MachineInfo.Describe(options.Provider);
        int maxSustained = best.Sustained ? best.Streams : 0;
        if ((findMax || a.Flag("memory")) && maxSustained > 0) json["memory"] = BenchMemory.MeasureSeries(options, maxSustained, a.Get("rule"), m => err.WriteLine(m));
        else if (findMax || a.Flag("memory")) err.MarkupLine("[yellow]memory[/]: no stream count was sustained, so there is no max to measure RSS up to");
        if (soakSeconds > 0) json["soak"] = BenchMemory.Soak(options, best.Streams, soakSeconds, ceiling, rule, m => err.WriteLine(m));
        var dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllText(outPath, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (reportDir != null) err.MarkupLine($"[bold]report[/]: {Markup.Escape(BenchReport.Write(json, reportDir))}");
        var drift = json["drift"]!;
        err.MarkupLine($"[bold]result[/]: {best.Streams} streams, sustained {best.Sustained} ({best.SustainedTrials} of {repeat}), " +
                       $"capacity {json["spread"]!["capacity_streams"]!["median"]} streams from {chosen.CpuMsPerCameraSecond?.Total:0.0} CPU ms per camera-second, " +
                       $"efficiency {chosen.Efficiency} ({chosen.EfficiencyEngineInput} at the engine's input)" +
                       (chosen.DetectorCost is { } dc ? $"; detector {dc.EngineCpuMsPerImage:0.00} CPU ms per image in the engine vs {dc.BareCpuMsPerImage:0.00} bare ({dc.CpuRatio:0.00}x)" : "") +
                       $"; machine drift {drift["max_drift"]}" +
                       ((bool)drift["uncertain"]! ? " [red](over 10 %: the verdict is uncertain)[/]" : "") + $" → {Markup.Escape(outPath)}");
        Console.Out.WriteLine(json.ToJsonString());
        return 0;
    }

    /// <summary><c>--report-from JSON --report DIR</c>: the page from a saved result, nothing run.</summary>
    private static int ReportFrom(string jsonPath, string dir)
    {
        if (!File.Exists(jsonPath)) throw new UsageException($"--report-from: {jsonPath} not found");
        JsonObject result;
        try { result = JsonNode.Parse(File.ReadAllText(jsonPath)) as JsonObject ?? throw new UsageException($"--report-from: {jsonPath} is not a JSON object"); }
        catch (JsonException e) { throw new UsageException($"--report-from: {jsonPath} is not valid JSON: {e.Message}"); }
        if (result["trials"] is not JsonArray) throw new UsageException($"--report-from: {jsonPath} has no 'trials' array: not a bench result");
        string html = BenchReport.Write(result, dir);
        StatusConsole.Create().MarkupLine($"[bold]report[/]: {Markup.Escape(html)}");
        return 0;
    }

    /// <summary>One calibration: the bare ONNX Runtime loop and a fixed decode, a few seconds each.</summary>
    private sealed record Calibration(string When, double DetectIps, double DecodeFps);

    /// <summary>The trials at one stream count; sustained when most of them were.</summary>
    private sealed record Probe(int Streams, IReadOnlyList<BenchResult> Trials)
    {
        public int SustainedTrials => Trials.Count(t => t.Sustained);
        public bool Sustained => SustainedTrials * 2 > Trials.Count;
        /// <summary>The trial with the median detection rate (the one whose figures the JSON shows).</summary>
        public BenchResult Median => Trials.OrderBy(t => t.DetectFpsAchieved).ElementAt(Trials.Count / 2);
    }

    /// <summary>
    /// The largest sustained stream count: from the start, steps up (or down) until the verdict
    /// flips, bisects the gap, then probes the boundary once more before believing it, stepping down
    /// if the second look fails. One noisy trial no longer decides the result.
    /// </summary>
    private static Probe FindMax(int start, Func<int, Probe> probeAt)
    {
        var at = new Dictionary<int, Probe>();
        Probe P(int n) => at.TryGetValue(n, out var p) ? p : at[n] = probeAt(n);
        int lo = 0, hi = 0; // lo: largest known sustained (0 = none); hi: smallest known not sustained (0 = none)
        if (P(start).Sustained)
        {
            lo = start;
            for (int step = 1; hi == 0; step *= 2)
            {
                int n = Math.Min(MaxStreams, lo + step);
                if (P(n).Sustained) { lo = n; if (n == MaxStreams) break; } else hi = n;
            }
        }
        else
        {
            hi = start;
            for (int step = 1; lo == 0 && hi > 1; step *= 2)
            {
                int n = Math.Max(1, hi - step);
                if (P(n).Sustained) lo = n; else hi = n;
            }
        }
        while (hi - lo > 1 && lo > 0) { int mid = (lo + hi) / 2; if (P(mid).Sustained) lo = mid; else hi = mid; }
        // Confirm the boundary with a second look; a count that fails it is not the answer.
        while (lo > 0)
        {
            var again = probeAt(lo);
            if (again.Sustained) return new Probe(lo, [.. at[lo].Trials, .. again.Trials]);
            // The second look failed: the next count down that is sustained at first look gets its own second look.
            lo--;
            while (lo > 0 && !P(lo).Sustained) lo--;
        }
        return at.Values.OrderBy(p => p.Streams).First();
    }

    private static JsonObject Spread(IReadOnlyList<BenchResult> trials)
    {
        JsonObject Of(Func<BenchResult, double> f)
        {
            var v = trials.Select(f).OrderBy(x => x).ToList();
            double median = v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
            return new JsonObject { ["median"] = Math.Round(median, 3), ["min"] = Math.Round(v[0], 3), ["max"] = Math.Round(v[^1], 3) };
        }
        return new JsonObject
        {
            ["detect_fps_achieved"] = Of(t => t.DetectFpsAchieved),
            ["latency_p99_ms"] = Of(t => t.Latency.P99),
            ["cpu_ms_per_camera_second"] = Of(t => t.CpuMsPerCameraSecond?.Total ?? 0),
            ["capacity_streams"] = Of(t => t.CapacityStreams),
            ["efficiency"] = Of(t => t.Efficiency),
            ["efficiency_engine_input"] = Of(t => t.EfficiencyEngineInput),
            ["detector_cpu_ratio"] = Of(t => t.DetectorCost?.CpuRatio ?? 0),
        };
    }

    private static JsonObject Drift(IReadOnlyList<Calibration> c)
    {
        static double Rel(IEnumerable<double> xs)
        {
            var v = xs.OrderBy(x => x).ToList();
            double median = v[v.Count / 2];
            return median > 0 ? Math.Round((v[^1] - v[0]) / median, 3) : 0;
        }
        double detect = Rel(c.Select(x => x.DetectIps)), decode = Rel(c.Select(x => x.DecodeFps));
        double max = Math.Max(detect, decode);
        return new JsonObject
        {
            ["calibrations"] = new JsonArray(c.Select(x => (JsonNode)new JsonObject { ["when"] = x.When, ["detect_ips"] = x.DetectIps, ["decode_fps"] = x.DecodeFps }).ToArray()),
            ["detect_ips_drift"] = detect,
            ["decode_fps_drift"] = decode,
            ["max_drift"] = max,
            ["uncertain"] = max > 0.10,
        };
    }

    private static double ProbeFps(string source)
    {
        using var s = Ephemera.Decode.VideoSource.Open(source);
        return s.FrameRate > 0 ? s.FrameRate : 25;
    }

    private static Table ResultTable(BenchResult r)
    {
        var t = new Table().Border(TableBorder.Simple).AddColumns("streams", "sustained", "detect/s/cam", "done/asked", "counts vs full", "late", "skipped", "p50 ms", "p99 ms", "rss MB", "allowed", "efficiency", "why not");
        t.AddRow(r.Streams.ToString(), r.Sustained ? "[green]yes[/]" : "[red]no[/]", r.DetectFpsAchieved.ToString("0.00"),
            r.DetectionsAsked > 0 ? (r.DetectionsDone / r.DetectionsAsked).ToString("0.00") : "-",
            r.CountDifference is { } d ? $"{d.CamerasTotal}/{d.ReferenceTotal} ({d.Relative:+0.0%;-0.0%;0%})" : "-", r.LateFrames.ToString(),
            r.DetectionsSkipped.ToString(), r.Latency.P50.ToString("0"), r.Latency.P99.ToString("0"), r.RssMb.ToString("0"),
            r.StreamsAllowed.ToString("0.0"), r.Efficiency.ToString("0.00"), Markup.Escape(r.WhyNotSustained ?? ""));
        return t;
    }
}
