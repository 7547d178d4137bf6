using System.Text.Json.Serialization;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference.Runtime;
using Ephemera.Runtime;

namespace Ephemera.Cli.Bench;

/// <summary>What a stream benchmark runs: N copies of one source, paced like live cameras.</summary>
public sealed record BenchOptions
{
    public required string Source { get; init; }
    public int Streams { get; init; } = 1;
    public double Seconds { get; init; } = 30;
    public double DetectFps { get; init; } = 5;
    public string Model { get; init; } = "yolox_nano_coco_416";
    public string Provider { get; init; } = "cpu";
    public int IntraOpThreads { get; init; }
    /// <summary>Detector runs at once (0 = auto: one per core on CPU).</summary>
    public int ParallelRuns { get; init; }
    public int MaxBatch { get; init; }
    /// <summary>Detector input size, the long side (0 = the model's own).</summary>
    public int InputSize { get; init; }
    /// <summary>Fit the detector input to the source's aspect (the engine's default) or keep it square.</summary>
    public InputFit InputFit { get; init; } = InputFit.Auto;
    /// <summary>Seconds spent on each ceiling measurement.</summary>
    public double CeilingSeconds { get; init; } = 4;
    /// <summary>Store for the run's outputs (a bench never writes the main store).</summary>
    public string StorePath { get; init; } = Path.Combine(RepoPaths.Var, "bench", "bench.db");
    /// <summary>Manifest the bench cameras run under (covers bench-*).</summary>
    public string Manifest { get; init; } = Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml");

    public void Validate()
    {
        if (Streams < 1) throw new EphemeraException($"--streams must be at least 1, got {Streams}");
        if (!(Seconds > 0)) throw new EphemeraException($"--seconds must be positive, got {Seconds}");
        if (!(DetectFps > 0)) throw new EphemeraException($"--detect-fps must be positive, got {DetectFps}");
        if (!Source.Contains("://") && !File.Exists(Source)) throw new EphemeraException($"{Source}: source file not found");
    }
}

public sealed record LatencyMs([property: JsonPropertyName("p50")] double P50, [property: JsonPropertyName("p99")] double P99);
/// <summary>
/// The raw ceilings: decode fps of the source through FFmpeg alone; images/s of the model through
/// ONNX Runtime alone at the model's own input (<c>detect_input</c>, e.g. 416x416), which
/// <c>streams_allowed</c> uses; and, for reference, the same loop at the engine's detector input
/// when that differs (the engine fits the input to the source's aspect: a gain of the engine's, not
/// of the machine, so efficiency is not measured against it).
/// </summary>
public sealed record CeilingFigures(
    [property: JsonPropertyName("decode_fps")] double DecodeFps,
    [property: JsonPropertyName("detect_ips")] double DetectIps,
    [property: JsonPropertyName("detect_input")] string DetectInput = "",
    [property: JsonPropertyName("detect_ips_engine_input")] double DetectIpsEngineInput = 0,
    [property: JsonPropertyName("engine_input")] string EngineInput = "");

/// <summary>The benchmark's result (DESIGN.md `bench`), one run at one stream count.</summary>
public sealed record BenchResult(
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("streams")] int Streams,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("source_fps")] double SourceFps,
    [property: JsonPropertyName("detect_fps")] double DetectFps,
    [property: JsonPropertyName("detect_fps_achieved")] double DetectFpsAchieved,
    [property: JsonPropertyName("sustained")] bool Sustained,
    [property: JsonPropertyName("why_not_sustained")] string? WhyNotSustained,
    [property: JsonPropertyName("frames_decoded")] long FramesDecoded,
    [property: JsonPropertyName("frames_not_decoded")] long FramesNotDecoded,
    [property: JsonPropertyName("frames_dropped")] long FramesDropped,
    [property: JsonPropertyName("late_frames")] long LateFrames,
    [property: JsonPropertyName("detections_skipped")] long DetectionsSkipped,
    [property: JsonPropertyName("latency_ms")] LatencyMs Latency,
    [property: JsonPropertyName("stage_ms")] Dictionary<string, double> StageMs,
    [property: JsonPropertyName("rss_mb")] double RssMb,
    [property: JsonPropertyName("max_pixel_lifetime_ms")] double MaxPixelLifetimeMs,
    [property: JsonPropertyName("pixel_buffers_leaked")] long PixelBuffersLeaked,
    [property: JsonPropertyName("ceiling")] CeilingFigures Ceiling,
    [property: JsonPropertyName("streams_allowed")] double StreamsAllowed,
    [property: JsonPropertyName("efficiency")] double Efficiency,
    [property: JsonPropertyName("cores")] int Cores,
    [property: JsonPropertyName("pixel_lifetime")] LifetimeSplit? PixelLifetime = null);

