using System.Runtime.CompilerServices;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Runtime;
using Microsoft.Extensions.Logging;

namespace Ephemera.Server;

/// <summary>
/// The engine the server hosts: the runtime's <see cref="EngineHost"/>, as the CLI's <c>run</c> and the
/// library's <c>EphemeraEngine</c> use it (the same admission, live add/remove, record router, store
/// and metrics). The server does not go through the <c>Ephemera</c> front-door assembly because the
/// CLI that starts it is itself the assembly <c>ephemera</c>, and .NET assembly names ignore case, so
/// both cannot load in one process. Every store read goes through <see cref="EphemeraStore.Query"/>.
/// </summary>
public sealed class ServedEngine : IDisposable
{
    private readonly EngineHost _host;
    private int _state; // 0 created, 1 started, 2 stopped

    public ServedEngine(EngineConfig config, ILoggerFactory? loggers)
    {
        _host = new EngineHost(config with { Cameras = [] }, new EngineRunOptions
        {
            Loggers = loggers, MaxCameras = Math.Max(16, config.Cameras.Count), StopWhenCamerasEnd = false,
        });
        if (config.Engine.MetricsPort > 0) _host.Metrics.StartServer(config.Engine.MetricsPort);
    }

    /// <summary>Admits a camera under its manifest (null = the file <see cref="CameraConfig.Manifest"/> names; refused when missing or invalid).</summary>
    public Task<CameraAdmission> AddCameraAsync(CameraConfig camera, CameraManifest? manifest) =>
        Task.Run(() => Volatile.Read(ref _state) == 2
            ? CameraAdmission.Refused(camera.Id, "the engine was stopped")
            : _host.Admit(camera, manifest));

    public Task<bool> RemoveCameraAsync(string id) => Task.Run(() => _host.RemoveCamera(id, TimeSpan.FromSeconds(10)));

    public Task StartAsync()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) return Task.CompletedTask;
        return Task.Run(_host.Start);
    }

    public Task StopAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) != 1) return Task.CompletedTask;
        return Task.Run(_host.Stop);
    }

    public bool Running => Volatile.Read(ref _state) == 1;
    public bool StoreHealthy => _host.StoreError is null;
    public string? StoreError => _host.StoreError;
    public TimeSpan Uptime => _host.Elapsed;
    public long RecordsPublished => _host.Records.Published;
    public long ReaderDrops => _host.Records.ReaderDrops;
    public IEnumerable<CameraWorker> Cameras => _host.Cameras.Concat(_host.RetiredCameras);
    public static LedgerSnapshot Ledger() => PixelLedger.Snapshot();

    /// <summary>Released records from now on (subscribed at the call), until the engine stops or the token fires.</summary>
    public IAsyncEnumerable<DerivedRecord> ReadAsync(Func<DerivedRecord, bool>? filter, CancellationToken ct)
    {
        var sub = _host.Records.Subscribe(1024, RecordDropPolicy.DropOldest, filter);
        return Read(sub, ct);
    }

    private static async IAsyncEnumerable<DerivedRecord> Read(RecordSubscription sub, [EnumeratorCancellation] CancellationToken ct)
    {
        using (sub)
        {
            while (await sub.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
                while (sub.Reader.TryRead(out var r)) yield return r;
        }
    }

    public Task<string> ScrapeMetricsAsync() => _host.Metrics.ScrapeAsync();
    public StoreQuery Query(Role role) => _host.Store.Query(role);
    public VerifyResult VerifyAudit() => _host.Store.Audit.Verify();
    public long RecordInquiry(string cameraId, string category, string channel) => _host.Store.RecordInquiry(cameraId, category, channel);
    public IReadOnlyDictionary<(string CameraId, string Category), int> InquiryCounts() => _host.Store.InquiryCounts();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _state, 2) == 1) _host.Stop();
        _host.Dispose();
    }
}
