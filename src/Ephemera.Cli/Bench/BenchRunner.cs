using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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
    /// <summary>Detector precision (fp32, int8, or auto: measured at start).</summary>
    public DetectorPrecision Precision { get; init; } = DetectorPrecision.Fp32;
    /// <summary>Seconds spent on each ceiling measurement.</summary>
    public double CeilingSeconds { get; init; } = 4;
    /// <summary>Store for the run's outputs (a bench never writes the main store).</summary>
    public string StorePath { get; init; } = Path.Combine(RepoPaths.Var, "bench", "bench.db");
    /// <summary>Which due detections run: every one (full) or by need (<see cref="ScheduleOptions"/>).</summary>
    public ScheduleOptions Schedule { get; init; } = new();
    /// <summary>Run (or take from the cache) a full-rate replay of the same frames and compare each camera's line counts with it.</summary>
    public bool CompareWithFullRate { get; init; } = true;
    /// <summary>
    /// Start points in the clip (0 = auto: <see cref="AutoPhasesByNeed"/> by need, 1 at full rate): the
    /// P points k × clip length ÷ P (at the keyframe at or before each), dealt to cameras in a spread
    /// order (<see cref="PhaseOrder"/>), so the cameras do not all see the clip's busy stretch at once,
    /// as real cameras do not. 1 = every camera from the first frame, in lockstep (the worst case).
    /// </summary>
    public int Phases { get; init; }
    /// <summary>
    /// By need, up to this many cameras each start at their own point of the clip: independent as real
    /// cameras are (idle-heavy's 139 s with a keyframe every 2 s gives 64 distinct starts). With 8 phases,
    /// a ninth of 70 cameras saw each visitor at the same instant, a burst no real site has.
    /// </summary>
    public const int AutoPhasesByNeed = 64;
    /// <summary>The phases this run uses (<see cref="Phases"/>, or its auto value).</summary>
    public int PhaseCount => Phases > 0 ? Phases : Schedule.Mode == ScheduleMode.ByNeed ? AutoPhasesByNeed : 1;
    /// <summary>Manifest the bench cameras run under (covers bench-*).</summary>
    public string Manifest { get; init; } = Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml");

    public void Validate()
    {
        if (Streams < 1) throw new EphemeraException($"--streams must be at least 1, got {Streams}");
        if (!(Seconds > 0)) throw new EphemeraException($"--seconds must be positive, got {Seconds}");
        if (Phases < 0) throw new EphemeraException($"--phases must be 1 or more (0 = auto), got {Phases}");
        if (!(DetectFps > 0)) throw new EphemeraException($"--detect-fps must be positive, got {DetectFps}");
        if (!Source.Contains("://") && !File.Exists(Source)) throw new EphemeraException($"{Source}: source file not found");
    }
}

