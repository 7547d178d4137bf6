using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Runtime;

namespace Ephemera;

/// <summary>
/// Engine-wide options of an <see cref="EphemeraEngine"/>. Every property validates when it is set
/// and throws <see cref="EphemeraException"/> naming the key (as written in the YAML config) and
/// the problem, so an options object that exists is a valid one.
/// </summary>
public sealed record EphemeraOptions
{
    private static readonly string[] s_providers = ["cpu", "cuda", "tensorrt", "directml", "openvino"];

    /// <summary>Detector model, by its name in the model manifest (default YOLOX-Nano at 416²).</summary>
    public string Model { get; init => field = NotEmpty("model", value); } = "yolox_nano_coco_416";

    /// <summary>ONNX Runtime execution provider: cpu, cuda, tensorrt, directml or openvino.</summary>
    public string Provider
    {
        get;
        init => field = s_providers.Contains(value, StringComparer.Ordinal) ? value
            : throw Invalid("provider", $"'{value}' is not one of {string.Join(", ", s_providers)}");
    } = "cpu";

    /// <summary>Detector input size, the long side (0 = the model's own).</summary>
    public int InputSize { get; init => field = Range("input_size", value, 0, 4096); }

    /// <summary>Intra-op threads per detector run (0 = the cores shared among the parallel runs).</summary>
    public int IntraOpThreads { get; init => field = Range("intra_op_threads", value, 0, 256); }

    /// <summary>Detector runs at once (0 = one per core on CPU, 1 on a GPU).</summary>
    public int ParallelRuns { get; init => field = Range("parallel_runs", value, 0, 256); }

    /// <summary>Largest cross-stream batch (0 = the provider's measured default).</summary>
    public int MaxBatch { get; init => field = Range("max_batch", value, 0, 64); }

    /// <summary>Default detections per second per camera.</summary>
    public double DetectFps { get; init => field = Range("detect_fps", value, 0.01, 120); } = 5;

    /// <summary>Lowest detection score kept (the tracker's second stage uses the weak ones).</summary>
    public float ScoreThreshold { get; init => field = (float)Range("score_threshold", value, 0.001, 0.99); } = 0.1f;

    /// <summary>The SQLite store (created when missing); the default sink of every released record.</summary>
    public string StorePath { get; init => field = NotEmpty("store", value); } = "ephemera.db";

    /// <summary>The audit signing key (null = <c>&lt;store&gt;.key</c>).</summary>
    public string? AuditKeyPath { get; init; }

    /// <summary>An append-only file that receives every signed audit head (null = none).</summary>
    public string? AuditWitnessPath { get; init; }

    /// <summary>Seconds between pixel-audit records and bin publishing.</summary>
    public double AuditIntervalSeconds { get; init => field = Range("audit_interval_seconds", value, 0.5, 3600); } = 10;

    /// <summary>Cameras the detector's tensor banks are sized for (more still run, sharing banks).</summary>
    public int MaxCameras { get; init => field = Range("max_cameras", value, 1, 256); } = 16;

    /// <summary>Records each <see cref="EphemeraEngine.ReadAsync"/> reader may hold before its drop policy applies.</summary>
    public int ReaderCapacity { get; init => field = Range("reader_capacity", value, 1, 1_000_000); } = 1024;

    /// <summary>What a full reader's channel drops.</summary>
    public RecordDropPolicy ReaderDropPolicy
    {
        get;
        init => field = Enum.IsDefined(value) ? value : throw Invalid("reader_drop_policy", $"{(int)value} is not a drop policy");
    } = RecordDropPolicy.DropOldest;

    /// <summary>Frames a camera's pixel stages may hold at once; a frame that finds them full skips them (counted).</summary>
    public int PixelStageSlots { get; init => field = Range("pixel_stage_slots", value, 1, 16); } = 2;

    /// <summary>
    /// Where fetched, sha256-checked model weights live (null = <c>var/models</c> under the repository
    /// or <c>EPHEMERA_VAR</c>). Missing weights are copied there from <c>EPHEMERA_MODEL_MIRROR</c>, else
    /// downloaded; a directory that already holds checked weights (the mirror itself) is used as is.
    /// </summary>
    public string? ModelsDirectory { get; init => field = value is null ? null : NotEmpty("models_dir", value); }

    /// <summary>Prometheus scrape port on 127.0.0.1 (0 = off).</summary>
    public int MetricsPort { get; init => field = Range("metrics_port", value, 0, 65535); }

    /// <summary>The options a YAML config's <c>engine:</c> section describes (the CLI's binder onto these options).</summary>
    public static EphemeraOptions FromConfig(EngineOptions e) => new()
    {
        Model = e.Model, Provider = e.Provider, InputSize = e.InputSize, IntraOpThreads = e.IntraOpThreads, ParallelRuns = e.ParallelRuns,
        MaxBatch = e.MaxBatch, DetectFps = e.DetectFps, ScoreThreshold = e.ScoreThreshold, StorePath = e.StorePath,
        AuditKeyPath = e.AuditKeyPath, AuditWitnessPath = e.AuditWitnessPath, AuditIntervalSeconds = e.AuditIntervalSeconds,
        MetricsPort = e.MetricsPort, ModelsDirectory = e.ModelsDirectory,
    };

    internal EngineOptions ToEngineOptions() => new()
    {
        Model = Model, Provider = Provider, InputSize = InputSize, IntraOpThreads = IntraOpThreads, ParallelRuns = ParallelRuns,
        MaxBatch = MaxBatch, DetectFps = DetectFps, ScoreThreshold = ScoreThreshold, StorePath = StorePath,
        AuditKeyPath = AuditKeyPath, AuditWitnessPath = AuditWitnessPath, AuditIntervalSeconds = AuditIntervalSeconds,
        MetricsPort = MetricsPort, ModelsDirectory = ModelsDirectory,
    };

    internal static EphemeraException Invalid(string key, string problem) => new($"{key}: {problem}");

    internal static string NotEmpty(string key, string? value) =>
        string.IsNullOrWhiteSpace(value) ? throw Invalid(key, "must not be empty") : value;

    internal static int Range(string key, int value, int min, int max) =>
        value < min || value > max ? throw Invalid(key, $"{value} is outside {min}..{max}") : value;

    internal static double Range(string key, double value, double min, double max) =>
        !double.IsFinite(value) || value < min || value > max ? throw Invalid(key, $"{value} is outside {min}..{max}") : value;
}
