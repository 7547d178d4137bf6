using Ephemera.Core;

namespace Ephemera.Config;

/// <summary>
/// The validated engine configuration: engine-wide options plus one entry per camera. Immutable;
/// built only by <see cref="ConfigLoader"/>, which names the file, key and problem on any error.
/// Relative paths in the YAML are resolved against the config file's directory.
/// </summary>
public sealed record EngineConfig(string SourcePath, EngineOptions Engine, IReadOnlyList<CameraConfig> Cameras)
{
    /// <summary>The optional <c>server:</c> section (<c>ephemera serve</c>); empty when absent.</summary>
    public ServerConfig Server { get; init; } = new();
}

/// <summary><c>ephemera serve</c> settings: the API keys, each stored only as the sha256 of the key.</summary>
public sealed record ServerConfig
{
    /// <summary>Roles a key may carry, lowest first (public needs no key).</summary>
    public static readonly string[] KeyRoles = ["viewer", "analyst", "operator", "admin"];

    /// <summary>API keys (role and lower-case hex sha256 of the key).</summary>
    public IReadOnlyList<ApiKeyConfig> Keys { get; init; } = Array.Empty<ApiKeyConfig>();
}

/// <summary>One API key: its role and the sha256 (64 lower-case hex digits) of the key presented as <c>Authorization: Bearer KEY</c>.</summary>
public sealed record ApiKeyConfig(string Role, string Sha256);

/// <summary>How the detector's input tensor is shaped (see <see cref="EngineOptions.InputFit"/>).</summary>
public enum InputFit { Auto, Square }

/// <summary>How cameras' video is decoded (see <see cref="EngineOptions.Decode"/>).</summary>
public enum DecodeQuality { Fast, Exact }

/// <summary>Which pixel kernels run the detector preprocess (see <see cref="EngineOptions.Kernels"/>).</summary>
public enum KernelChoice { Simd, Vulkan, Auto }

/// <summary>Engine-wide options (detector, scheduling, store, audit).</summary>
public sealed record EngineOptions
{
    /// <summary>Model name from models/models.yaml.</summary>
    public string Model { get; init; } = "yolox_nano_coco_416";
    /// <summary>Detector input size (the long side) for fully convolutional models (0 = the model's own, 416 for YOLOX-Nano; 640 finds more of the small people in 1080p).</summary>
    public int InputSize { get; init; }
    /// <summary>
    /// Shape of the detector input: Auto letterboxes every camera at the scale a square input of
    /// InputSize would use, into the smallest multiple-of-32 tensor that holds them all (4:3 cameras
    /// at 416 → 416×320, 16:9 → 416×256: same detections, less padding to compute); Square keeps
    /// InputSize². Auto needs the cameras' frame sizes: it probes file sources at start and falls
    /// back to square when any camera is a network stream.
    /// </summary>
    public InputFit InputFit { get; init; } = InputFit.Auto;
    /// <summary>
    /// Fast (default) decodes H.264/HEVC B-pictures without the in-loop deblocking filter (less
    /// decode CPU; detection recall and precision on ADL-Rundle-6 within 0.005 of a bit-exact decode,
    /// a test holds it there). Exact decodes bit-exact with FFmpeg's defaults. A camera whose output is
    /// an image (case 4's AnonymisedImage) always decodes exactly.
    /// </summary>
    public DecodeQuality Decode { get; init; } = DecodeQuality.Fast;
    /// <summary>
    /// Pixel kernels: Simd (the CPU's vectors, default), Vulkan (compute shaders on the best Vulkan
    /// device; without a driver one log line and SIMD), Auto (Vulkan only on a discrete or integrated
    /// GPU that measured faster than SIMD at start; a CPU driver such as lavapipe → SIMD).
    /// </summary>
    public KernelChoice Kernels { get; init; } = KernelChoice.Simd;
    /// <summary>
    /// Detector precision: fp32, int8 (the project's QDQ graph of the model, models.yaml <c>int8:</c>),
    /// or auto — at start the engine times both at its input size and takes int8 only when it is at
    /// least 1.1× faster (VNNI CPUs); AVX2-only CPUs measure int8 slower and stay fp32.
    /// </summary>
    public DetectorPrecision Precision { get; init; } = DetectorPrecision.Fp32;
    /// <summary>ONNX Runtime execution provider: cpu, cuda, tensorrt, directml, openvino.</summary>
    public string Provider { get; init; } = "cpu";
    /// <summary>Intra-op threads per detector run (0 = auto: on CPU the cores shared among the parallel runs).</summary>
    public int IntraOpThreads { get; init; }
    /// <summary>Detector runs at once (0 = auto: on CPU one single-threaded run per core; GPUs 1).</summary>
    public int ParallelRuns { get; init; }
    /// <summary>Largest cross-stream batch; 0 = the provider's measured default.</summary>
    public int MaxBatch { get; init; }
    /// <summary>How long the batcher waits to fill a batch, milliseconds.</summary>
    public double BatchDeadlineMs { get; init; } = 15;
    /// <summary>Minimum detection score kept (low, so the tracker's second stage sees weak boxes; tracks start only from strong ones).</summary>
    public float ScoreThreshold { get; init; } = 0.1f;
    /// <summary>Default detections per second per camera (cameras may override).</summary>
    public double DetectFps { get; init; } = 5;
    /// <summary>SQLite store path.</summary>
    public string StorePath { get; init; } = Path.Combine(RepoPaths.Var, "ephemera.db");
    /// <summary>The audit signing key (private, 0600), kept apart from the store; null = <c>&lt;store&gt;.key</c>.</summary>
    public string? AuditKeyPath { get; init; }
    /// <summary>An append-only file, ideally on another disk or host mount, that receives every signed audit head (null = none).</summary>
    public string? AuditWitnessPath { get; init; }
    /// <summary>Seconds between pixel-audit records per camera.</summary>
    public double AuditIntervalSeconds { get; init; } = 10;
    /// <summary>Prometheus metrics port on 127.0.0.1 (0 = off).</summary>
    public int MetricsPort { get; init; }
    /// <summary>Where fetched, sha256-checked model weights live (null = <see cref="RepoPaths.Models"/>, <c>var/models</c>).</summary>
    public string? ModelsDirectory { get; init; }
    /// <summary>When a camera's due detections run: every one (full) or only when needed (by_need), see <see cref="ScheduleOptions"/>.</summary>
    public ScheduleOptions Schedule { get; init; } = new();
}

