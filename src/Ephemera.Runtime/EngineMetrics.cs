using Prometheus;

namespace Ephemera.Runtime;

/// <summary>
/// Prometheus metrics of one engine instance (own registry, so several engines or tests never
/// share counters): per-camera frames, detection rate, drops by stage, end-to-end latency, and the
/// pixel ledger. Served on 127.0.0.1 by <see cref="StartServer"/> when a port is configured.
/// </summary>
public sealed class EngineMetrics : IDisposable
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private MetricServer? _server;

    public Counter FramesDecoded { get; }
    public Counter FramesDropped { get; }
    public Counter FramesNotDecoded { get; }
    public Counter Detections { get; }
    public Counter DetectionsSkipped { get; }
    public Gauge DetectFps { get; }
    public Gauge DecodeFps { get; }
    /// <summary>Capture → result latency of detected frames, per camera and quantile (0.5, 0.99), from the camera's own histogram.</summary>
    public Gauge LatencyMs { get; }
    public Gauge PixelHeldMs { get; }
    public Gauge PixelBuffers { get; }
    public Gauge CameraUp { get; }

    public EngineMetrics()
    {
        var f = Metrics.WithCustomRegistry(_registry);
        FramesDecoded = f.CreateCounter("ephemera_frames_decoded_total", "Frames decoded per camera.", "camera");
        FramesDropped = f.CreateCounter("ephemera_frames_dropped_total", "Frames dropped per camera and stage.", "camera", "stage");
        FramesNotDecoded = f.CreateCounter("ephemera_frames_not_decoded_total", "Frames never decoded because no detection needed them (non-reference frames between detections), per camera.", "camera");
        Detections = f.CreateCounter("ephemera_detections_total", "Frames that went through the detector, per camera.", "camera");
        DetectionsSkipped = f.CreateCounter("ephemera_detections_skipped_total", "Due detections skipped because the detector was busy (graceful degradation).", "camera");
        DetectFps = f.CreateGauge("ephemera_detect_fps", "Detections per second achieved, per camera.", "camera");
        DecodeFps = f.CreateGauge("ephemera_decode_fps", "Frames decoded per second, per camera.", "camera");
        LatencyMs = f.CreateGauge("ephemera_latency_ms", "Capture to result latency of detected frames, per camera and quantile.", "camera", "quantile");
        PixelHeldMs = f.CreateGauge("ephemera_pixel_held_ms", "How long decoded pictures hold pixels: engine_held (delivery to release) and decoder_held (codec look-ahead, reference frames), per quantile.", "part", "quantile");
        PixelBuffers = f.CreateGauge("ephemera_pixel_buffers", "Pixel ledger: allocated, wiped, in_use, leaked.", "state");
        CameraUp = f.CreateGauge("ephemera_camera_up", "1 while the camera delivers frames, 0 when failed, reconnecting or refused.", "camera");
    }

    /// <summary>Starts the scrape endpoint at http://127.0.0.1:PORT/metrics.</summary>
    public void StartServer(int port)
    {
        _server = new MetricServer("127.0.0.1", port, registry: _registry);
        _server.Start();
    }

    /// <summary>The text exposition, as a scrape would see it.</summary>
    public async Task<string> ScrapeAsync()
    {
        using var ms = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(ms);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    public void Dispose() => _server?.Dispose();
}
