using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Ephemera;

/// <summary>
/// The engine's <see cref="System.Diagnostics.Metrics"/> instruments (meter <c>Ephemera</c>), read
/// from <see cref="EphemeraEngine.GetStatistics"/> when a listener collects: OpenTelemetry,
/// <c>dotnet-counters</c> or prometheus-net's meter adapter pick them up without the engine
/// knowing. Per-camera instruments carry a <c>camera</c> tag.
/// </summary>
public sealed class EphemeraMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Ephemera";
    private readonly Meter _meter = new(MeterName, "0.2");
    private readonly EphemeraEngine _engine;
    private EngineStatistics? _cached;
    private long _cachedAt;

    internal EphemeraMetrics(EphemeraEngine engine)
    {
        _engine = engine;
        PerCamera("ephemera.frames.decoded", "{frame}", "Frames decoded.", c => c.FramesDecoded);
        PerCamera("ephemera.frames.destroyed", "{frame}", "Frames whose pixels were wiped.", c => c.FramesDestroyed);
        PerCamera("ephemera.frames.dropped", "{frame}", "Decoded frames dropped at the camera's pool cap.", c => c.FramesDropped);
        PerCamera("ephemera.detections", "{frame}", "Frames through the detector.", c => c.Detections);
        PerCamera("ephemera.detections.skipped", "{frame}", "Due detections skipped while the detector was busy.", c => c.DetectionsSkipped);
        PerCamera("ephemera.pixel_stage.skipped", "{frame}", "Frames that skipped the pixel stages because their pool was full.", c => c.PixelStageSkipped);
        _meter.CreateObservableCounter("ephemera.records.published", () => Stats().RecordsPublished, "{record}", "Released records published to the sinks.");
        _meter.CreateObservableCounter("ephemera.records.dropped", () => Stats().ReaderDrops, "{record}", "Records readers lost to their drop policy.");
        _meter.CreateObservableGauge("ephemera.pixel_buffers.in_use", () => Stats().Pixels.InUse, "{buffer}", "Pixel buffers holding pixels now.");
        _meter.CreateObservableCounter("ephemera.pixel_buffers.leaked", () => Stats().Pixels.Leaked, "{buffer}", "Pixel buffers released by a finalizer (still wiped).");
        _meter.CreateObservableGauge("ephemera.pixels.engine_held.p99", () => Stats().Pixels.EngineHeld.P99Ms, "ms", "p99 time a decoded picture is held by the engine.");
        _meter.CreateObservableGauge("ephemera.pixels.decoder_held.p99", () => Stats().Pixels.DecoderHeld.P99Ms, "ms", "p99 time a picture's buffer is held by the decoder outside the engine.");
        _meter.CreateObservableGauge("ephemera.pixels.lifetime.max", () => Stats().Pixels.LifetimeMaxMs, "ms", "Longest allocation-to-wipe lifetime of a pixel buffer.");
    }

    private void PerCamera(string name, string unit, string description, Func<CameraStatistics, long> value) =>
        _meter.CreateObservableCounter(name, () => Stats().Cameras.Select(c => new Measurement<long>(value(c), new KeyValuePair<string, object?>("camera", c.Id))), unit, description);

    // One snapshot serves every instrument of a collection (they are read back to back).
    private EngineStatistics Stats()
    {
        long now = Stopwatch.GetTimestamp();
        if (_cached is { } s && Stopwatch.GetElapsedTime(_cachedAt, now) < TimeSpan.FromMilliseconds(200)) return s;
        _cachedAt = now;
        return _cached = _engine.GetStatistics();
    }

    /// <summary>Removes the instruments.</summary>
    public void Dispose() => _meter.Dispose();
}