/// <summary>
/// When a run counts as sustained. The default is the engine's promise to a live camera; a
/// benchmarker may ask for a stricter or looser one (<c>--rule</c>), and every result prints the rule
/// it was judged by, so two results compare only under the same rule.
/// </summary>
public sealed record SustainedRule(
    [property: JsonPropertyName("detect_share")] double DetectShare = 0.95,
    [property: JsonPropertyName("late_share")] double LateShare = 0.01,
    [property: JsonPropertyName("p99_floor_ms")] double P99FloorMs = 500,
    [property: JsonPropertyName("p99_intervals")] double P99Intervals = 2,
    [property: JsonPropertyName("count_share")] double CountShare = 0.02)
{
    /// <summary>
    /// The outputs stay right: the cameras' line crossings, summed, lie within what full rate itself
    /// gives for those frames — the lowest and highest sum over the detection offsets a camera's
    /// due frames may fall on (<see cref="CountDifference.RangeLow"/>..<see cref="CountDifference.RangeHigh"/>) —
    /// widened by <see cref="CountShare"/> of the offset-0 reference (at least one crossing of slack:
    /// a crossing at the run's last instant may fall either side of its end).
    /// </summary>
    public bool CountsRight(CountDifference d) => d.OutsideRange <= Math.Max(1, CountShare * d.ReferenceTotal);

    /// <summary>The p99 latency bound at a detection rate: max(floor, intervals × one detection interval).</summary>
    public double LatencyBoundMs(double detectFps) => Math.Max(P99FloorMs, P99Intervals * 1000 / detectFps);

    /// <summary>Parses <c>detect=0.9,late=0.02,p99=800,p99_intervals=3</c> (keys optional, the rest default).</summary>
    public static SustainedRule Parse(string text)
    {
        var rule = new SustainedRule();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || !double.TryParse(kv[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
                throw new EphemeraException($"--rule: '{part}' is not key=number (keys: detect, late, p99, p99_intervals, counts)");
            rule = kv[0] switch
            {
                "detect" when v is > 0 and <= 1 => rule with { DetectShare = v },
                "late" when v is >= 0 and <= 1 => rule with { LateShare = v },
                "p99" when v > 0 => rule with { P99FloorMs = v },
                "p99_intervals" when v > 0 => rule with { P99Intervals = v },
                "counts" when v is >= 0 and <= 1 => rule with { CountShare = v },
                "detect" or "late" or "p99" or "p99_intervals" or "counts" => throw new EphemeraException($"--rule: {kv[0]}={kv[1]} is out of range (detect, late, counts: 0..1; p99, p99_intervals: > 0)"),
                _ => throw new EphemeraException($"--rule: unknown key '{kv[0]}' (keys: detect, late, p99, p99_intervals, counts)"),
            };
        }
        return rule;
    }

    public override string ToString() =>
        $"no decoded frame dropped, ≤ {LateShare:0.###} of frames late, every camera ≥ {DetectShare:0.##} of the detections its schedule asked for (± 1), " +
        $"p99 ≤ max({P99FloorMs:0} ms, {P99Intervals:0.#} detection intervals) (by need: full-rate detections; floor detections against floor intervals), line counts within {CountShare:0.###} (≥ 1 crossing) of the full-rate references' range over detection offsets";
}

/// <summary>
/// CPU milliseconds per camera-second, per stage, from the threads' own CPU clocks: what one camera
/// costs the machine, whatever else runs on it. <c>other</c> is the process's CPU not attributed to a
/// stage (ONNX Runtime's own pool threads, GC, the supervisor, waiting loops).
/// </summary>
public sealed record CpuCost(
    [property: JsonPropertyName("decode")] double Decode,
    [property: JsonPropertyName("preprocess")] double Preprocess,
    [property: JsonPropertyName("inference")] double Inference,
    [property: JsonPropertyName("track")] double Track,
    [property: JsonPropertyName("analytics")] double Analytics,
    [property: JsonPropertyName("pixel_stage")] double PixelStage,
    [property: JsonPropertyName("publish")] double Publish,
    [property: JsonPropertyName("other")] double Other,
    [property: JsonPropertyName("total")] double Total)
{
    public static CpuCost From(StageTimes s, double processCpuMs, double cameraSeconds)
    {
        double Per(Stage st) => Math.Round(s.CpuMs(st) / cameraSeconds, 3);
        double attributed = Enum.GetValues<Stage>().Sum(s.CpuMs);
        return new CpuCost(Per(Stage.Decode), Per(Stage.Preprocess), Per(Stage.Inference), Per(Stage.Track), Per(Stage.Analytics),
            Per(Stage.PixelStage), Per(Stage.Publish), Math.Round(Math.Max(0, processCpuMs - attributed) / cameraSeconds, 3),
            Math.Round(processCpuMs / cameraSeconds, 3));
    }
}

/// <summary>
/// The cameras' outputs against a full-rate replay of the frames they played (every due frame
/// detected, unpaced, cached per clip): line crossings (in + out, every line). Full rate is not one
/// number on a busy clip: a live camera's due frames fall wherever its clock puts them (frame 0, 6,
/// 12 … or 2, 8, 14 … at 30 fps and 5/s), and its tracks and a crossing or two move with them. So
/// each phase is replayed at every detection offset too (<c>phase_reference_ranges</c>: lowest and
/// highest), and a run is judged against that range; <see cref="Relative"/> stays against offset 0.
/// </summary>
public sealed record CountDifference(
    [property: JsonPropertyName("reference_crossings")] int ReferenceCrossings,
    [property: JsonPropertyName("reference_seconds")] double ReferenceSeconds,
    [property: JsonPropertyName("camera_crossings")] IReadOnlyList<int> CameraCrossings,
    [property: JsonPropertyName("phase_reference_crossings")] IReadOnlyList<int>? PhaseReferenceCrossings = null,
    [property: JsonPropertyName("phase_reference_ranges")] IReadOnlyList<int[]>? PhaseReferenceRanges = null)
{
    /// <summary>Camera i's reference: its phase's (i mod P), or the one reference with one phase.</summary>
    private int ReferenceOf(int camera) => PhaseReferenceCrossings is { Count: > 0 } p ? p[camera % p.Count] : ReferenceCrossings;
    /// <summary>Camera i's full-rate range over detection offsets (its reference alone when no range was replayed).</summary>
    private (int Low, int High) RangeOf(int camera) => PhaseReferenceRanges is { Count: > 0 } r ? (r[camera % r.Count][0], r[camera % r.Count][1]) : (ReferenceOf(camera), ReferenceOf(camera));
    [JsonIgnore] public int CamerasTotal => CameraCrossings.Sum();
    [JsonIgnore] public int ReferenceTotal => Enumerable.Range(0, CameraCrossings.Count).Sum(ReferenceOf);
    /// <summary>Σ over cameras of the lowest full-rate count of the camera's phase.</summary>
    [JsonPropertyName("range_low")] public int RangeLow => Enumerable.Range(0, CameraCrossings.Count).Sum(i => RangeOf(i).Low);
    /// <summary>Σ over cameras of the highest full-rate count of the camera's phase.</summary>
    [JsonPropertyName("range_high")] public int RangeHigh => Enumerable.Range(0, CameraCrossings.Count).Sum(i => RangeOf(i).High);
    /// <summary>Crossings the cameras' sum lies outside [<see cref="RangeLow"/>, <see cref="RangeHigh"/>] (0 inside).</summary>
    [JsonPropertyName("outside_range")] public int OutsideRange => Math.Max(0, Math.Max(RangeLow - CamerasTotal, CamerasTotal - RangeHigh));
    /// <summary>(Σ cameras − N × reference) ÷ (N × reference); 0 when neither crossed.</summary>
    [JsonPropertyName("relative")]
    public double Relative => ReferenceTotal > 0 ? Math.Round((double)(CamerasTotal - ReferenceTotal) / ReferenceTotal, 4) : CamerasTotal == 0 ? 0 : 1;
    /// <summary>The camera furthest from the reference, relative.</summary>
    [JsonPropertyName("worst_camera_relative")]
    public double WorstCameraRelative => CameraCrossings.Count == 0 ? 0 :
        Math.Round(CameraCrossings.Select((c, i) => (c, r: ReferenceOf(i))).Max(x => x.r > 0 ? Math.Abs(x.c - x.r) / (double)x.r : x.c == 0 ? 0 : 1), 4);
}

/// <summary>
/// Capture → result latency: p50 (mean over cameras) and p99 (worst camera) of the detections asked at
/// full rate (every detection with the full schedule); by need, <c>floor_p99</c> is the worst camera's
/// p99 over its floor detections, judged against the floor's interval.
/// </summary>
public sealed record LatencyMs([property: JsonPropertyName("p50")] double P50, [property: JsonPropertyName("p99")] double P99,
    [property: JsonPropertyName("floor_p99")] double? FloorP99 = null);
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
    [property: JsonPropertyName("engine_input")] string EngineInput = "",
    [property: JsonPropertyName("detect_cpu_ms_per_image_engine_input")] double DetectCpuMsPerImageEngineInput = 0,
    [property: JsonPropertyName("detect_wall_ms_per_image_engine_input")] double DetectWallMsPerImageEngineInput = 0);

