using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Ephemera.Core;
using Microsoft.Data.Sqlite;

namespace Ephemera.Governance;

/// <summary>Result of one retention run.</summary>
public sealed record RetentionReport(DateTimeOffset At, IReadOnlyList<RetentionDeletionRecord> Deletions)
{
    public long RowsDeleted => Deletions.Sum(d => d.RowsDeleted);
}

/// <summary>A derived row as read back.</summary>
public sealed record DerivedRow(string CameraId, DataClass Class, DateTimeOffset BinStart, TimeSpan BinLength, string PayloadJson, byte[]? Blob, string? MediaType);

/// <summary>The latest item of a latest-only class (case 5 icon image).</summary>
public sealed record LatestItem(string CameraId, DataClass Class, byte[] Blob, string MediaType, DateTimeOffset WrittenAt);

/// <summary>
/// The embedded store (SQLite, default <c>var/ephemera.db</c>): derived data partitioned by data class and
/// day, the latest-only items, the registered manifest versions and the audit chain. It stores no pixels
/// and no features: raw frames and feature vectors are refused by type of class, and every write is
/// checked against the camera's registered manifest (M2). Thread-safe: one connection behind a lock.
/// </summary>
public sealed class EphemeraStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly object _lock = new();
    private readonly Dictionary<string, CameraManifest> _manifests = new(StringComparer.Ordinal);
    private readonly IAuditSigner _signer;
    private readonly IReadOnlyList<IAuditWitness> _witnesses;

    public string Path { get; }
    public IClock Clock { get; }
    public AuditChain Audit { get; }

    /// <summary><c>var/ephemera.db</c> under <see cref="RepoPaths.Var"/>.</summary>
    public static string DefaultPath => System.IO.Path.Combine(RepoPaths.Var, "ephemera.db");

    private EphemeraStore(string path, IClock clock, AuditOptions audit)
    {
        Path = path; Clock = clock;
        AuditKeys.CreatePrivateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        bool isNew = !File.Exists(path);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        _db.Open();
        if (isNew) AuditKeys.RestrictFile(path);
        AuditChain.Exec(_db, null, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
        AuditChain.CreateSchema(_db);
        AuditChain.Exec(_db, null, """
            CREATE TABLE IF NOT EXISTS manifest_versions(camera_id TEXT NOT NULL, version INTEGER NOT NULL, version_hash TEXT NOT NULL,
                published TEXT NOT NULL, lead_time_s INTEGER NOT NULL, registered_at TEXT NOT NULL, notified_json TEXT NOT NULL, activated_at TEXT,
                PRIMARY KEY(camera_id, version_hash));
            CREATE TABLE IF NOT EXISTS manifest_outputs(version_hash TEXT NOT NULL, class TEXT NOT NULL, storage TEXT NOT NULL, retention_s INTEGER NOT NULL,
                PRIMARY KEY(version_hash, class));
            CREATE TABLE IF NOT EXISTS derived(id INTEGER PRIMARY KEY, camera_id TEXT NOT NULL, class TEXT NOT NULL, partition TEXT NOT NULL,
                bin_start_ms INTEGER NOT NULL, bin_end_ms INTEGER NOT NULL, version_hash TEXT NOT NULL, payload TEXT NOT NULL,
                blob BLOB, media_type TEXT, written_ms INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS derived_partition ON derived(camera_id, class, partition);
            CREATE INDEX IF NOT EXISTS derived_expiry ON derived(class, bin_end_ms);
            CREATE TABLE IF NOT EXISTS open_bins(camera_id TEXT NOT NULL, class TEXT NOT NULL, bin_start_ms INTEGER NOT NULL, raw TEXT NOT NULL,
                PRIMARY KEY(camera_id, class, bin_start_ms));
            CREATE TABLE IF NOT EXISTS run_marker(id INTEGER PRIMARY KEY CHECK (id = 1), started_ms INTEGER NOT NULL, checkpoint_ms INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS latest(camera_id TEXT NOT NULL, class TEXT NOT NULL, media_type TEXT NOT NULL, blob BLOB NOT NULL,
                written_ms INTEGER NOT NULL, version_hash TEXT NOT NULL, PRIMARY KEY(camera_id, class));
            """);
        // -wal/-shm exist once WAL mode is on; they hold the same data, so they get the same mode.
        AuditKeys.RestrictFile(path + "-wal"); AuditKeys.RestrictFile(path + "-shm");
        if (audit.Signer is null && audit.KeyPath is null) MoveLegacyKey(path);
        var fileSigner = audit.Signer is null ? new FileAuditSigner(audit.KeyPath ?? AuditChain.KeyPath(path)) : null;
        _signer = audit.Signer ?? fileSigner!;
        try { AuditChain.BindKey(_db, _signer, fileSigner?.Path ?? "(host signer)"); }
        catch { _signer.Dispose(); _db.Dispose(); throw; }
        if (fileSigner is { Created: true })
            (audit.Notices ?? Console.Error).WriteLine($"audit signing key created: {fileSigner.Path} (public key {fileSigner.Path}.pub); pin its fingerprint for audit verify --fingerprint {AuditKeys.Fingerprint(_signer.PublicKey)}");
        _witnesses = audit.Witnesses;
        Audit = new AuditChain(_db, _lock, clock, _signer, _witnesses);
    }

    /// <summary>
    /// Stores made before the key moved out kept it as <c>audit-signing-key.pem</c> beside the database;
    /// it becomes <c>&lt;db&gt;.key</c> (with its public half), so an existing chain keeps its key.
    /// </summary>
    private static void MoveLegacyKey(string dbPath)
    {
        string legacy = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(dbPath))!, "audit-signing-key.pem");
        string key = AuditChain.KeyPath(dbPath);
        if (!File.Exists(legacy) || File.Exists(key) || !File.Exists(dbPath)) return;
        File.Move(legacy, key);
        using var ec = ECDsa.Create();
        ec.ImportFromPem(File.ReadAllText(key));
        File.WriteAllText(key + ".pub", ec.ExportSubjectPublicKeyInfoPem() + "\n");
    }

    /// <summary>Opens (creates) the store at <paramref name="path"/>; files 0600 in a 0700 folder. Throws <see cref="EphemeraException"/> naming the path and cause.</summary>
    public static EphemeraStore Open(string path, IClock? clock = null) => Open(path, clock, null);

    /// <summary>Opens the store with an explicit signing key location or signer, and witnesses for the signed heads.</summary>
    public static EphemeraStore Open(string path, IClock? clock, AuditOptions? audit)
    {
        try { return new EphemeraStore(path, clock ?? SystemClock.Instance, audit ?? new AuditOptions()); }
        catch (SqliteException e) { throw new EphemeraException($"cannot open store {path}: {e.Message}", e); }
    }

    // ------------------------------ manifests (M2, M4) ------------------------------

    /// <summary>
    /// Makes <paramref name="m"/> the camera's manifest for writes. M4: a manifest whose notified fields
    /// changed must carry a higher version number than any registered one, and its pre-notice must be
    /// newer than the previous version's (a change waits for its own notice and lead time, which
    /// <see cref="AuthorizeStart"/> checks). Throws <see cref="EphemeraException"/> naming the rule.
    /// </summary>
    public void RegisterManifest(CameraManifest m)
    {
        lock (_lock)
        {
            var known = new List<(int Version, string Hash, DateTimeOffset Published, bool Activated)>();
            using (var c = Cmd("SELECT version, version_hash, published, activated_at IS NOT NULL FROM manifest_versions WHERE camera_id = $c ORDER BY version"))
            {
                c.Parameters.AddWithValue("$c", m.CameraId);
                using var rd = c.ExecuteReader();
                while (rd.Read()) known.Add((rd.GetInt32(0), rd.GetString(1), DateTimeOffset.Parse(rd.GetString(2), CultureInfo.InvariantCulture), rd.GetBoolean(3)));
            }
            // A newer version that has gone live retires the older notices; until then the old version keeps running.
            if (known.FirstOrDefault(k => k.Version > m.Version && k.Activated) is { Hash: not null } newer)
                throw new EphemeraException($"M4: camera {m.CameraId} manifest v{m.Version} was superseded by v{newer.Version}, which is in force; an older notice cannot come back ({m.SourcePath})");
            if (!known.Any(k => k.Hash == m.VersionHash))
            {
                if (known.FirstOrDefault(k => k.Version == m.Version) is { Hash: not null } same)
                    throw new EphemeraException($"M4: camera {m.CameraId} manifest v{m.Version} changed notified fields (hash {same.Hash[..12]} → {m.VersionHash[..12]}) but kept its version number; raise version and publish a new pre-notice with lead time ({m.SourcePath})");
                if (known.Count > 0 && m.Version < known[^1].Version)
                    throw new EphemeraException($"M4: camera {m.CameraId} manifest v{m.Version} is older than the notified v{known[^1].Version} ({m.SourcePath})");
                if (known.Count > 0 && m.PreNotice.Published <= known[^1].Published)
                    throw new EphemeraException($"M4: camera {m.CameraId} manifest v{m.Version} changes what people were told, but its pre-notice date {m.PreNotice.Published:yyyy-MM-dd} is not after v{known[^1].Version}'s ({known[^1].Published:yyyy-MM-dd}); publish a new notice for the change ({m.SourcePath})");
                using var tx = _db.BeginTransaction(deferred: false);
                using (var c = Cmd("INSERT INTO manifest_versions(camera_id, version, version_hash, published, lead_time_s, registered_at, notified_json) VALUES($c, $v, $h, $p, $l, $r, $j)", tx))
                {
                    c.Parameters.AddWithValue("$c", m.CameraId); c.Parameters.AddWithValue("$v", m.Version); c.Parameters.AddWithValue("$h", m.VersionHash);
                    c.Parameters.AddWithValue("$p", m.PreNotice.Published.ToString("O")); c.Parameters.AddWithValue("$l", (long)m.PreNotice.LeadTime.TotalSeconds);
                    c.Parameters.AddWithValue("$r", Clock.Now.ToUniversalTime().ToString("O")); c.Parameters.AddWithValue("$j", m.CanonicalNotifiedJson());
                    c.ExecuteNonQuery();
                }
                foreach (var o in m.Outputs)
                {
                    using var c = Cmd("INSERT OR REPLACE INTO manifest_outputs VALUES($h, $k, $s, $r)", tx);
                    c.Parameters.AddWithValue("$h", m.VersionHash); c.Parameters.AddWithValue("$k", o.Class.ToString());
                    c.Parameters.AddWithValue("$s", o.Storage.ToString()); c.Parameters.AddWithValue("$r", (long)o.Retention.TotalSeconds);
                    c.ExecuteNonQuery();
                }
                Audit.AppendCore(tx, new ManifestAuditRecord(m.CameraId, m.Version, m.VersionHash, m.PreNotice.Published, "registered"));
                tx.Commit();
                Audit.PublishWitness();
            }
            _manifests[m.CameraId] = m;
        }
    }

    /// <summary>
    /// The runtime's start check for one camera: registers the manifest (M4) and applies
    /// <see cref="ManifestGate.CanStart"/> at the store's clock. A refusal is recorded in the audit chain.
    /// </summary>
    public GateDecision AuthorizeStart(CameraManifest m)
    {
        GateDecision decision;
        try
        {
            RegisterManifest(m);
            decision = ManifestGate.CanStart(m, Clock.Now);
        }
        catch (EphemeraException e)
        {
            decision = new GateDecision(false, [e.Message], null);
        }
        if (decision.Allowed)
        {
            lock (_lock)
            {
                using var c = Cmd("UPDATE manifest_versions SET activated_at = $a WHERE camera_id = $c AND version_hash = $h AND activated_at IS NULL");
                c.Parameters.AddWithValue("$a", Clock.Now.ToUniversalTime().ToString("O")); c.Parameters.AddWithValue("$c", m.CameraId); c.Parameters.AddWithValue("$h", m.VersionHash);
                c.ExecuteNonQuery();
            }
        }
        else
        {
            lock (_lock) if (_manifests.TryGetValue(m.CameraId, out var current) && current.VersionHash == m.VersionHash) _manifests.Remove(m.CameraId);
            Audit.Append(new StartRefusedRecord(m.CameraId, string.Join("; ", decision.Reasons)));
        }
        return decision;
    }

    /// <summary>The manifest registered for a camera in this process, if any.</summary>
    public CameraManifest? Manifest(string cameraId) { lock (_lock) return _manifests.GetValueOrDefault(cameraId); }

    // ------------------------------ writes ------------------------------

    /// <summary>
    /// Stores one derived record for a time bin. Refused for raw frames and feature vectors (no pixels,
    /// no features are ever stored), for classes the camera's manifest does not declare or declares
    /// memory-only, for bins finer than the manifest's time bin, and for trajectories (use
    /// <see cref="WriteTrajectories"/>, which applies the unicity gate).
    /// </summary>
    public void WriteDerived(string cameraId, DataClass cls, DateTimeOffset binStart, TimeSpan binLength, string payloadJson) =>
        WriteRow(cameraId, cls, binStart, binLength, payloadJson, null, null, allowTrajectory: false);

    /// <summary>Stores an anonymised image (case 4) for a time bin, with the same checks as <see cref="WriteDerived"/>.</summary>
    public void WriteAnonymisedImage(string cameraId, DateTimeOffset binStart, TimeSpan binLength, byte[] image, string mediaType, string metadataJson = "{}") =>
        WriteRow(cameraId, DataClass.AnonymisedImage, binStart, binLength, metadataJson, image, mediaType, allowTrajectory: false);

    /// <summary>
    /// Applies k-suppression with complementary suppression (manifest k) to a count or attribute table
    /// and stores the released table. Rows/cols are labels of bins (e.g. "20-29", "female"), never people.
    /// </summary>
    public SuppressedTable WriteCountTable(string cameraId, DataClass cls, DateTimeOffset binStart, TimeSpan binLength,
        IReadOnlyList<string> rowLabels, IReadOnlyList<string> colLabels, int[,] counts)
    {
        var m = RequireManifest(cameraId);
        if (rowLabels.Count != counts.GetLength(0) || colLabels.Count != counts.GetLength(1))
            throw new ArgumentException($"labels ({rowLabels.Count}×{colLabels.Count}) do not match the table ({counts.GetLength(0)}×{counts.GetLength(1)})");
        var table = CountSuppression.Suppress(counts, m.Privacy.MinCellCount);
        WriteRow(cameraId, cls, binStart, binLength, table.ToJson(rowLabels, colLabels), null, null, allowTrajectory: false, released: true);
        return table;
    }

    /// <summary>
    /// Stores a record the <see cref="Records.ReleaseGate"/> released: tables and crowd levels as a
    /// bin row (the released payload as built, never parsed back), an icon image as the camera's
    /// latest item. The manifest checks of <see cref="WriteDerived"/> apply as well.
    /// </summary>
    public void Write(Records.DerivedRecord record)
    {
        switch (record)
        {
            case Records.IconImageRecord icon:
                ReplaceLatest(icon.CameraId, DataClass.IconImage, icon.PngBytes, icon.MediaType);
                break;
            case Records.TrajectorySetRecord set:
                // One row per visit, each under a fresh random id (never linked across visits); the gate already ran.
                foreach (var t in set.Visits)
                    WriteRow(set.CameraId, DataClass.Trajectory, set.BinStart, set.BinLength, TrajectoryJson(t), null, null, allowTrajectory: true, released: true);
                break;
            case Records.HeatMapRecord heat:
                WriteRow(heat.CameraId, DataClass.HeatMap, heat.BinStart, heat.BinLength, heat.PayloadJson(), heat.PngBytes, heat.MediaType, allowTrajectory: false, released: true);
                break;
            case Records.AnonymisedImageRecord image:
                WriteRow(image.CameraId, DataClass.AnonymisedImage, image.BinStart, image.BinLength, image.PayloadJson(), image.JpegBytes, image.MediaType, allowTrajectory: false, released: true);
                break;
            case Records.CountTableRecord or Records.CrowdLevelRecord:
                WriteRow(record.CameraId, record.Class, record.BinStart, record.BinLength, record.PayloadJson(), null, null, allowTrajectory: false, released: true);
                break;
            default:
                throw new ArgumentException($"the store does not keep {record.GetType().Name} records", nameof(record));
        }
    }

    /// <summary>
    /// Stores coarsened trajectories of one time bin, one row per visit with a random id, only if the
    /// manifest opts in and the unicity test passes; otherwise stores nothing and says why.
    /// </summary>
    public TrajectoryGateResult WriteTrajectories(string cameraId, DateTimeOffset binStart, TimeSpan binLength, IReadOnlyList<Trajectory> coarsened, Random rng)
    {
        var m = RequireManifest(cameraId);
        ManifestGate.EnsureDeclared(m, DataClass.Trajectory);
        var gate = TrajectoryGate.Evaluate(m, coarsened, rng);
        if (!gate.Allowed) return gate;
        foreach (var t in coarsened)
            WriteRow(cameraId, DataClass.Trajectory, binStart, binLength, TrajectoryJson(t), null, null, allowTrajectory: true);
        return gate;
    }

    private static string TrajectoryJson(Trajectory t) => JsonSerializer.Serialize(new
    {
        visit = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), // per-visit, never linked across visits
        points = t.Points.Select(p => new[] { p.CellX, p.CellY, p.TimeBin }).ToArray(),
    }, CanonicalJson.Options);

    /// <summary>Replaces the camera's latest item of a latest-only class (case 5 icon image): each new one overwrites the last.</summary>
    public void ReplaceLatest(string cameraId, DataClass cls, byte[] blob, string mediaType)
    {
        RefuseNeverStored(cls);
        var m = RequireManifest(cameraId);
        ManifestGate.EnsureDeclared(m, cls);
        if (m.DataClasses[cls].Storage != StorageKind.Latest)
            throw new EphemeraException($"M2: camera {cameraId} declares {cls} with storage {m.DataClasses[cls].Storage}, not latest; ReplaceLatest is for latest-only classes");
        lock (_lock)
        {
            using var c = Cmd("INSERT OR REPLACE INTO latest VALUES($c, $k, $m, $b, $w, $h)");
            c.Parameters.AddWithValue("$c", cameraId); c.Parameters.AddWithValue("$k", cls.ToString()); c.Parameters.AddWithValue("$m", mediaType);
            c.Parameters.AddWithValue("$b", blob); c.Parameters.AddWithValue("$w", Clock.Now.ToUnixTimeMilliseconds()); c.Parameters.AddWithValue("$h", m.VersionHash);
            c.ExecuteNonQuery();
        }
    }

    private void WriteRow(string cameraId, DataClass cls, DateTimeOffset binStart, TimeSpan binLength, string payloadJson, byte[]? blob, string? mediaType, bool allowTrajectory, bool released = false)
    {
        RefuseNeverStored(cls);
        var m = RequireManifest(cameraId);
        ManifestGate.EnsureDeclared(m, cls);
        var decl = m.DataClasses[cls];
        if (decl.Storage != StorageKind.Store)
            throw new EphemeraException($"M2: camera {cameraId} declares {cls} with storage {decl.Storage.ToString().ToLowerInvariant()}; it may not be written to the store" +
                (decl.Storage == StorageKind.Latest ? " (use ReplaceLatest)" : ""));
        if (cls == DataClass.Trajectory && !allowTrajectory)
            throw new EphemeraException($"H3: trajectories of camera {cameraId} must go through WriteTrajectories (coarsening + unicity gate)");
        if (cls is not (DataClass.AuditRecord or DataClass.AnonymisedImage or DataClass.Trajectory) && binLength < m.Privacy.TimeBin)
            throw new EphemeraException($"H3: {cls} bin of {Durations.Short(binLength)} for camera {cameraId} is finer than the manifest's time bin {Durations.Short(m.Privacy.TimeBin)}");
        if (binLength <= TimeSpan.Zero) throw new EphemeraException($"bin length must be positive, got {binLength}");
        // A table this store just suppressed is not parsed back; JSON handed in from outside is checked.
        if (!released) try
        {
            using var doc = JsonDocument.Parse(payloadJson);
            if (IsCountTable(cls)) CheckReleasedTable(doc.RootElement, cls, cameraId, m.Privacy.MinCellCount);
        }
        catch (JsonException e) { throw new EphemeraException($"payload for {cls} of camera {cameraId} is not valid JSON: {e.Message}"); }
        var row = new PendingRow(cameraId, cls.ToString(), Partition(cls, binStart), binStart.ToUnixTimeMilliseconds(), (binStart + binLength).ToUnixTimeMilliseconds(),
            m.VersionHash, payloadJson, blob, mediaType, Clock.Now.ToUnixTimeMilliseconds());
        lock (_lock)
        {
            // Rows that failed earlier go first, so the store keeps their order; a failure now queues this one behind them.
            FlushPendingLocked();
            if (_pending.Count > 0) { Enqueue(row); return; }
            try { Insert(row); }
            catch (SqliteException e) { Failed(e); Enqueue(row); }
        }
    }

    // ------------------------------ crash safety: open bins and the run marker ------------------------------

    /// <summary>A raw open bin kept by <see cref="SaveOpenBins"/>; not readable through any role's query.</summary>
    public sealed record OpenBin(string CameraId, DataClass Class, DateTimeOffset BinStart, string RawJson);

    /// <summary>What a run that did not stop cleanly left: when it started, its last checkpoint, and its raw open bins.</summary>
    public sealed record UncleanRun(DateTimeOffset Started, DateTimeOffset LastCheckpoint, IReadOnlyList<OpenBin> OpenBins);

    /// <summary>
    /// Marks a run as started. Returns the previous run when it never reached <see cref="MarkRunStopped"/>
    /// (kill -9, power cut, crash) with the open bins it checkpointed, which the caller now owns
    /// (they are removed from the store here); null after a clean stop.
    /// </summary>
    public UncleanRun? MarkRunStarted()
    {
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            UncleanRun? previous = null;
            using (var c = Cmd("SELECT started_ms, checkpoint_ms FROM run_marker WHERE id = 1", tx))
            using (var rd = c.ExecuteReader())
                if (rd.Read())
                    previous = new UncleanRun(DateTimeOffset.FromUnixTimeMilliseconds(rd.GetInt64(0)), DateTimeOffset.FromUnixTimeMilliseconds(rd.GetInt64(1)), []);
            var bins = new List<OpenBin>();
            using (var c = Cmd("SELECT camera_id, class, bin_start_ms, raw FROM open_bins ORDER BY camera_id, class, bin_start_ms", tx))
            using (var rd = c.ExecuteReader())
                while (rd.Read())
                    bins.Add(new OpenBin(rd.GetString(0), Enum.Parse<DataClass>(rd.GetString(1)), DateTimeOffset.FromUnixTimeMilliseconds(rd.GetInt64(2)), rd.GetString(3)));
            using (var c = Cmd("DELETE FROM open_bins; INSERT OR REPLACE INTO run_marker VALUES(1, $s, $s)", tx))
            {
                c.Parameters.AddWithValue("$s", Clock.Now.ToUnixTimeMilliseconds());
                c.ExecuteNonQuery();
            }
            tx.Commit();
            return previous is null ? null : previous with { OpenBins = bins };
        }
    }

    /// <summary>Replaces the raw open bins (all cameras) in one transaction: the crash checkpoint.</summary>
    public void SaveOpenBins(IEnumerable<OpenBin> bins)
    {
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            using (var c = Cmd("DELETE FROM open_bins", tx)) c.ExecuteNonQuery();
            foreach (var b in bins)
            {
                using var c = Cmd("INSERT OR REPLACE INTO open_bins VALUES($c, $k, $s, $r)", tx);
                c.Parameters.AddWithValue("$c", b.CameraId); c.Parameters.AddWithValue("$k", b.Class.ToString());
                c.Parameters.AddWithValue("$s", b.BinStart.ToUnixTimeMilliseconds()); c.Parameters.AddWithValue("$r", b.RawJson);
                c.ExecuteNonQuery();
            }
            using (var c = Cmd("UPDATE run_marker SET checkpoint_ms = $t WHERE id = 1", tx))
            {
                c.Parameters.AddWithValue("$t", Clock.Now.ToUnixTimeMilliseconds());
                c.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    /// <summary>A clean stop: every bin was published, so no raw bin is kept, and the next start is not a recovery.</summary>
    public void MarkRunStopped()
    {
        lock (_lock)
        {
            using var c = Cmd("DELETE FROM open_bins; DELETE FROM run_marker;");
            c.ExecuteNonQuery();
        }
    }

    // ------------------------------ write-behind on a failing store ------------------------------

    private sealed record PendingRow(string Camera, string Class, string Partition, long Start, long End, string Hash, string Payload, byte[]? Blob, string? Media, long Written);
    private readonly Queue<PendingRow> _pending = new();
    private long _droppedRows, _droppedUnaudited;
    private string? _lastError;

    /// <summary>Most derived rows held in memory while the store cannot write (full disk, I/O error); past it the oldest are dropped, counted and audited.</summary>
    public int PendingCapacity { get; init; } = 10_000;
    /// <summary>False while writes are failing and rows wait in memory (a health state; the engine and its cameras keep running).</summary>
    public bool Healthy { get { lock (_lock) return _pending.Count == 0; } }
    /// <summary>Rows waiting for the store to accept them.</summary>
    public int PendingRows { get { lock (_lock) return _pending.Count; } }
    /// <summary>Rows dropped because the write-behind buffer was full.</summary>
    public long DroppedRows { get { lock (_lock) return _droppedRows; } }
    /// <summary>The last write error while the store is unhealthy (null when healthy).</summary>
    public string? LastError { get { lock (_lock) return _pending.Count == 0 ? null : _lastError; } }

    /// <summary>Retries rows held since a failed write. Returns true when nothing is left waiting.</summary>
    public bool RetryPending() { lock (_lock) { FlushPendingLocked(); return _pending.Count == 0; } }

    private void Failed(SqliteException e) => _lastError = $"store {Path}: {e.Message}";

    private void Enqueue(PendingRow row)
    {
        if (_pending.Count >= PendingCapacity) { _pending.Dequeue(); _droppedRows++; _droppedUnaudited++; }
        _pending.Enqueue(row);
    }

    private void FlushPendingLocked()
    {
        try
        {
            while (_pending.Count > 0) { Insert(_pending.Peek()); _pending.Dequeue(); }
            if (_droppedUnaudited > 0)
            {
                // Space is back: the loss is recorded once, in the chain, so a reader knows bins are missing.
                Audit.Append(new StoreDropRecord(Clock.Now, _droppedUnaudited, _lastError ?? "store write failed"));
                _droppedUnaudited = 0;
            }
        }
        catch (SqliteException e) { Failed(e); }
    }

    private void Insert(PendingRow r)
    {
        using var c = Cmd("INSERT INTO derived(camera_id, class, partition, bin_start_ms, bin_end_ms, version_hash, payload, blob, media_type, written_ms) VALUES($c, $k, $p, $s, $e, $h, $j, $b, $m, $w)");
        c.Parameters.AddWithValue("$c", r.Camera); c.Parameters.AddWithValue("$k", r.Class);
        c.Parameters.AddWithValue("$p", r.Partition);
        c.Parameters.AddWithValue("$s", r.Start); c.Parameters.AddWithValue("$e", r.End);
        c.Parameters.AddWithValue("$h", r.Hash); c.Parameters.AddWithValue("$j", r.Payload);
        c.Parameters.AddWithValue("$b", (object?)r.Blob ?? DBNull.Value); c.Parameters.AddWithValue("$m", (object?)r.Media ?? DBNull.Value);
        c.Parameters.AddWithValue("$w", r.Written);
        c.ExecuteNonQuery();
    }

    /// <summary>Classes stored as count tables, which must be k-suppressed (H3).</summary>
    public static bool IsCountTable(DataClass cls) =>
        cls is DataClass.Count or DataClass.AttributeAggregate or DataClass.ZoneOccupancy or DataClass.DwellHistogram or DataClass.TransitionMatrix;

    /// <summary>
    /// Guard for count tables written as JSON: the payload must be a released table
    /// (<see cref="SuppressedTable.ToJson"/>, e.g. via <see cref="WriteCountTable"/>) with the manifest's k,
    /// and no released cell or total may be a positive count below k.
    /// </summary>
    private static void CheckReleasedTable(JsonElement root, DataClass cls, string cameraId, int k)
    {
        string hint = $"store {cls} through WriteCountTable or CountSuppression.Suppress(counts, {k}).ToJson()";
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("k", out var kEl) || !kEl.TryGetInt32(out int tableK) || !root.TryGetProperty("cells", out var cells) || cells.ValueKind != JsonValueKind.Array)
            throw new EphemeraException($"H3: {cls} of camera {cameraId} must be a k-suppressed table with \"k\" and \"cells\"; {hint}");
        if (tableK < k) throw new EphemeraException($"H3: {cls} of camera {cameraId} was suppressed with k = {tableK}, below the manifest's k = {k}; {hint}");
        void Check(JsonElement e, string where)
        {
            if (e.ValueKind == JsonValueKind.Array) { int i = 0; foreach (var x in e.EnumerateArray()) Check(x, $"{where}[{i++}]"); }
            else if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long n) && n > 0 && n < k)
                throw new EphemeraException($"H3: {cls} of camera {cameraId} releases {n} at {where}, a count below k = {k}; {hint}");
        }
        foreach (var name in new[] { "cells", "row_totals", "col_totals", "total" })
            if (root.TryGetProperty(name, out var el)) Check(el, name);
    }

    /// <summary>Partition key: class and UTC day of the bin start.</summary>
    public static string Partition(DataClass cls, DateTimeOffset binStart) => $"{cls}/{binStart.UtcDateTime:yyyy-MM-dd}";

    private static void RefuseNeverStored(DataClass cls)
    {
        if (PurposeCatalog.IsMemoryOnly(cls))
            throw new EphemeraException($"H1: {cls} is never stored (no pixels, no features, no per-person tracks leave memory)");
    }

    private CameraManifest RequireManifest(string cameraId) =>
        Manifest(cameraId) ?? throw new EphemeraException($"M2: camera {cameraId} has no registered manifest; call RegisterManifest/AuthorizeStart first");

    // ------------------------------ retention ------------------------------

    /// <summary>
    /// Deletes every derived row whose bin ended longer ago than the retention declared (for its class)
    /// by the manifest version it was written under — the same value the AC5 notice shows — and the
    /// latest-only items older than their retention. Each emptied partition is one audit record.
    /// </summary>
    public RetentionReport ApplyRetention()
    {
        var now = Clock.Now;
        long nowMs = now.ToUnixTimeMilliseconds();
        var deletions = new List<RetentionDeletionRecord>();
        lock (_lock)
        {
            using var tx = _db.BeginTransaction(deferred: false);
            var groups = new List<(string Camera, string Class, string Partition, string Hash, long Rows, long MinStart, long MaxEnd, long RetentionS)>();
            using (var c = Cmd("""
                SELECT d.camera_id, d.class, d.partition, d.version_hash, COUNT(*), MIN(d.bin_start_ms), MAX(d.bin_end_ms), COALESCE(o.retention_s, 0)
                FROM derived d LEFT JOIN manifest_outputs o ON o.version_hash = d.version_hash AND o.class = d.class
                WHERE d.bin_end_ms + COALESCE(o.retention_s, 0) * 1000 <= $now
                GROUP BY d.camera_id, d.class, d.partition, d.version_hash ORDER BY d.camera_id, d.class, d.partition
                """, tx))
            {
                c.Parameters.AddWithValue("$now", nowMs);
                using var rd = c.ExecuteReader();
                while (rd.Read()) groups.Add((rd.GetString(0), rd.GetString(1), rd.GetString(2), rd.GetString(3), rd.GetInt64(4), rd.GetInt64(5), rd.GetInt64(6), rd.GetInt64(7)));
            }
            foreach (var g in groups)
            {
                using (var del = Cmd("DELETE FROM derived WHERE camera_id = $c AND class = $k AND partition = $p AND version_hash = $h AND bin_end_ms + $r * 1000 <= $now", tx))
                {
                    del.Parameters.AddWithValue("$c", g.Camera); del.Parameters.AddWithValue("$k", g.Class); del.Parameters.AddWithValue("$p", g.Partition);
                    del.Parameters.AddWithValue("$h", g.Hash); del.Parameters.AddWithValue("$r", g.RetentionS); del.Parameters.AddWithValue("$now", nowMs);
                    del.ExecuteNonQuery();
                }
                var rec = new RetentionDeletionRecord(g.Camera, Enum.Parse<DataClass>(g.Class), g.Partition, g.Rows,
                    DateTimeOffset.FromUnixTimeMilliseconds(g.MinStart), DateTimeOffset.FromUnixTimeMilliseconds(g.MaxEnd), TimeSpan.FromSeconds(g.RetentionS), g.Hash);
                Audit.AppendCore(tx, rec);
                deletions.Add(rec);
            }
            var latest = new List<(string Camera, string Class, long Written, string Hash, long RetentionS)>();
            using (var c = Cmd("""
                SELECT l.camera_id, l.class, l.written_ms, l.version_hash, COALESCE(o.retention_s, 0) FROM latest l
                LEFT JOIN manifest_outputs o ON o.version_hash = l.version_hash AND o.class = l.class
                WHERE l.written_ms + COALESCE(o.retention_s, 0) * 1000 <= $now
                """, tx))
            {
                c.Parameters.AddWithValue("$now", nowMs);
                using var rd = c.ExecuteReader();
                while (rd.Read()) latest.Add((rd.GetString(0), rd.GetString(1), rd.GetInt64(2), rd.GetString(3), rd.GetInt64(4)));
            }
            foreach (var l in latest)
            {
                using (var del = Cmd("DELETE FROM latest WHERE camera_id = $c AND class = $k", tx))
                {
                    del.Parameters.AddWithValue("$c", l.Camera); del.Parameters.AddWithValue("$k", l.Class); del.ExecuteNonQuery();
                }
                var at = DateTimeOffset.FromUnixTimeMilliseconds(l.Written);
                var rec = new RetentionDeletionRecord(l.Camera, Enum.Parse<DataClass>(l.Class), "latest", 1, at, at, TimeSpan.FromSeconds(l.RetentionS), l.Hash);
                Audit.AppendCore(tx, rec);
                deletions.Add(rec);
            }
            tx.Commit();
            Audit.PublishWitness();
        }
        return new RetentionReport(now, deletions);
    }

    // ------------------------------ dialogue (BP-d) ------------------------------

    /// <summary>Records an inquiry, objection or complaint about a camera (category e.g. "question", "objection", "complaint").</summary>
    public long RecordInquiry(string cameraId, string category, string channel) =>
        Audit.Append(new InquiryAuditRecord(cameraId, category, channel));

    /// <summary>Inquiries per camera and category, counted from the audit chain.</summary>
    public IReadOnlyDictionary<(string CameraId, string Category), int> InquiryCounts()
    {
        var counts = new Dictionary<(string, string), int>();
        foreach (var e in Audit.Read(1, int.MaxValue).Where(e => e.Kind == "inquiry"))
        {
            using var doc = JsonDocument.Parse(e.BodyJson);
            var key = (e.CameraId, doc.RootElement.GetProperty("Category").GetString() ?? "");
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    // ------------------------------ reads ------------------------------

    /// <summary>A query handle for one role; every read checks <see cref="AccessPolicy"/>.</summary>
    public StoreQuery Query(Role role) => new(this, role);

    internal IReadOnlyList<DerivedRow> ReadRows(string cameraId, DataClass cls, DateTimeOffset from, DateTimeOffset to)
    {
        var list = new List<DerivedRow>();
        lock (_lock)
        {
            using var c = Cmd("SELECT bin_start_ms, bin_end_ms, payload, blob, media_type FROM derived WHERE camera_id = $c AND class = $k AND bin_start_ms >= $f AND bin_start_ms < $t ORDER BY bin_start_ms, id");
            c.Parameters.AddWithValue("$c", cameraId); c.Parameters.AddWithValue("$k", cls.ToString());
            c.Parameters.AddWithValue("$f", from.ToUnixTimeMilliseconds()); c.Parameters.AddWithValue("$t", to.ToUnixTimeMilliseconds());
            using var rd = c.ExecuteReader();
            while (rd.Read())
            {
                long s = rd.GetInt64(0), e = rd.GetInt64(1);
                list.Add(new DerivedRow(cameraId, cls, DateTimeOffset.FromUnixTimeMilliseconds(s), TimeSpan.FromMilliseconds(e - s), rd.GetString(2),
                    rd.IsDBNull(3) ? null : (byte[])rd[3], rd.IsDBNull(4) ? null : rd.GetString(4)));
            }
        }
        return list;
    }

    /// <summary>The row of the camera and class with the latest bin (the last written among equals); null when none.</summary>
    internal DerivedRow? ReadNewestRow(string cameraId, DataClass cls)
    {
        lock (_lock)
        {
            using var c = Cmd("SELECT bin_start_ms, bin_end_ms, payload, blob, media_type FROM derived WHERE camera_id = $c AND class = $k ORDER BY bin_start_ms DESC, id DESC LIMIT 1");
            c.Parameters.AddWithValue("$c", cameraId); c.Parameters.AddWithValue("$k", cls.ToString());
            using var rd = c.ExecuteReader();
            if (!rd.Read()) return null;
            long s = rd.GetInt64(0), e = rd.GetInt64(1);
            return new DerivedRow(cameraId, cls, DateTimeOffset.FromUnixTimeMilliseconds(s), TimeSpan.FromMilliseconds(e - s), rd.GetString(2),
                rd.IsDBNull(3) ? null : (byte[])rd[3], rd.IsDBNull(4) ? null : rd.GetString(4));
        }
    }

    internal LatestItem? ReadLatestRow(string cameraId, DataClass cls)
    {
        lock (_lock)
        {
            using var c = Cmd("SELECT blob, media_type, written_ms FROM latest WHERE camera_id = $c AND class = $k");
            c.Parameters.AddWithValue("$c", cameraId); c.Parameters.AddWithValue("$k", cls.ToString());
            using var rd = c.ExecuteReader();
            return rd.Read() ? new LatestItem(cameraId, cls, (byte[])rd[0], rd.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(rd.GetInt64(2))) : null;
        }
    }

    /// <summary>Rows stored for a camera and class (any time), for reports and tests.</summary>
    public long CountRows(string cameraId, DataClass cls)
    {
        lock (_lock)
        {
            using var c = Cmd("SELECT COUNT(*) FROM derived WHERE camera_id = $c AND class = $k");
            c.Parameters.AddWithValue("$c", cameraId); c.Parameters.AddWithValue("$k", cls.ToString());
            return (long)c.ExecuteScalar()!;
        }
    }

    private SqliteCommand Cmd(string sql, SqliteTransaction? tx = null)
    {
        var c = _db.CreateCommand(); c.CommandText = sql; c.Transaction = tx; return c;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _db.Dispose();
            _signer.Dispose();
            foreach (var w in _witnesses) w.Dispose();
        }
    }
}
