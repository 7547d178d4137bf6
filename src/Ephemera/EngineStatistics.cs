namespace Ephemera;

/// <summary>p50, p99 and maximum of a duration, milliseconds.</summary>
/// <param name="P50Ms">Median.</param>
/// <param name="P99Ms">99th percentile.</param>
/// <param name="MaxMs">Maximum (exact; the percentiles come from a log-spaced histogram, ±9 %).</param>
public sealed record DurationStats(double P50Ms, double P99Ms, double MaxMs);

/// <summary>One camera's counters at the moment of the snapshot.</summary>
/// <param name="Id">The camera id.</param>
/// <param name="State">starting, running, reconnecting, ended, truncated, failed, refused, stopped or removed.</param>
/// <param name="Error">Why the camera failed, was refused, or reconnects (null when fine).</param>
/// <param name="FramesDecoded">Frames decoded (each holds pixels until wiped).</param>
/// <param name="FramesDestroyed">Frames released and wiped; equals <paramref name="FramesDecoded"/> once the camera stopped.</param>
/// <param name="FramesNotDecoded">Frames never decoded because no detection needed them (no pixels).</param>
/// <param name="FramesDropped">Decoded frames dropped at the camera's pool cap.</param>
/// <param name="Detections">Frames through the detector.</param>
/// <param name="DetectionsSkipped">Due detections skipped while the detector was busy (the tracker bridges them).</param>
/// <param name="DetectionsPerSecond">Detections per second since the engine started.</param>
/// <param name="PixelStageProcessed">Frames the camera's pixel stages processed (cases 1 and 4).</param>
/// <param name="PixelStageSkipped">Frames that skipped the pixel stages because their bounded pool was full.</param>
/// <param name="LatencyP50Ms">Median capture → result latency.</param>
/// <param name="LatencyP99Ms">99th-percentile capture → result latency.</param>
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
/// <param name="Allocated">Pixel buffers handed out since the process started.</param>
/// <param name="Wiped">Pixel buffers zeroed after their last release.</param>
/// <param name="InUse">Pixel buffers holding pixels now.</param>
/// <param name="Leaked">Buffers released by a finalizer instead of their owner (still wiped).</param>
/// <param name="LifetimeMaxMs">Longest allocation → wipe time of any buffer.</param>
/// <param name="EngineHeld">Delivery → the engine's last release, per decoded picture.</param>
/// <param name="DecoderHeld">The rest of each picture's block lifetime (decoder look-ahead, reference frames).</param>
public sealed record PixelStatistics(long Allocated, long Wiped, long InUse, long Leaked,
    double LifetimeMaxMs, DurationStats EngineHeld, DurationStats DecoderHeld);

/// <summary>A snapshot of a running (or stopped) engine.</summary>
/// <param name="Running">True between <see cref="EphemeraEngine.StartAsync"/> and <see cref="EphemeraEngine.StopAsync"/>.</param>
/// <param name="Uptime">Time since start.</param>
/// <param name="Cameras">Every camera added (running, refused, or removed).</param>
/// <param name="Pixels">The pixel ledger.</param>
/// <param name="RecordsPublished">Released records handed to the sinks and readers.</param>
/// <param name="ReaderDrops">Records readers lost to their drop policy.</param>
/// <param name="SinkFailures">Sink calls that threw.</param>
/// <param name="StoreHealthy">False while the store cannot write (records wait in a bounded buffer).</param>
/// <param name="StoreError">The store's last error while unhealthy.</param>
public sealed record EngineStatistics(
    bool Running, TimeSpan Uptime, IReadOnlyList<CameraStatistics> Cameras, PixelStatistics Pixels,
    long RecordsPublished, long ReaderDrops, long SinkFailures, bool StoreHealthy, string? StoreError);