/// <summary>
/// One detector image inside the engine against the bare loop at the same (engine) input in the same
/// run (issue 17): thread-CPU ms per image — the engine's batcher workers (bound run, box decode,
/// tensor wipe) and the bare loops of the ceiling — and their ratio, plus wall ms per image (the
/// engine's includes waiting for the cores the camera threads take: workers run at nice 5).
/// </summary>
public sealed record DetectorCost(
    [property: JsonPropertyName("input")] string Input,
    [property: JsonPropertyName("engine_cpu_ms_per_image")] double EngineCpuMsPerImage,
    [property: JsonPropertyName("bare_cpu_ms_per_image")] double BareCpuMsPerImage,
    [property: JsonPropertyName("cpu_ratio")] double CpuRatio,
    [property: JsonPropertyName("engine_wall_ms_per_image")] double EngineWallMsPerImage,
    [property: JsonPropertyName("bare_wall_ms_per_image")] double BareWallMsPerImage)
{
    public static DetectorCost? From(CeilingFigures c, double engineCpuMs, long images, double engineWallMs) =>
        images <= 0 || c.DetectCpuMsPerImageEngineInput <= 0 || engineCpuMs <= 0 ? null
            : new(c.EngineInput, Math.Round(engineCpuMs / images, 3), Math.Round(c.DetectCpuMsPerImageEngineInput, 3),
                  Math.Round(engineCpuMs / images / c.DetectCpuMsPerImageEngineInput, 3), Math.Round(engineWallMs, 3), Math.Round(c.DetectWallMsPerImageEngineInput, 3));
}

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
    [property: JsonPropertyName("pixel_lifetime")] LifetimeSplit? PixelLifetime = null,
    [property: JsonPropertyName("cpu_ms_per_camera_second")] CpuCost? CpuMsPerCameraSecond = null,
    [property: JsonPropertyName("capacity_streams")] double CapacityStreams = 0,
    [property: JsonPropertyName("rule")] SustainedRule? Rule = null,
    [property: JsonPropertyName("schedule")] string Schedule = "full",
    [property: JsonPropertyName("detections_asked")] double DetectionsAsked = 0,
    [property: JsonPropertyName("detections_done")] long DetectionsDone = 0,
    [property: JsonPropertyName("detections_not_needed")] long DetectionsNotNeeded = 0,
    [property: JsonPropertyName("count_difference")] CountDifference? CountDifference = null,
    [property: JsonPropertyName("line_crossings")] int LineCrossings = 0,
    [property: JsonPropertyName("precision")] PrecisionFigures? Precision = null,
    [property: JsonPropertyName("detector_cost")] DetectorCost? DetectorCost = null,
    [property: JsonPropertyName("streams_allowed_engine_input")] double StreamsAllowedEngineInput = 0,
    [property: JsonPropertyName("efficiency_engine_input")] double EfficiencyEngineInput = 0,
    [property: JsonPropertyName("phases")] int Phases = 1);

