using System.Runtime.CompilerServices;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance.Records;
using Ephemera.Runtime;
using Microsoft.Extensions.Logging;

namespace Ephemera;

/// <summary>
/// The engine as a library. Build it from <see cref="EphemeraOptions"/>, add cameras under their
/// purpose manifests (before or after <see cref="StartAsync"/>), and take released records from
/// <see cref="ReadAsync"/> or your own <see cref="IOutputSink"/>; the SQLite store is always the
/// first sink. Pixels never leave: every record passed its manifest's gates, and no member of this
/// type takes or returns a frame.
/// </summary>
/// <remarks>
/// Thread-safe: every method may be called from any thread. Cameras run on their own threads;
/// sinks are called one at a time from the engine's publishing path, never on a detector thread.
/// Dispose (or <see cref="StopAsync"/>) drains every camera: frames wiped, bins published, audit
/// written.
/// </remarks>
public sealed class EphemeraEngine : IAsyncDisposable, IDisposable
{
    private readonly EngineHost _host;
    private readonly EphemeraMetrics _metrics;
    private int _state; // 0 created, 1 started, 2 stopped

    /// <summary>Opens the store and prepares the engine; the detector loads with the first camera.</summary>
    /// <param name="options">Validated options.</param>
    /// <param name="loggers">Where engine messages go (null = nowhere).</param>
    public EphemeraEngine(EphemeraOptions options, ILoggerFactory? loggers = null)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        var config = new EngineConfig("(library)", options.ToEngineOptions(), []);
        _host = new EngineHost(config, new EngineRunOptions
        {
            Loggers = loggers, MaxCameras = options.MaxCameras, StopWhenCamerasEnd = false, PixelStageSlots = options.PixelStageSlots,
        });
        if (options.MetricsPort > 0) _host.Metrics.StartServer(options.MetricsPort);
        if (loggers != null)
        {
            // The decode core's lines (reconnects, hardware fallback, leaked leases) go to the host's log too.
            // Process-wide: the last engine built with a logger receives them.
            var decode = loggers.CreateLogger("Ephemera.Decode");
            DecodeLog.Sink = (level, message) => decode.Log(level switch
            {
                DecodeLogLevel.Error => LogLevel.Error,
                DecodeLogLevel.Warning => LogLevel.Warning,
                _ => LogLevel.Information,
            }, "{Message}", message);
        }
        _metrics = new EphemeraMetrics(this);
    }

    /// <summary>The options the engine was built with.</summary>
    public EphemeraOptions Options { get; }

    /// <summary>
    /// Adds a camera under its manifest. Refused (with the requirement id) when the manifest is
    /// missing, invalid or not yet allowed to start, or the id is already running; the refused
    /// camera never decodes a frame. Added before <see cref="StartAsync"/>, it starts with the engine.
    /// </summary>
    public Task<AddCameraResult> AddCameraAsync(CameraSpec camera, ManifestSource manifest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(camera);
        ArgumentNullException.ThrowIfNull(manifest);
        ThrowIfStopped();
        // The first camera loads the detector (seconds): off the caller's thread.
        return Task.Run(() =>
        {
            Governance.CameraManifest loaded;
            try { loaded = manifest.Load(); }
            catch (EphemeraException e)
            {
                var refused = CameraAdmission.Refused(camera.Id, e.Message);
                return AddCameraResult.Refused(camera.Id, refused.RequirementId ?? "BP-a", e.Message);
            }
            var a = _host.Admit(camera.ToConfig(), loaded);
            return a.Admitted ? AddCameraResult.Ok(camera.Id) : AddCameraResult.Refused(camera.Id, a.RequirementId, a.Reason!);
        }, cancellationToken);
    }

    /// <summary>
    /// Removes a running camera while the others go on: its last frame is wiped, its open bins
    /// published, and its audit closed with a removal record. False when no such camera runs.
    /// </summary>
    public Task<bool> RemoveCameraAsync(string cameraId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cameraId);
        return Task.Run(() => _host.RemoveCamera(cameraId, TimeSpan.FromSeconds(10)), cancellationToken);
    }

    /// <summary>Starts the cameras added so far; later ones start as they are added.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfStopped();
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) return Task.CompletedTask;
        return Task.Run(_host.Start, cancellationToken);
    }

    /// <summary>Stops every camera and drains: frames wiped, last bins published, final audit, readers completed. Idempotent.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _state, 2);
        return Task.Run(() => { _host.Stop(); }, CancellationToken.None);
    }

    /// <summary>
    /// Released records from now on, as they are published, until the engine stops or
    /// <paramref name="cancellationToken"/> fires. Each reader has its own bounded channel
    /// (<see cref="EphemeraOptions.ReaderCapacity"/>); a reader that falls behind loses records by
    /// <see cref="EphemeraOptions.ReaderDropPolicy"/>, counted in <see cref="EngineStatistics.ReaderDrops"/>.
    /// </summary>
    public IAsyncEnumerable<DerivedRecord> ReadAsync(RecordFilter? filter = null, CancellationToken cancellationToken = default)
    {
        // Subscribed now, not at the first MoveNext: records published after this call are not missed.
        var sub = _host.Records.Subscribe(Options.ReaderCapacity, Options.ReaderDropPolicy, filter is null ? null : filter.Matches);
        return Read(sub, cancellationToken);
    }

    private static async IAsyncEnumerable<DerivedRecord> Read(RecordSubscription sub, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using (sub)
        {
            while (await sub.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                while (sub.Reader.TryRead(out var r)) yield return r;
        }
    }

    /// <summary>Adds a sink for released records (after the store).</summary>
    public void AddSink(IOutputSink sink) => _host.Records.AddSink(sink);

    /// <summary>Counters of the engine, its cameras and the pixel ledger, now.</summary>
    public EngineStatistics GetStatistics()
    {
        double secs = Math.Max(1e-3, _host.Elapsed.TotalSeconds);
        var cams = _host.Cameras.Concat(_host.RetiredCameras).Select(c => new CameraStatistics(
            c.Id, c.State.ToString().ToLowerInvariant(), c.Error,
            c.FramesDecoded, c.FramesDestroyed, c.FramesNotDecoded, c.FramesDroppedForPool,
            c.DetectionsDone, c.DetectionsSkipped, Math.Round(c.DetectionsDone / secs, 3),
            c.PixelStageProcessed, c.PixelStageSkipped,
            Math.Round(c.Latency.Quantile(0.5), 2), Math.Round(c.Latency.Quantile(0.99), 2))).ToList();
        var l = PixelLedger.Snapshot();
        var pixels = new PixelStatistics(l.Allocated, l.Wiped, l.InUse, l.Leaked, Math.Round(l.LifetimeMaxMs, 3),
            new DurationStats(Math.Round(l.EngineHeldP50Ms, 3), Math.Round(l.EngineHeldP99Ms, 3), Math.Round(l.EngineHeldMaxMs, 3)),
            new DurationStats(Math.Round(l.DecoderHeldP50Ms, 3), Math.Round(l.DecoderHeldP99Ms, 3), Math.Round(l.DecoderHeldMaxMs, 3)));
        return new EngineStatistics(Volatile.Read(ref _state) == 1, _host.Elapsed, cams, pixels,
            _host.Records.Published, _host.Records.ReaderDrops, _host.Records.SinkFailures, _host.StoreError is null, _host.StoreError);
    }

    /// <summary>The Prometheus text exposition of the engine's metrics, as a scrape would see it.</summary>
    public Task<string> ScrapeMetricsAsync() => _host.Metrics.ScrapeAsync();

    private void ThrowIfStopped()
    {
        if (Volatile.Read(ref _state) == 2) throw new EphemeraException("the engine was stopped; create a new one");
    }

    /// <summary>Stops (draining) and releases the store and the detector.</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _state) == 1) _host.Stop();
        Interlocked.Exchange(ref _state, 2);
        _metrics.Dispose();
        _host.Dispose();
    }

    /// <summary>Stops (draining) and releases the store and the detector.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _state) == 1) await StopAsync().ConfigureAwait(false);
        Dispose();
    }
}