/// <summary>
/// Runs the live-camera stream benchmark. "Sustained" means: no decoded frame dropped, no camera
/// more than max(one frame interval, 100 ms) behind its live schedule for more than 1% of frames, every camera
/// achieving at least 95% of the requested detection rate, and p99 capture→result latency under
/// max(500 ms, two detection intervals). The ceilings give the streams the machine allows:
/// 1 / (source_fps / decode_fps + detect_fps / detect_ips) — decode and detection share the cores.
/// </summary>
public static class BenchRunner
{
    public static CeilingFigures MeasureCeilings(BenchOptions o)
    {
        var inference = new InferenceOptions(o.Provider, o.IntraOpThreads, parallelRuns: o.ParallelRuns);
        var entry = Inference.Models.ModelCatalog.Load().Get(o.Model);
        int side = o.InputSize > 0 ? o.InputSize : entry.Input.Width;
        int sideH = o.InputSize > 0 ? o.InputSize : entry.Input.Height;
        var engine = EngineHost.ChooseDetectorInput(EngineOptionsFor(o), [CameraFor(o, 1, new LineConfig("probe", 0, 0, 1, 1))]);
        if (engine == (0, 0)) engine = (entry.Input.Width, entry.Input.Height);
        double decode = Ceilings.DecodeFps(o.Source, o.CeilingSeconds, Environment.ProcessorCount);
        double detect = o.InputSize > 0
            ? Ceilings.DetectIps(o.Model, inference, o.CeilingSeconds, side, sideH)
            : Ceilings.DetectIps(o.Model, inference, o.CeilingSeconds);
        double atEngine = engine == (side, sideH) ? detect : Ceilings.DetectIps(o.Model, inference, o.CeilingSeconds, engine.Width, engine.Height);
        return new CeilingFigures(Math.Round(decode, 1), Math.Round(detect, 1), $"{side}x{sideH}", Math.Round(atEngine, 1), $"{engine.Width}x{engine.Height}");
    }

    private static EngineOptions EngineOptionsFor(BenchOptions o) => new()
    {
        Model = o.Model, InputSize = o.InputSize, InputFit = o.InputFit, Provider = o.Provider, IntraOpThreads = o.IntraOpThreads,
        ParallelRuns = o.ParallelRuns, MaxBatch = o.MaxBatch, DetectFps = o.DetectFps, StorePath = o.StorePath,
        AuditIntervalSeconds = Math.Max(5, o.Seconds / 4),
    };

    private static CameraConfig CameraFor(BenchOptions o, int i, LineConfig line) => new()
    {
        Id = $"bench-{i}", Source = o.Source, Manifest = o.Manifest, Loop = true, Paced = true,
        Analytics = new AnalyticsConfig { Lines = [line] },
    };

    public static double StreamsAllowed(CeilingFigures c, double sourceFps, double detectFps) =>
        1.0 / (sourceFps / c.DecodeFps + detectFps / c.DetectIps);

    public static BenchResult Run(BenchOptions o, CeilingFigures ceiling, Action<EngineHost>? onTick = null, Microsoft.Extensions.Logging.ILoggerFactory? loggers = null)
    {
        o.Validate();
        double sourceFps;
        int width, height;
        using (var probe = VideoSource.Open(o.Source)) { sourceFps = probe.FrameRate > 0 ? probe.FrameRate : 25; width = probe.Width; height = probe.Height; }
        Directory.CreateDirectory(Path.GetDirectoryName(o.StorePath)!);
        foreach (var f in new[] { o.StorePath, o.StorePath + "-wal", o.StorePath + "-shm" }) File.Delete(f);

        var line = new LineConfig("middle", width / 2f, 0, width / 2f, height);
        var cams = Enumerable.Range(1, o.Streams).Select(i => CameraFor(o, i, line)).ToList();
        var config = new EngineConfig("(bench)", EngineOptionsFor(o), cams);

        var before = PixelLedger.Snapshot();
        PixelLedger.ResetLifetimeStats();
        using var host = new EngineHost(config, new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(o.Seconds), OnTick = onTick, Loggers = loggers });
        host.Run();
        var summary = RunSummary.From(host);
        double rss = ProcessStats.RssMb();
        var running = host.Cameras.Where(c => c.Manifest != null).ToList();
        long decoded = running.Sum(c => c.FramesDecoded);
        long dropped = running.Sum(c => c.FramesDroppedForPool);
        long late = running.Sum(c => c.LateFrames);
        double minDetectRate = running.Count == 0 ? 0 : running.Min(c => c.DetectionsDone / summary.Seconds);
        double p50 = running.Count == 0 ? 0 : running.Average(c => c.Latency.Quantile(0.5));
        double p99 = running.Count == 0 ? 0 : running.Max(c => c.Latency.Quantile(0.99));
        double latencyBound = Math.Max(500, 2000 / o.DetectFps);

        string? why = null;
        if (running.Count != o.Streams) why = $"{o.Streams - running.Count} cameras did not run";
        else if (running.Any(c => c.State == CameraState.Failed)) why = "a camera failed";
        else if (dropped > 0) why = $"{dropped} decoded frames dropped";
        else if (late > 0.01 * decoded) why = $"{late} of {decoded} frames more than max(one frame interval, 100 ms) behind live";
        else if (minDetectRate < 0.95 * o.DetectFps) why = $"slowest camera detected {minDetectRate:0.00}/s of {o.DetectFps}/s requested";
        else if (p99 > latencyBound) why = $"p99 latency {p99:0} ms over the {latencyBound:0} ms bound";

        double allowed = StreamsAllowed(ceiling, sourceFps, o.DetectFps);
        return new BenchResult(o.Source, o.Streams, summary.Seconds, Math.Round(sourceFps, 3), o.DetectFps,
            Math.Round(running.Count == 0 ? 0 : running.Average(c => c.DetectionsDone / summary.Seconds), 3),
            why == null, why, decoded, running.Sum(c => c.FramesNotDecoded), dropped, late, running.Sum(c => c.DetectionsSkipped),
            new LatencyMs(Math.Round(p50, 1), Math.Round(p99, 1)), summary.StageMs, Math.Round(rss, 1),
            summary.MaxPixelLifetimeMs, summary.PixelBuffersLeaked, ceiling, Math.Round(allowed, 2),
            Math.Round((why == null ? o.Streams : 0) / allowed, 3), Environment.ProcessorCount, summary.PixelLifetime);
    }
}