/// <summary>Which of a camera's due detections run.</summary>
public enum ScheduleMode { Full, ByNeed }

/// <summary>
/// The <c>schedule:</c> section. <c>full</c> runs every due detection (detect_fps). <c>by_need</c>
/// skips due detections while the scene is still and every track is confidently predicted, down
/// to <see cref="FloorFps"/>; motion, a track the detector missed or a new one, motion near the
/// image edge, or a track within <see cref="GuardBandPx"/> of a counting line or zone edge that can cross it brings
/// the camera back to detect_fps at once. Ranges are checked by the config loader.
/// </summary>
public sealed record ScheduleOptions
{
    public const double MinFloorFps = 0.05, MaxFloorFps = 1000, MaxMotionThreshold = 1, MaxGuardBandPx = 10_000;
    public const int MinPixelDelta = 1, MaxPixelDelta = 255;

    public ScheduleMode Mode { get; init; } = ScheduleMode.Full;
    /// <summary>Detections per second a still camera keeps (capped at the camera's detect_fps).</summary>
    public double FloorFps { get; init; } = 0.5;
    /// <summary>
    /// The floor while the camera has no track at all (capped at <see cref="FloorFps"/>): an empty,
    /// still scene has nothing to predict, and whoever enters moves, which motion catches at once.
    /// </summary>
    public double EmptyFloorFps { get; init; } = 0.25;
    /// <summary>Share of the 1/8-scale luma cells that may change since the last detected frame before the scene counts as moving.</summary>
    public double MotionThreshold { get; init; } = 0.002;
    /// <summary>Luma change (0–255) of an 8×8 block's mean that counts the block as changed (above compression noise).</summary>
    public int PixelDelta { get; init; } = 12;
    /// <summary>A track whose anchor is this close (image pixels) to a counting line or a zone edge keeps the camera at full rate while it can cross it (not confirmed, moving, or with motion inside its box).</summary>
    public double GuardBandPx { get; init; } = 64;
}

