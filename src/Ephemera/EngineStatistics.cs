namespace Ephemera;

/// <summary>p50, p99 and maximum of a duration, milliseconds.</summary>
public sealed record DurationStats(double P50Ms, double P99Ms, double MaxMs);

/// <summary>One camera's counters at the moment of the snapshot.</summary>
public sealed record CameraStatistics(
    string Id, string State, string? Error,
    long FramesDecoded, long FramesDestroyed, long FramesNotDecoded, long FramesDropped,
    long Detections, long DetectionsSkipped, double DetectionsPerSecond,
    long PixelStageProcessed, long PixelStageSkipped,
    double LatencyP50Ms, double LatencyP99Ms);

/// <summary>
/// The process's pixel ledger: buffers allocated and wiped (equal, with none leaked, once every
/// camera stopped), and each decoded picture's lifetime split into engine-held (delivery to the
/// engine's release) and decoder-held (the codec's look-ahead and reference frames).
/// </summary>
public sealed record PixelStatistics(long Allocated, long Wiped, long InUse, long Leaked,
    double LifetimeMaxMs, DurationStats EngineHeld, DurationStats DecoderHeld);

/// <summary>A snapshot of a running (or stopped) engine.</summary>
public sealed record EngineStatistics(
    bool Running, TimeSpan Uptime, IReadOnlyList<CameraStatistics> Cameras, PixelStatistics Pixels,
    long RecordsPublished, long ReaderDrops, long SinkFailures, bool StoreHealthy, string? StoreError);