/// <summary>Which detector precision ran (fp32/int8), why, the start-up timings behind an auto choice, and the CPU's int8-relevant flags.</summary>
public sealed record PrecisionFigures(
    [property: JsonPropertyName("ran")] string Ran,
    [property: JsonPropertyName("asked")] string Asked,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("fp32_ms_per_image")] double? Fp32MsPerImage,
    [property: JsonPropertyName("int8_ms_per_image")] double? Int8MsPerImage,
    [property: JsonPropertyName("cpu_flags")] string CpuFlags)
{
    public static PrecisionFigures? From(Ephemera.Inference.Runtime.PrecisionDecision? d) => d is null ? null
        : new(d.Chosen.ToString().ToLowerInvariant(), d.Requested.ToString().ToLowerInvariant(), d.Reason,
              d.Fp32MsPerImage is { } f ? Math.Round(f, 2) : null, d.Int8MsPerImage is { } i ? Math.Round(i, 2) : null, d.CpuFlags);
}


/// <summary>
/// Runs the live-camera stream benchmark. "Sustained" means: no decoded frame dropped, no camera
/// more than max(one frame interval, 100 ms) behind its live schedule for more than 1% of frames, every camera
/// getting at least 95% of the detections its schedule asked for (detect_fps × seconds at full
/// rate; by need, detect_fps while it asked for full rate and the floor rate while still), p99
/// capture→result latency under max(500 ms, two detection intervals), and the outputs right: line
/// counts within 2% of a full-rate replay of the same frames. The ceilings give the streams the machine allows:
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
        var detect = o.InputSize > 0
            ? Ceilings.DetectLoops(o.Model, inference, o.CeilingSeconds, side, sideH)
            : Ceilings.DetectLoops(o.Model, inference, o.CeilingSeconds);
        var atEngine = engine == (side, sideH) ? detect : Ceilings.DetectLoops(o.Model, inference, o.CeilingSeconds, engine.Width, engine.Height);
        return new CeilingFigures(Math.Round(decode, 1), Math.Round(detect.ImagesPerSecond, 1), $"{side}x{sideH}", Math.Round(atEngine.ImagesPerSecond, 1),
            $"{engine.Width}x{engine.Height}", Math.Round(atEngine.CpuMsPerImage, 3), Math.Round(atEngine.WallMsPerImage, 3));
    }

    /// <summary>
    /// Resolves <c>--precision auto</c> once, before the ceilings, the references and the trials, by
    /// opening the detector the engine would open (<see cref="EngineHost.DetectorOptionsFor"/>) and letting it measure.
    /// Each trial's engine and each full-rate replay then run the one precision chosen here: measured
    /// apart, they could choose differently on a close call and compare int8 counts with fp32 ones.
    /// Returns the options unchanged (and no decision) for fp32 or int8.
    /// </summary>
    public static (BenchOptions Options, PrecisionDecision? Decision) ResolvePrecision(BenchOptions o)
    {
        if (o.Precision != DetectorPrecision.Auto) return (o, null);
        var e = EngineOptionsFor(o);
        var input = EngineHost.ChooseDetectorInput(e, [CameraFor(o, 1, new LineConfig("probe", 0, 0, 1, 1))]);
        using var detector = Inference.ObjectDetector.Open(EngineHost.DetectorOptionsFor(e, input));
        return (o with { Precision = detector.Precision.Chosen }, detector.Precision);
    }

    private static EngineOptions EngineOptionsFor(BenchOptions o) => new()
    {
        Model = o.Model, InputSize = o.InputSize, InputFit = o.InputFit, Precision = o.Precision, Provider = o.Provider, IntraOpThreads = o.IntraOpThreads,
        ParallelRuns = o.ParallelRuns, MaxBatch = o.MaxBatch, DetectFps = o.DetectFps, StorePath = o.StorePath, Schedule = o.Schedule,
        AuditIntervalSeconds = Math.Max(5, o.Seconds / 4),
    };

    private static CameraConfig CameraFor(BenchOptions o, int i, LineConfig line, double startSeconds = 0) => new()
    {
        Id = $"bench-{i}", Source = o.Source, Manifest = o.Manifest, Loop = true, Paced = true, StartSeconds = startSeconds,
        Analytics = new AnalyticsConfig { Lines = [line] },
    };

    /// <summary>The bench camera's counting line: down the middle of the picture.</summary>
    private static LineConfig MiddleLine(int width, int height) => new("middle", width / 2f, 0, width / 2f, height);

    /// <summary>
    /// Where camera slot j (camera i plays slot i mod P) starts, seconds into the clip: point
    /// <see cref="PhaseOrder"/>(j) × length ÷ P (the source seeks to the keyframe at or before it).
    /// </summary>
    private static double[] PhaseStarts(BenchOptions o, double fps, long expectedFrames)
    {
        int phases = o.PhaseCount;
        if (phases == 1 || o.Source.Contains("://")) return [0];
        double length = expectedFrames / fps;
        if (!(length > 0)) throw new EphemeraException($"{o.Source}: --phases {phases} needs a clip of known length (the container announces none)");
        return [.. Enumerable.Range(0, phases).Select(j => Math.Round(PhaseOrder(j, phases) * length / phases, 3))];
    }

    /// <summary>
    /// The clip point slot j plays: j × s mod P, s the stride nearest 0.618 × P that is coprime with P.
    /// A permutation of 0..P−1 whose every prefix is spread over the whole clip, so 20 cameras of 64
    /// phases sample all of it rather than its first third. Slot 0 plays point 0.
    /// </summary>
    public static int PhaseOrder(int slot, int phases)
    {
        int stride = Math.Max(1, (int)Math.Round(phases * 0.618));
        while (System.Numerics.BigInteger.GreatestCommonDivisor(stride, phases) != 1) stride++;
        return (int)((long)slot * stride % phases);
    }

    /// <summary>
    /// The full-rate references of one phase at each detection offset (0 first): frames k, k + n,
    /// k + 2n … detected for k in 0..n−1, n = source fps ÷ detect fps (at most <see cref="MaxOffsets"/>, evenly spread).
    /// </summary>
    private static IReadOnlyList<ReferenceCounts> FullRateReferenceRange(BenchOptions o, CeilingFigures ceiling, double fps, double startSeconds)
    {
        int every = DetectEvery(fps, o.DetectFps), count = Math.Min(every, MaxOffsets);
        return [.. Enumerable.Range(0, count).Select(k => FullRateReference(o, ceiling, startSeconds, k * every / count))];
    }

    /// <summary>Detection offsets replayed per phase, at most: a 30 fps clip at 5/s has 6.</summary>
    public const int MaxOffsets = 6;

    private static int DetectEvery(double fps, double detectFps) => Math.Max(1, (int)Math.Round(fps / detectFps));

    private static ReferenceCounts Replay(BenchOptions o, double startSeconds, int offset)
    {
        var e = EngineOptionsFor(o);
        int width, height;
        using (var probe = VideoSource.Open(o.Source)) { width = probe.Width; height = probe.Height; }
        var line = MiddleLine(width, height);
        var input = EngineHost.ChooseDetectorInput(e, [CameraFor(o, 1, line)]);
        var entry = Inference.Models.ModelCatalog.Load().Get(o.Model);
        using var detector = Inference.ObjectDetector.Open(new Inference.DetectorOptions
        {
            Model = o.Model, Precision = o.Precision, Inference = new InferenceOptions(o.Provider, o.IntraOpThreads, parallelRuns: 1),
            InputWidth = input.Width, InputHeight = input.Height, Decode = new Inference.Postprocess.DecodeOptions(e.ScoreThreshold),
        });
        // The trial's cameras' decode too (fast: B-frames not deblocked): the replay differs from a
        // trial in its schedule and pacing only. With int8 the deblocking alone moved a crossing.
        var manifest = Governance.ManifestLoader.Load(o.Manifest);
        using var source = VideoSource.Open(o.Source, EngineHost.DecodeFor(e, manifest, SourceOptions.Default with { Loop = true, Paced = false, StartSeconds = startSeconds }));
        double fps = source.FrameRate > 0 ? source.FrameRate : 25;
        long frames = (long)Math.Round(o.Seconds * fps);
        int every = DetectEvery(fps, o.DetectFps);
        var tracker = new Tracking.MultiObjectTracker(Tracking.TrackerOptions.Default);
        var counter = new Analytics.LineCounter(new Analytics.CountingLineOptions(new Analytics.Point2(line.X1, line.Y1), new Analytics.Point2(line.X2, line.Y2),
            name: line.Name, categories: entry.CountCategories ?? CountCategories.Coco));
        var detections = new Detections();
        long first = -1;
        while (source.Read(out var frame) == ReadStatus.Frame)
        {
            long index;
            using (frame)
            {
                index = frame!.Index;
                if (first < 0) first = index;
                if (index - first >= frames) break;
                if ((index - offset) % every != 0) continue;
                detector.Detect(frame.View, detections);
            }
            counter.Update(tracker.Update(detections, index), tracker.RemovedIds, index / fps);
        }
        return new ReferenceCounts(counter.In + counter.Out, Math.Round(frames / fps, 2));
    }

    public static double StreamsAllowed(CeilingFigures c, double sourceFps, double detectFps) =>
        1.0 / (sourceFps / c.DecodeFps + detectFps / c.DetectIps);

    /// <summary>As <see cref="StreamsAllowed"/> with the detect ceiling at the engine's own input (0 when it was not measured).</summary>
    public static double StreamsAllowedEngineInput(CeilingFigures c, double sourceFps, double detectFps) =>
        c.DetectIpsEngineInput > 0 ? StreamsAllowed(c with { DetectIps = c.DetectIpsEngineInput }, sourceFps, detectFps) : 0;

    public static BenchResult Run(BenchOptions o, CeilingFigures ceiling, Action<EngineHost>? onTick = null, Microsoft.Extensions.Logging.ILoggerFactory? loggers = null,
        SustainedRule? rule = null)
    {
        rule ??= new SustainedRule();
        o.Validate();
        // Before this trial's engine starts: the reference pass must not share the machine with it.
        double sourceFps;
        int width, height;
        long expectedFrames;
        using (var probe = VideoSource.Open(o.Source)) { sourceFps = probe.FrameRate > 0 ? probe.FrameRate : 25; width = probe.Width; height = probe.Height; expectedFrames = probe.ExpectedFrames; }
        var starts = PhaseStarts(o, sourceFps, expectedFrames);
        // One reference per phase a camera plays (fewer cameras than phases use only the first ones).
        var reference = o.CompareWithFullRate ? starts.Take(Math.Min(starts.Length, o.Streams)).Select(start => FullRateReferenceRange(o, ceiling, sourceFps, start)).ToList() : null;
        Directory.CreateDirectory(Path.GetDirectoryName(o.StorePath)!);
        foreach (var f in new[] { o.StorePath, o.StorePath + "-wal", o.StorePath + "-shm" }) File.Delete(f);

        var line = MiddleLine(width, height);
        var cams = Enumerable.Range(1, o.Streams).Select(i => CameraFor(o, i, line, starts[(i - 1) % starts.Length])).ToList();
        var config = new EngineConfig("(bench)", EngineOptionsFor(o), cams);

        var before = PixelLedger.Snapshot();
        PixelLedger.ResetLifetimeStats();
        using var host = new EngineHost(config, new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(o.Seconds), OnTick = onTick, Loggers = loggers });
        // CPU from here: the detector is loaded and warm, so its one-off cost is not a camera's.
        var cpuBefore = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        host.Run();
        double processCpuMs = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds;
        var summary = RunSummary.From(host);
        double rss = ProcessStats.RssMb();
        var running = host.Cameras.Where(c => c.Manifest != null).ToList();
        var crossings = running.Select(c => c.WithAnalytics(a => a.Lines.Sum(l => l.In + l.Out))).ToList();
        long decoded = running.Sum(c => c.FramesDecoded);
        long dropped = running.Sum(c => c.FramesDroppedForPool);
        long late = running.Sum(c => c.LateFrames);
        // Each camera against what its own schedule asked for (full rate: detect_fps × seconds).
        var worst = running.MinBy(c => c.DetectionsDone / Math.Max(1e-9, c.DetectionsAsked(summary.Seconds)));
        double p50 = running.Count == 0 ? 0 : running.Average(c => c.FullRateLatency.Quantile(0.5));
        double p99 = running.Count == 0 ? 0 : running.Max(c => c.FullRateLatency.Quantile(0.99));
        double latencyBound = rule.LatencyBoundMs(o.DetectFps);
        // By need, floor detections against the floor's interval: their result is not wanted sooner.
        bool byNeed = o.Schedule.Mode == ScheduleMode.ByNeed;
        double? floorP99 = byNeed && running.Any(c => c.FloorLatency.Count > 0) ? running.Where(c => c.FloorLatency.Count > 0).Max(c => c.FloorLatency.Quantile(0.99)) : null;
        double floorBound = rule.LatencyBoundMs(Math.Min(o.Schedule.FloorFps, o.DetectFps));

        string? why = null;
        if (running.Count != o.Streams) why = $"{o.Streams - running.Count} cameras did not run";
        else if (running.Any(c => c.State == CameraState.Failed)) why = "a camera failed";
        else if (dropped > 0) why = $"{dropped} decoded frames dropped";
        else if (late > rule.LateShare * decoded) why = $"{late} of {decoded} frames more than max(one frame interval, 100 ms) behind live";
        // One detection of slack: the count is whole while "asked" is time × rate, and the detection
        // in flight when the trial stops is neither done nor lost (by need, with ~1.4 asked per second
        // over 15 s, that one detection alone would be 4 %).
        else if (worst != null && worst.DetectionsDone + 1 < rule.DetectShare * worst.DetectionsAsked(summary.Seconds))
            why = $"camera {worst.Id} got {worst.DetectionsDone} of the {worst.DetectionsAsked(summary.Seconds):0} detections its schedule asked for";
        else if (p99 > latencyBound) why = $"p99 latency {p99:0} ms over the {latencyBound:0} ms bound";
        else if (floorP99 > floorBound) why = $"floor detections' p99 latency {floorP99:0} ms over the {floorBound:0} ms bound ({rule.P99Intervals:0.#} floor intervals)";
        CountDifference? counts = null;
        if (reference != null && running.Count > 0)
        {
            counts = new CountDifference(reference[0][0].Crossings, reference[0][0].Seconds, crossings,
                reference.Count > 1 ? [.. reference.Select(r => r[0].Crossings)] : null,
                [.. reference.Select(r => new[] { r.Min(x => x.Crossings), r.Max(x => x.Crossings) })]);
            if (why == null && !rule.CountsRight(counts))
                why = $"line crossings {counts.CamerasTotal} against {counts.RangeLow}..{counts.RangeHigh} at full rate ({counts.Relative:+0.0%;-0.0%} from offset 0)";
        }

        double allowed = StreamsAllowed(ceiling, sourceFps, o.DetectFps);
        double allowedAtEngine = StreamsAllowedEngineInput(ceiling, sourceFps, o.DetectFps);
        var cpu = ThreadCpuClock.Supported && running.Count > 0 ? CpuCost.From(host.Stages, processCpuMs, running.Count * summary.Seconds) : null;
        double capacity = cpu is { Total: > 0 } ? Math.Round(Environment.ProcessorCount * 1000 / cpu.Total, 2) : 0;
        return new BenchResult(o.Source, o.Streams, summary.Seconds, Math.Round(sourceFps, 3), o.DetectFps,
            Math.Round(running.Count == 0 ? 0 : running.Average(c => c.DetectionsDone / summary.Seconds), 3),
            why == null, why, decoded, running.Sum(c => c.FramesNotDecoded), dropped, late, running.Sum(c => c.DetectionsSkipped),
            new LatencyMs(Math.Round(p50, 1), Math.Round(p99, 1), floorP99 is { } fp ? Math.Round(fp, 1) : null), summary.StageMs, Math.Round(rss, 1),
            summary.MaxPixelLifetimeMs, summary.PixelBuffersLeaked, ceiling, Math.Round(allowed, 2),
            Math.Round((why == null ? o.Streams : 0) / allowed, 3), Environment.ProcessorCount, summary.PixelLifetime,
            cpu, capacity, rule, o.Schedule.Mode == ScheduleMode.ByNeed ? "by_need" : "full",
            Math.Round(running.Sum(c => c.DetectionsAsked(summary.Seconds)), 1), running.Sum(c => c.DetectionsDone),
            running.Sum(c => c.DetectionsNotNeeded), counts, crossings.Sum(), PrecisionFigures.From(host.DetectorPrecision),
            DetectorCost.From(ceiling, host.Stages.CpuMs(Stage.Inference), host.Stages.Items(Stage.Inference), host.Stages.MsPerItem(Stage.Inference)),
            Math.Round(allowedAtEngine, 2), allowedAtEngine > 0 ? Math.Round((why == null ? o.Streams : 0) / allowedAtEngine, 3) : 0, starts.Length);
    }

    /// <summary>Line crossings of one camera on the clip at full rate, for the same seconds.</summary>
    public sealed record ReferenceCounts(int Crossings, double Seconds);

    private static readonly ConcurrentDictionary<string, ReferenceCounts> s_references = new();

    /// <summary>
    /// The full-rate reference for a trial: the frames a bench camera plays in the trial's seconds
    /// (from the phase's start, looping), every due frame detected — unpaced, so the machine's
    /// load cannot thin it out — through the engine's detector input, tracker and counting line.
    /// Replayed once per clip and setting, kept in memory and in <c>var/bench/reference/</c> (keyed by
    /// the clip's path, size and time, so an edited clip is replayed again, and by the phase's start).
    /// </summary>
    public static ReferenceCounts FullRateReference(BenchOptions o, CeilingFigures ceiling, double startSeconds = 0, int offset = 0)
    {
        var info = new FileInfo(o.Source);
        string key = string.Join('|', o.Source, info.Exists ? info.Length : 0, info.Exists ? info.LastWriteTimeUtc.Ticks : 0, o.Seconds, o.DetectFps, o.Model,
            o.Provider, o.InputSize, o.InputFit, o.Precision, EngineOptionsFor(o).Decode) + (startSeconds > 0 ? $"|start={startSeconds:R}" : "") + (offset > 0 ? $"|offset={offset}" : "");
        return s_references.GetOrAdd(key, k =>
        {
            string file = Path.Combine(RepoPaths.Var, "bench", "reference", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(k)))[..16] + ".json");
            try
            {
                if (File.Exists(file) && JsonSerializer.Deserialize<ReferenceCounts>(File.ReadAllText(file)) is { } cached) return cached;
            }
            catch (JsonException) { } // a damaged cache entry is rerun
            var counts = Replay(o, startSeconds, offset);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, JsonSerializer.Serialize(counts));
            return counts;
        });
    }
}