/// <summary>One camera: where frames come from, under which manifest, and what it extracts.</summary>
public sealed record CameraConfig
{
    public required string Id { get; init; }
    /// <summary>File path, rtsp:// or http(s):// URL.</summary>
    public required string Source { get; init; }
    /// <summary>Purpose manifest (YAML); a camera without a valid manifest does not start.</summary>
    public string? Manifest { get; init; }
    /// <summary>File sources: restart at end of file.</summary>
    public bool Loop { get; init; }
    /// <summary>File sources: deliver frames at the native frame rate, like a live camera (network streams pace themselves).</summary>
    public bool Paced { get; init; } = true;
    /// <summary>File sources: start this many seconds into the file (at the keyframe at or before it). Not in
    /// the YAML: the bench sets it so its cameras do not play one clip in lockstep.</summary>
    public double StartSeconds { get; init; }
    /// <summary>Detections per second for this camera (null = engine default).</summary>
    public double? DetectFps { get; init; }
    /// <summary>
    /// File sources: the deterministic media-time clock (YAML <c>media_time: START</c>, a UTC instant).
    /// Frame n is at START + n / frame rate: time bins follow the media, not the wall clock, and
    /// detections run on fixed frames (never skipped, never moved by load), so the same clip gives
    /// the same per-bin counts at any pace, on any machine or worker. Null = the wall clock.
    /// </summary>
    public DateTimeOffset? MediaStart { get; init; }
    /// <summary>Higher priority cameras keep their detection rate longer when the machine is behind.</summary>
    public int Priority { get; init; } = 1;
    /// <summary>Purpose analytics settings (lines, zones, floor calibration), bound by the analytics layer.</summary>
    public AnalyticsConfig Analytics { get; init; } = new();
    /// <summary>Released records of this camera to an MQTT broker under one of its manifest's export contracts (null = none).</summary>
    public MqttCameraConfig? Mqtt { get; init; }
    /// <summary>Case 1's checkout-queue forecast defaults for the server's forecast route and dashboard (null = none; the caller gives the service rate).</summary>
    public ForecastConfig? Forecast { get; init; }
}

/// <summary>The checkout queue of a case-1 camera's store (ranges checked by the loader).</summary>
/// <param name="ServiceRatePerHour">Customers one till serves per hour (μ).</param>
/// <param name="TargetWaitMinutes">The expected queue wait the tills are sized for.</param>
/// <param name="CheckoutShare">Share of visitors who go to a till (0..1].</param>
/// <param name="MaxTills">Tills the store has.</param>
public sealed record ForecastConfig(double ServiceRatePerHour, double TargetWaitMinutes = 2, double CheckoutShare = 1, int MaxTills = 20)
{
    // The accepted ranges, shared by the config loader and the server's forecast query parameters.
    public const double MinServiceRate = 0.01, MaxServiceRate = 10_000, MinTargetWaitMinutes = 0.01, MaxTargetWaitMinutes = 1440;
    public const int MaxTillsLimit = 1000;
}

/// <summary>A camera's <c>mqtt:</c> section: the broker (HOST:PORT), the manifest export contract it receives under, and the client id.</summary>
public sealed record MqttCameraConfig(string Broker, string Contract, string? ClientId);

/// <summary>Purpose analytics settings as written in the config; validated when the pipeline is built.</summary>
public sealed record AnalyticsConfig
{
    public IReadOnlyList<LineConfig> Lines { get; init; } = Array.Empty<LineConfig>();
    public IReadOnlyList<ZoneConfig> Zones { get; init; } = Array.Empty<ZoneConfig>();
    /// <summary>Image → floor calibration: pairs of image point [x,y] and floor point [X,Y] in metres.</summary>
    public IReadOnlyList<CalibrationPoint> Calibration { get; init; } = Array.Empty<CalibrationPoint>();
    /// <summary>Floor plan size in metres (width, depth) for icon images and heat maps.</summary>
    public double[]? FloorSize { get; init; }
    /// <summary>Seconds between crowd icon images.</summary>
    public double IconIntervalSeconds { get; init; } = 5;
}

public sealed record LineConfig(string Name, float X1, float Y1, float X2, float Y2);
public sealed record ZoneConfig(string Name, IReadOnlyList<(float X, float Y)> Polygon, bool ShelfFront, bool FloorCoordinates);
public sealed record CalibrationPoint(float ImageX, float ImageY, float FloorX, float FloorY);
