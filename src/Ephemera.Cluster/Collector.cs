using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace Ephemera.Cluster;

/// <summary>Collector settings, validated when set.</summary>
public sealed record CollectorOptions
{
    /// <summary>The central store (SQLite): the same store, gates, retention and audit chain as a single engine's.</summary>
    public string StorePath { get; init => field = string.IsNullOrWhiteSpace(value) ? throw new EphemeraException("--store: must not be empty") : value; } = "ephemera.db";
    /// <summary>How long after a bin's end parts may still arrive (at least the lease time plus a worker's checkpoint interval).</summary>
    public TimeSpan Grace { get; init => field = value < TimeSpan.Zero || value > TimeSpan.FromHours(6) ? throw new EphemeraException($"--grace: {value.TotalSeconds} s is outside 0..21600") : value; } = TimeSpan.FromSeconds(30);
    /// <summary>Parts fetched per batch (one SQLite transaction each).</summary>
    public int Batch { get; init => field = value is < 1 or > 100_000 ? throw new EphemeraException($"--batch: {value} is outside 1..100000") : value; } = 1000;
}

/// <summary>
/// <c>ephemera collect</c>: takes record parts from the cluster's stream with a durable consumer,
/// merges each bin's parts (<see cref="BinCollector"/>), and releases every bin once, whole, through
/// the release gate into the central SQLite store. Parts are acknowledged only after they are
/// checkpointed beside the store (<c>&lt;store&gt;.cluster</c>, table <c>cluster_parts</c>), so a
/// collector that crashes and restarts neither loses nor double-counts them; released bins are listed
/// there (<c>cluster_released</c>) so a part that comes after its bin's release is late, never a
/// second release. (A crash between a bin's store write and its listing would release it again on
/// restart: the one window left, one bin wide.)
/// </summary>
public sealed class Collector : IDisposable
{
    private readonly CollectorOptions _options;
    private readonly ILogger _log;
    private readonly EphemeraStore _store;
    private readonly SqliteConnection _db;
    private readonly BinCollector _bins;
    private readonly Dictionary<string, CameraManifest?> _manifests = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Analytics.FloorPlan> _plans = new(StringComparer.Ordinal); // for heat-map images, as the workers bound them
    // The cameras' mqtt: sections are served here, from the released output: a worker sees only its
    // share of a bin that a failover split, and a sub-k difference between two halves must never leave.
    private readonly Dictionary<(string Broker, string ClientId), Mqtt.MqttSink> _mqtt = new();
    private readonly Dictionary<string, Mqtt.MqttSink> _mqttOf = new(StringComparer.Ordinal);
    private INatsKVStore? _desired;

    /// <summary>Parts accepted, stale (superseded or repeated), late, refused, of a stale epoch (fenced out); bins released.</summary>
    public long Accepted, Stale, Late, Refused, StaleEpoch, BinsReleased;

    /// <summary>Opens the store (creating it when missing) and the collector's checkpoint of held parts.</summary>
    public Collector(CollectorOptions options, ILogger? log = null)
    {
        _options = options;
        _log = log ?? NullLogger.Instance;
        _store = EphemeraStore.Open(options.StorePath);
        // Its own file beside the store: the store's schema stays the single engine's.
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = options.StorePath + ".cluster", Pooling = false }.ToString());
        _db.Open();
        Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + // as the store: a power cut may lose the last commits, never corrupt
             "CREATE TABLE IF NOT EXISTS cluster_parts(camera TEXT NOT NULL, class TEXT NOT NULL, bin_start TEXT NOT NULL, epoch INTEGER NOT NULL, json BLOB NOT NULL, PRIMARY KEY(camera, class, bin_start, epoch));" +
             "CREATE TABLE IF NOT EXISTS cluster_visits(camera TEXT NOT NULL, bin_start TEXT NOT NULL, msg_id TEXT NOT NULL, json BLOB NOT NULL, PRIMARY KEY(camera, bin_start, msg_id));" +
             "CREATE TABLE IF NOT EXISTS cluster_released(camera TEXT NOT NULL, class TEXT NOT NULL, bin_start TEXT NOT NULL, released_at TEXT NOT NULL, PRIMARY KEY(camera, class, bin_start));");
        _bins = new BinCollector(ManifestOf, options.Grace, camera => _plans.GetValueOrDefault(camera));
    }

    /// <summary>The store the collector writes (for status and tests).</summary>
    public EphemeraStore Store => _store;
    /// <summary>Bins held, waiting for their end and grace.</summary>
    public int OpenBins => _bins.OpenBins;

    private void Exec(string sql, SqliteTransaction? tx = null)
    {
        using var c = _db.CreateCommand(); c.CommandText = sql; c.Transaction = tx; c.ExecuteNonQuery();
    }

    private CameraManifest? ManifestOf(string camera)
    {
        if (_manifests.TryGetValue(camera, out var m)) return m;
        // The manifest every worker ran under is the desired state's, byte for byte.
        m = null;
        if (_desired is { } kv)
        {
            try
            {
                var e = kv.GetEntryAsync<byte[]>(camera).AsTask().GetAwaiter().GetResult();
                if (e.Value is { } v)
                {
                    var desired = DesiredCamera.Parse(v);
                    m = desired.LoadManifest();
                    _store.RegisterManifest(m); // M4: versions only grow; the store keeps what each row was released under
                    if (desired.Camera.Mqtt is { } q) AttachMqtt(m, q);
                    if (Runtime.HeatMapTable.Releases(m)) AttachFloorPlan(desired.Camera, m);
                }
            }
            catch (NatsKVKeyNotFoundException) { }
            catch (EphemeraException e) { _log.LogError("camera {Camera}: {Error}; its parts are refused", camera, e.Message); }
        }
        _manifests[camera] = m;
        return m;
    }

    /// <summary>
    /// The camera's <c>mqtt:</c> section: its released bins go to that broker under the manifest's
    /// contract (one sink per broker and client id; default client id <c>ephemera-collector</c>). A
    /// contract the manifest does not name is refused (PN7/AC7), logged and audited; the store still gets the bins.
    /// </summary>
    private void AttachMqtt(CameraManifest m, Config.MqttCameraConfig q)
    {
        try
        {
            Mqtt.MqttSink.RequireContract(m, q.Contract); // before a connection is opened for it
            var options = Mqtt.MqttSinkOptions.FromBroker(q.Broker) with { ClientId = q.ClientId ?? "ephemera-collector" };
            if (!_mqtt.TryGetValue((q.Broker, options.ClientId), out var sink))
                _mqtt[(q.Broker, options.ClientId)] = sink = new Mqtt.MqttSink(options, _log);
            sink.AddCamera(m, q.Contract);
            _mqttOf[m.CameraId] = sink;
            _log.LogInformation("camera {Camera}: released bins to mqtt://{Broker} under contract {Contract}", m.CameraId, q.Broker, q.Contract);
        }
        catch (EphemeraException e)
        {
            _log.LogError("camera {Camera}: {Reason}", m.CameraId, e.Message);
            _store.Audit.Append(new ClusterAuditRecord(m.CameraId, "mqtt-refused", e.Message, 1));
        }
    }

    /// <summary>The camera's floor plan as its workers bind it: its heat maps' images get the zone outlines (without it, none).</summary>
    private void AttachFloorPlan(Config.CameraConfig camera, CameraManifest m)
    {
        try
        {
            if (Runtime.AnalyticsBinder.Bind(camera, m).Options.Flow?.Plan is { } plan) _plans[camera.Id] = plan;
        }
        catch (EphemeraException e) { _log.LogWarning("camera {Camera}: no floor plan for its heat-map images ({Error})", camera.Id, e.Message); }
    }

    /// <summary>Registers a manifest directly (an embedding host without a desired-state bucket).</summary>
    public void AddManifest(CameraManifest m)
    {
        _store.RegisterManifest(m);
        _manifests[m.CameraId] = m;
    }

    /// <summary>Loads the held parts and the released list from the store file (after a restart).</summary>
    private void Restore()
    {
        using (var c = _db.CreateCommand())
        {
            c.CommandText = "SELECT camera, class, bin_start FROM cluster_released";
            using var r = c.ExecuteReader();
            while (r.Read()) _bins.MarkReleased(r.GetString(0), Enum.Parse<DataClass>(r.GetString(1)), DateTimeOffset.Parse(r.GetString(2), System.Globalization.CultureInfo.InvariantCulture));
        }
        var held = new List<BinPart>();
        using (var c = _db.CreateCommand())
        {
            c.CommandText = "SELECT json FROM cluster_parts";
            using var r = c.ExecuteReader();
            while (r.Read()) held.Add(BinPart.Parse((byte[])r.GetValue(0)));
        }
        foreach (var p in held.OrderByDescending(p => p.Epoch)) _bins.Add(p); // newest epochs first: their starts fence older parts
        int visitParts = 0;
        using (var c = _db.CreateCommand())
        {
            c.CommandText = "SELECT json FROM cluster_visits";
            using var r = c.ExecuteReader();
            while (r.Read()) { _bins.Add(TrajectoryPart.Parse((byte[])r.GetValue(0))); visitParts++; }
        }
        if (held.Count + visitParts > 0) _log.LogInformation("collector: {Parts} held part(s) restored from {Store}.cluster", held.Count + visitParts, _options.StorePath);
    }

    /// <summary>Consumes until <paramref name="ct"/> fires, then releases nothing early: held parts stay checkpointed for the next start.</summary>
    public async Task RunAsync(ClusterConnection cluster, CancellationToken ct)
    {
        // Setup is short and not cancelled half-way: a stop that comes now ends the loop below at once.
        _desired = await cluster.BucketAsync(ClusterNames.DesiredBucket).ConfigureAwait(false);
        await cluster.EnsureRecordStreamAsync(TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        var consumer = await cluster.JetStream.CreateOrUpdateConsumerAsync(ClusterNames.RecordStream, new ConsumerConfig(ClusterNames.CollectorConsumer)
        {
            DurableName = ClusterNames.CollectorConsumer,
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            AckWait = TimeSpan.FromSeconds(60),
            MaxAckPending = Math.Max(10_000, _options.Batch * 4),
            DeliverPolicy = ConsumerConfigDeliverPolicy.All,
        }).ConfigureAwait(false);
        Restore();
        _store.Audit.Append(new ClusterAuditRecord("", "collector-start", $"stream {ClusterNames.RecordStream} on {cluster.Url}, grace {_options.Grace.TotalSeconds} s", _bins.OpenBins));
        var images = await ImageObjects.OpenAsync(cluster).ConfigureAwait(false);
        var nextRetention = DateTime.UtcNow;
        while (!ct.IsCancellationRequested)
        {
            var batch = new List<INatsJSMsg<byte[]>>(_options.Batch);
            try
            {
                await foreach (var msg in consumer.FetchAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = _options.Batch, Expires = TimeSpan.FromSeconds(1) }, cancellationToken: ct).ConfigureAwait(false))
                    batch.Add(msg);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (NatsJSException e) { _log.LogWarning("collector: fetch failed ({Error}); retrying", e.Message); await Task.Delay(500, CancellationToken.None).ConfigureAwait(false); continue; }
            catch (NATS.Client.Core.NatsException e) { _log.LogWarning("collector: server away ({Error}); retrying", e.Message); await Task.Delay(500, CancellationToken.None).ConfigureAwait(false); continue; }
            if (batch.Count > 0)
            {
                Take(batch.Select(m => m.Data ?? []));
                foreach (var m in batch) await m.AckAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
            }
            ReleaseDue(DateTimeOffset.UtcNow);
            if (DateTime.UtcNow >= nextRetention)
            {
                _store.ApplyRetention();
                // Bounded: a sweep must never hold up the parts.
                using var sweepTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                sweepTimeout.CancelAfter(TimeSpan.FromSeconds(30));
                try { await SweepImagesAsync(images, DateTimeOffset.UtcNow, sweepTimeout.Token).ConfigureAwait(false); }
                catch (Exception e) when (e is NATS.Client.Core.NatsException or OperationCanceledException) { _log.LogWarning("collector: image sweep failed ({Error}); next round", e.Message); }
                nextRetention = DateTime.UtcNow.AddMinutes(10);
            }
        }
    }

    /// <summary>
    /// Retention of case-4 images in the object store: each image past its expiry (bin start plus its
    /// manifest's retention) is deleted, and the deletions are audited per camera. Returns how many.
    /// </summary>
    public async Task<int> SweepImagesAsync(ImageObjects images, DateTimeOffset now, CancellationToken ct = default)
    {
        var gone = await images.SweepAsync(now, ct).ConfigureAwait(false);
        foreach (var g in gone.GroupBy(g => g.Camera))
            _store.Audit.Append(new ClusterAuditRecord(g.Key, "image-expired", $"{ClusterNames.ImageBucket}: {string.Join(", ", g.Select(x => x.Name))}", g.Count()));
        return gone.Count;
    }

    /// <summary>Takes a batch of parts: merged in memory and checkpointed in one transaction (acknowledge after this returns).</summary>
    public void Take(IEnumerable<byte[]> parts)
    {
        using var tx = _db.BeginTransaction();
        var late = new Dictionary<string, long>();
        var lateVisits = new Dictionary<string, long>();
        var fenced = new Dictionary<string, long>();
        foreach (var data in parts)
        {
            if (IconPart.IsIcon(data)) { TakeIcon(data); continue; }
            if (TrajectoryPart.IsTrajectory(data)) { TakeVisits(data, tx, lateVisits, fenced); continue; }
            BinPart p;
            try { p = BinPart.Parse(data); }
            catch (EphemeraException e) { Refused++; _log.LogWarning("collector: {Error}", e.Message); continue; }
            switch (_bins.Add(p))
            {
                case PartOutcome.Accepted:
                    Accepted++;
                    using (var c = _db.CreateCommand())
                    {
                        c.Transaction = tx;
                        c.CommandText = "INSERT OR REPLACE INTO cluster_parts VALUES($c, $k, $b, $e, $j)";
                        c.Parameters.AddWithValue("$c", p.CameraId); c.Parameters.AddWithValue("$k", p.Class.ToString());
                        c.Parameters.AddWithValue("$b", p.BinStart.UtcDateTime.ToString("O")); c.Parameters.AddWithValue("$e", p.IsMediaTime ? -1 : (long)p.Epoch); // a media-time bin keeps one part, the furthest
                        c.Parameters.AddWithValue("$j", data);
                        c.ExecuteNonQuery();
                    }
                    break;
                case PartOutcome.Stale: Stale++; break;
                case PartOutcome.Late: Late++; late[p.CameraId] = late.GetValueOrDefault(p.CameraId) + 1; break;
                case PartOutcome.StaleEpoch: StaleEpoch++; fenced[p.CameraId] = fenced.GetValueOrDefault(p.CameraId) + 1; break;
                default: Refused++; break;
            }
        }
        tx.Commit();
        foreach (var (camera, n) in late)
            _store.Audit.Append(new ClusterAuditRecord(camera, "late-parts", "parts of bins already released: not released on their own (a sub-k difference)", n));
        foreach (var (camera, n) in lateVisits)
            _store.Audit.Append(new ClusterAuditRecord(camera, "late-visits", "visits of trajectory bins already released: not released on their own (a set below the unicity gate)", n));
        foreach (var (camera, n) in fenced)
            _store.Audit.Append(new ClusterAuditRecord(camera, "stale-epoch-parts", "parts taken after a newer epoch of the camera began (a worker past its lease): ignored", n));
    }

    /// <summary>A trajectory part: its visits join the bin's union at the collector (<see cref="BinCollector.Add(TrajectoryPart)"/>), checkpointed like a bin part.</summary>
    private void TakeVisits(byte[] data, SqliteTransaction tx, Dictionary<string, long> late, Dictionary<string, long> fenced)
    {
        TrajectoryPart p;
        try { p = TrajectoryPart.Parse(data); }
        catch (EphemeraException e) { Refused++; _log.LogWarning("collector: {Error}", e.Message); return; }
        long lateBefore = _bins.LateVisits;
        switch (_bins.Add(p))
        {
            case PartOutcome.Accepted:
                Accepted++;
                using (var c = _db.CreateCommand())
                {
                    c.Transaction = tx;
                    c.CommandText = "INSERT OR REPLACE INTO cluster_visits VALUES($c, $b, $i, $j)";
                    c.Parameters.AddWithValue("$c", p.CameraId); c.Parameters.AddWithValue("$b", p.BinStart.UtcDateTime.ToString("O"));
                    c.Parameters.AddWithValue("$i", p.MessageId); c.Parameters.AddWithValue("$j", data);
                    c.ExecuteNonQuery();
                }
                break;
            case PartOutcome.Stale: Stale++; break;
            case PartOutcome.Late: Late++; late[p.CameraId] = late.GetValueOrDefault(p.CameraId) + _bins.LateVisits - lateBefore; break;
            case PartOutcome.StaleEpoch: StaleEpoch++; fenced[p.CameraId] = fenced.GetValueOrDefault(p.CameraId) + 1; break;
            default: Refused++; break;
        }
    }

    /// <summary>Visits that came for trajectory bins already released (counted, audited with the late parts, never released).</summary>
    public long LateVisits => _bins.LateVisits;

    // The newest icon time released per camera: an older snapshot (a failover's reordering) is stale.
    private readonly Dictionary<string, DateTimeOffset> _iconAt = new(StringComparer.Ordinal);
    /// <summary>Crowd icon images released into the store (latest-only: each replaced the camera's previous one).</summary>
    public long IconsReleased;

    /// <summary>
    /// A crowd icon image: not a bin, a latest-only snapshot. The newest per camera goes through the
    /// gate (the manifest must release icons, under the same version) into the store's latest item and
    /// to the camera's MQTT broker; an older or repeated one is stale.
    /// </summary>
    private void TakeIcon(byte[] data)
    {
        IconPart icon;
        try { icon = IconPart.Parse(data); }
        catch (EphemeraException e) { Refused++; _log.LogWarning("collector: {Error}", e.Message); return; }
        var m = ManifestOf(icon.CameraId);
        if (m is null || m.VersionHash != icon.ManifestVersion || !m.Declares(DataClass.IconImage)) { Refused++; return; }
        if (_iconAt.TryGetValue(icon.CameraId, out var newest) && newest >= icon.At) { Stale++; return; }
        try
        {
            var record = ReleaseGate.IconImage(m, icon.At, icon.Png, icon.People);
            _store.Write(record);
            _iconAt[icon.CameraId] = icon.At;
            Accepted++; IconsReleased++;
            if (_mqttOf.TryGetValue(icon.CameraId, out var sink)) sink.Write(record);
        }
        catch (EphemeraException e)
        {
            Refused++;
            _log.LogWarning("camera {Camera}: icon image refused: {Reason}", icon.CameraId, e.Message);
        }
    }

    /// <summary>Releases the bins that are due (all with null) into the store; returns how many.</summary>
    public int ReleaseDue(DateTimeOffset? now)
    {
        var records = _bins.ReleaseDue(now);
        var decided = records.Select(r => (Camera: r.CameraId, Class: r.Class, Bin: r.BinStart)).ToList();
        foreach (var (camera, cls, bin, reason) in _bins.GateRefusals)
        {
            _log.LogWarning("camera {Camera}: {Class} bin {Bin:O} refused by the gate: {Reason}", camera, cls, bin, reason);
            _store.Audit.Append(new ClusterAuditRecord(camera, "bin-refused", $"{cls} {bin:O}: {reason}", 1));
            // A refused trajectory set is decided, like a released one: listed, its visits gone (a restart must not gate it again).
            if (cls == DataClass.Trajectory) decided.Add((camera, cls, bin));
        }
        _bins.GateRefusals.Clear();
        if (decided.Count == 0) return 0;
        foreach (var r in records) _store.Write(r);
        // One transaction for the batch: listed as released, their parts gone.
        using var tx = _db.BeginTransaction();
        foreach (var r in decided)
        {
            using var c = _db.CreateCommand();
            c.Transaction = tx;
            c.CommandText = "INSERT OR IGNORE INTO cluster_released VALUES($c, $k, $b, $a); " + (r.Class == DataClass.Trajectory
                ? "DELETE FROM cluster_visits WHERE camera = $c AND bin_start = $b"
                : "DELETE FROM cluster_parts WHERE camera = $c AND class = $k AND bin_start = $b");
            c.Parameters.AddWithValue("$c", r.Camera); c.Parameters.AddWithValue("$k", r.Class.ToString());
            c.Parameters.AddWithValue("$b", r.Bin.UtcDateTime.ToString("O")); c.Parameters.AddWithValue("$a", DateTime.UtcNow.ToString("O"));
            c.ExecuteNonQuery();
        }
        tx.Commit();
        // Only now, released once and listed: the same records to the cameras' MQTT brokers (the sink only queues).
        foreach (var r in records)
            if (_mqttOf.TryGetValue(r.CameraId, out var sink)) sink.Write(r);
        BinsReleased += records.Count;
        return records.Count;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var sink in _mqtt.Values) sink.Dispose(); // queued records out, then "offline"
        _db.Dispose();
        _store.Dispose();
    }
}
