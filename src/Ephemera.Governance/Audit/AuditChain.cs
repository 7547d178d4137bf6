using System.Security.Cryptography;
using System.Text;
using Ephemera.Core;
using Microsoft.Data.Sqlite;

namespace Ephemera.Governance;

/// <summary>Outcome of <see cref="AuditChain.Verify"/>: intact, or the first bad record and what is wrong with it.</summary>
public sealed record VerifyResult(bool Intact, long Records, long? FirstBadSeq, string Message, int CheckpointsChecked)
{
    /// <summary>True when signatures were checked against a key pinned outside the store; false for a chain-only check.</summary>
    public bool SignaturesChecked { get; init; }
    /// <summary>Witnessed heads found consistent with the chain.</summary>
    public int WitnessedHeads { get; init; }
}

/// <summary>A stored audit entry as read back.</summary>
public sealed record AuditEntry(long Seq, DateTimeOffset At, string Kind, string CameraId, string BodyJson, string PrevHash, string Hash)
{
    /// <summary>The time exactly as stored (it is hashed as text).</summary>
    public string RawAt { get; init; } = "";
}

/// <summary>A signed statement "the chain had <see cref="Seq"/> records ending in <see cref="Hash"/> at <see cref="At"/>".</summary>
public sealed record AuditCheckpoint(long Seq, string Hash, DateTimeOffset At);

/// <summary>
/// Append-only hash chain in the store's SQLite file. Record n carries sha256(n, time, kind, camera,
/// body, hash of record n−1); a signed head (rewritten on every append) and periodic signed checkpoints
/// pin the end of the chain, so alteration, deletion, insertion, reordering and truncation are all
/// detected. The ECDsa P-256 signing key lives beside the database (var/audit-signing-key.pem, mode 600);
/// whoever holds that file can re-sign, so it must stay on the engine's host.
/// Single writer per process (serialised by a lock); writes use BEGIN IMMEDIATE so processes do not interleave.
/// </summary>
public sealed class AuditChain
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";
    /// <summary>A signed checkpoint is written automatically every this many records.</summary>
    public const int CheckpointEvery = 100;

    private readonly SqliteConnection _db;
    private readonly object _lock;
    private readonly IClock _clock;
    private readonly IAuditSigner _signer;
    private readonly IReadOnlyList<IAuditWitness> _witnesses;
    private SignedHead? _pending; // signed inside a transaction, handed to witnesses only once committed

    internal AuditChain(SqliteConnection db, object dbLock, IClock clock, IAuditSigner signer, IReadOnlyList<IAuditWitness> witnesses)
    {
        _db = db; _lock = dbLock; _clock = clock; _signer = signer; _witnesses = witnesses;
    }

    /// <summary>sha256 of the signing public key (what <c>audit verify --fingerprint</c> pins).</summary>
    public string Fingerprint => AuditKeys.Fingerprint(_signer.PublicKey);

    /// <summary>Sends the last committed signed head to every witness. Caller holds the lock, after commit.</summary>
    internal void PublishWitness()
    {
        if (_pending is not { } head) return;
        _pending = null;
        foreach (var w in _witnesses)
        {
            // A failing witness must not stop the cameras; verify will show the gap in its file.
            try { w.Witness(head); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException) { Console.Error.WriteLine($"audit witness failed: {e.Message}"); }
        }
    }

    internal static void CreateSchema(SqliteConnection db)
    {
        Exec(db, null, """
            CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, camera_id TEXT NOT NULL,
                body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS audit_head(id INTEGER PRIMARY KEY CHECK(id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL, at TEXT NOT NULL, signature BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS audit_checkpoints(id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, hash TEXT NOT NULL, at TEXT NOT NULL, signature BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS audit_key(id INTEGER PRIMARY KEY CHECK(id = 1), public_key BLOB NOT NULL);
            """);
    }

    /// <summary>Appends a record; returns its sequence number (from 1).</summary>
    public long Append(AuditRecord record)
    {
        lock (_lock)
        {
            using var tx = _db.BeginTransaction(deferred: false);
            long seq = AppendCore(tx, record);
            tx.Commit();
            PublishWitness();
            return seq;
        }
    }

    /// <summary>Appends inside the caller's transaction (the store deletes and records in one step). Caller holds the lock.</summary>
    internal long AppendCore(SqliteTransaction tx, AuditRecord record)
    {
        var (lastSeq, lastHash) = Last(tx);
        long seq = lastSeq + 1;
        string at = _clock.Now.ToUniversalTime().ToString("O");
        string body = record.BodyJson();
        string hash = RecordHash(seq, at, record.Kind, record.CameraId, body, lastHash);
        using (var cmd = Cmd(tx, "INSERT INTO audit(seq, at, kind, camera_id, body, prev_hash, hash) VALUES($s, $a, $k, $c, $b, $p, $h)"))
        {
            cmd.Parameters.AddWithValue("$s", seq); cmd.Parameters.AddWithValue("$a", at); cmd.Parameters.AddWithValue("$k", record.Kind);
            cmd.Parameters.AddWithValue("$c", record.CameraId); cmd.Parameters.AddWithValue("$b", body);
            cmd.Parameters.AddWithValue("$p", lastHash); cmd.Parameters.AddWithValue("$h", hash);
            cmd.ExecuteNonQuery();
        }
        byte[] sig = Sign(seq, hash, at);
        using (var cmd = Cmd(tx, "INSERT OR REPLACE INTO audit_head(id, seq, hash, at, signature) VALUES(1, $s, $h, $a, $g)"))
        {
            cmd.Parameters.AddWithValue("$s", seq); cmd.Parameters.AddWithValue("$h", hash); cmd.Parameters.AddWithValue("$a", at); cmd.Parameters.AddWithValue("$g", sig);
            cmd.ExecuteNonQuery();
        }
        if (seq % CheckpointEvery == 0) InsertCheckpoint(tx, seq, hash, at, sig);
        _pending = new SignedHead(seq, hash, at, sig);
        return seq;
    }

    /// <summary>Writes a signed checkpoint of the current end of the chain (none when the chain is empty).</summary>
    public AuditCheckpoint? Checkpoint()
    {
        lock (_lock)
        {
            using var tx = _db.BeginTransaction(deferred: false);
            var (seq, hash) = Last(tx);
            if (seq == 0) return null;
            string at = _clock.Now.ToUniversalTime().ToString("O");
            InsertCheckpoint(tx, seq, hash, at, Sign(seq, hash, at));
            tx.Commit();
            return new AuditCheckpoint(seq, hash, DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Number of records in the chain.</summary>
    public long Count
    {
        get { lock (_lock) { using var c = Cmd(null, "SELECT COUNT(*) FROM audit"); return (long)c.ExecuteScalar()!; } }
    }

    /// <summary>Records from <paramref name="fromSeq"/> on, in order.</summary>
    public IReadOnlyList<AuditEntry> Read(long fromSeq = 1, int max = 10_000)
    {
        lock (_lock) return ReadRows(_db, fromSeq, max);
    }

    /// <summary>Checks the whole chain, head and checkpoints; names the first bad record.</summary>
    public VerifyResult Verify()
    {
        using var pub = ECDsa.Create();
        pub.ImportSubjectPublicKeyInfo(_signer.PublicKey, out _);
        lock (_lock) return VerifyConnection(_db, pub, []);
    }

    /// <summary>
    /// Checks the hash chain, then (with <paramref name="publicKey"/>, pinned outside the store) every
    /// signature, then every witnessed head. Without a key only the chain and head/checkpoint positions are checked.
    /// </summary>
    internal static VerifyResult VerifyConnection(SqliteConnection db, ECDsa? publicKey, IReadOnlyList<(string Source, List<SignedHead> Heads)> witnesses)
    {
        var rows = ReadRows(db, 1, int.MaxValue);
        long expected = 1; string prev = Genesis;
        foreach (var r in rows)
        {
            if (r.Seq != expected)
                return Bad(rows.Count, expected, r.Seq > expected
                    ? $"record {expected} is missing (the next record is {r.Seq}): deleted"
                    : $"record {r.Seq} appears out of order after {expected - 1}: inserted or reordered");
            string recomputed = RecordHash(r.Seq, r.RawAt, r.Kind, r.CameraId, r.BodyJson, r.PrevHash);
            if (!string.Equals(recomputed, r.Hash, StringComparison.Ordinal))
                return Bad(rows.Count, r.Seq, $"record {r.Seq} ({r.Kind}, camera {r.CameraId}) was altered: its content does not match its hash");
            if (!string.Equals(r.PrevHash, prev, StringComparison.Ordinal))
                return Bad(rows.Count, r.Seq, $"record {r.Seq} does not follow record {r.Seq - 1} (previous-hash mismatch): a record was inserted, deleted, replaced or reordered");
            prev = r.Hash; expected++;
        }
        long last = expected - 1;

        // Signed checkpoints: each must verify and match the record it names.
        int checkedCount = 0;
        using (var c = Cmd(db, null, "SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY id"))
        using (var rd = c.ExecuteReader())
        {
            while (rd.Read())
            {
                long seq = rd.GetInt64(0); string hash = rd.GetString(1), at = rd.GetString(2); byte[] sig = (byte[])rd[3];
                if (publicKey is not null && !publicKey.VerifyData(SignedBytes(seq, hash, at), sig, HashAlgorithmName.SHA256))
                    return Bad(rows.Count, seq, $"checkpoint at record {seq} has an invalid signature");
                if (seq > last) return Bad(rows.Count, last + 1, $"records {last + 1}…{seq} are missing: a signed checkpoint covers record {seq} but the chain ends at {last} (truncated)");
                if (rows[(int)seq - 1].Hash != hash) return Bad(rows.Count, seq, $"record {seq} does not match its signed checkpoint");
                checkedCount++;
            }
        }

        // Signed head: the end of the chain as last written by the engine.
        using (var c = Cmd(db, null, "SELECT seq, hash, at, signature FROM audit_head WHERE id = 1"))
        using (var rd = c.ExecuteReader())
        {
            if (!rd.Read())
                return last == 0 ? new VerifyResult(true, 0, null, "audit chain is empty", checkedCount)
                                 : Bad(rows.Count, 1, $"the signed head record is missing: records 1…{last} cannot be checked for truncation");
            long seq = rd.GetInt64(0); string hash = rd.GetString(1), at = rd.GetString(2); byte[] sig = (byte[])rd[3];
            if (publicKey is not null && !publicKey.VerifyData(SignedBytes(seq, hash, at), sig, HashAlgorithmName.SHA256))
                return Bad(rows.Count, seq, $"the signed head (record {seq}) has an invalid signature");
            if (seq > last) return Bad(rows.Count, last + 1, $"records {last + 1}…{seq} are missing: the signed head names record {seq} but the chain ends at {last} (truncated)");
            if (seq < last) return Bad(rows.Count, seq + 1, $"records {seq + 1}…{last} were added after the signed head (record {seq}): inserted");
            if (rows[(int)seq - 1].Hash != hash) return Bad(rows.Count, seq, $"record {seq} does not match the signed head");
        }

        // Witnessed heads: the chain must still hold each head an outside party kept. This catches a full
        // rewrite with the real key, renumbering and truncation; the first bad record is the one after the
        // last head that still matches.
        int witnessed = 0;
        foreach (var (source, heads) in witnesses)
        {
            long lastGood = 0;
            foreach (var h in heads.OrderBy(h => h.Seq))
            {
                if (publicKey is not null && !publicKey.VerifyData(SignedBytes(h.Seq, h.Hash, h.At), h.Signature, HashAlgorithmName.SHA256))
                    return Bad(rows.Count, h.Seq, $"witness {source}: the head at record {h.Seq} is not signed by the pinned key (forged witness entry)");
                if (h.Seq < 1) return Bad(rows.Count, 1, $"witness {source}: head with sequence {h.Seq}");
                if (h.Seq > last)
                    return Bad(rows.Count, last + 1, $"records {last + 1}…{h.Seq} are missing: witness {source} holds a head at record {h.Seq} but the chain ends at {last} (truncated)");
                if (!string.Equals(rows[(int)h.Seq - 1].Hash, h.Hash, StringComparison.Ordinal))
                    return Bad(rows.Count, lastGood + 1, $"the chain was rewritten: record {h.Seq} does not match the head witnessed in {source} (last matching witnessed head: record {lastGood}); first bad record is in {lastGood + 1}…{h.Seq}");
                lastGood = h.Seq; witnessed++;
            }
        }
        string keyNote = publicKey is null
            ? "signatures NOT checked: no pinned key (--pubkey or --fingerprint); chain-only"
            : $"{checkedCount} signed checkpoints and the signed head verified against the pinned key";
        return new VerifyResult(true, rows.Count, null, $"audit chain intact: {rows.Count} records, {keyNote}, {witnessed} witnessed heads consistent", checkedCount)
            { SignaturesChecked = publicKey is not null, WitnessedHeads = witnessed };
    }

    private static VerifyResult Bad(long records, long seq, string message) => new(false, records, seq, message, 0);


    internal static string RecordHash(long seq, string at, string kind, string camera, string body, string prev) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{seq}\n{at}\n{kind}\n{camera}\n{body}\n{prev}")));

    private static byte[] SignedBytes(long seq, string hash, string at) => AuditKeys.SignedBytes(seq, hash, at);
    private byte[] Sign(long seq, string hash, string at) => _signer.Sign(SignedBytes(seq, hash, at));

    private void InsertCheckpoint(SqliteTransaction tx, long seq, string hash, string at, byte[] sig)
    {
        using var cmd = Cmd(tx, "INSERT INTO audit_checkpoints(seq, hash, at, signature) VALUES($s, $h, $a, $g)");
        cmd.Parameters.AddWithValue("$s", seq); cmd.Parameters.AddWithValue("$h", hash); cmd.Parameters.AddWithValue("$a", at); cmd.Parameters.AddWithValue("$g", sig);
        cmd.ExecuteNonQuery();
    }

    private (long Seq, string Hash) Last(SqliteTransaction tx)
    {
        using var cmd = Cmd(tx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
        using var rd = cmd.ExecuteReader();
        return rd.Read() ? (rd.GetInt64(0), rd.GetString(1)) : (0, Genesis);
    }

    private static List<AuditEntry> ReadRows(SqliteConnection db, long fromSeq, int max)
    {
        var list = new List<AuditEntry>();
        using var c = Cmd(db, null, "SELECT seq, at, kind, camera_id, body, prev_hash, hash FROM audit WHERE seq >= $f ORDER BY seq LIMIT $m");
        c.Parameters.AddWithValue("$f", fromSeq); c.Parameters.AddWithValue("$m", max);
        using var rd = c.ExecuteReader();
        while (rd.Read())
        {
            string rawAt = rd.GetString(1);
            var at = DateTimeOffset.TryParse(rawAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var t) ? t : DateTimeOffset.MinValue;
            list.Add(new AuditEntry(rd.GetInt64(0), at, rd.GetString(2), rd.GetString(3), rd.GetString(4), rd.GetString(5), rd.GetString(6)) { RawAt = rawAt });
        }
        return list;
    }

    private SqliteCommand Cmd(SqliteTransaction? tx, string sql) => Cmd(_db, tx, sql);
    private static SqliteCommand Cmd(SqliteConnection db, SqliteTransaction? tx, string sql)
    {
        var c = db.CreateCommand(); c.CommandText = sql; c.Transaction = tx; return c;
    }
    internal static void Exec(SqliteConnection db, SqliteTransaction? tx, string sql) { using var c = Cmd(db, tx, sql); c.ExecuteNonQuery(); }

    // ------------------------------ signing key ------------------------------

    /// <summary>Default private key file: <c>&lt;db&gt;.key</c>, a file of its own, never inside the database.</summary>
    public static string KeyPath(string dbPath) => Path.GetFullPath(dbPath) + ".key";

    /// <summary>Checks the signer matches the public key the store was started with (records it on first use).</summary>
    internal static void BindKey(SqliteConnection db, IAuditSigner signer, string keyDescription)
    {
        byte[] pub = signer.PublicKey;
        using var c = Cmd(db, null, "SELECT public_key FROM audit_key WHERE id = 1");
        if (c.ExecuteScalar() is byte[] stored)
        {
            // A convenience check only: the stored key is never trusted by verify, which pins its key outside.
            if (!stored.AsSpan().SequenceEqual(pub))
                throw new EphemeraException($"audit signing key {keyDescription} is not the key this store was created with; restore the original key file");
        }
        else
        {
            using var ins = Cmd(db, null, "INSERT INTO audit_key(id, public_key) VALUES(1, $k)");
            ins.Parameters.AddWithValue("$k", pub); ins.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Verifies a store file read-only (the <c>audit verify</c> verb). The key is never taken from the store:
    /// pass <paramref name="pinnedPublicKeyFile"/> (PEM) or <paramref name="pinnedFingerprint"/> (sha256 hex of
    /// the public key; the store's recorded key is used only if it has that fingerprint). With neither, only
    /// the chain is checked (<see cref="VerifyResult.SignaturesChecked"/> false). Throws
    /// <see cref="EphemeraException"/> for unreadable input (missing file, not a database, malformed key or witness).
    /// </summary>
    public static VerifyResult VerifyFile(string dbPath, string? pinnedPublicKeyFile = null, string? pinnedFingerprint = null, IReadOnlyList<string>? witnessFiles = null)
    {
        if (!File.Exists(dbPath)) throw new EphemeraException($"store not found: {dbPath}");
        ECDsa? key = pinnedPublicKeyFile is null ? null : AuditKeys.LoadPublicKey(pinnedPublicKeyFile);
        try
        {
            var witnesses = (witnessFiles ?? []).Select(w => (w, FileWitness.Read(w))).ToList();
            using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            try
            {
                db.Open();
                if (pinnedFingerprint is not null)
                {
                    string want = pinnedFingerprint.Trim().Replace(":", "").ToLowerInvariant();
                    if (want.Length != 64 || !want.All(Uri.IsHexDigit)) throw new EphemeraException($"--fingerprint must be 64 hex digits (sha256 of the public key), got '{pinnedFingerprint}'");
                    using var c = Cmd(db, null, "SELECT public_key FROM audit_key WHERE id = 1");
                    if (c.ExecuteScalar() is not byte[] pub) return new VerifyResult(false, 0, null, "the store has no audit key: not an Ephemera store, or the key table was removed", 0);
                    string have = AuditKeys.Fingerprint(pub);
                    if (have != want) return new VerifyResult(false, 0, 1, $"the store's signing key has fingerprint {have}, not the pinned {want}: the key was replaced", 0);
                    key = ECDsa.Create();
                    key.ImportSubjectPublicKeyInfo(pub, out _);
                }
                return VerifyConnection(db, key, witnesses);
            }
            catch (SqliteException e)
            {
                throw new EphemeraException($"{dbPath} is not a readable Ephemera store: {e.Message}", e);
            }
        }
        finally { key?.Dispose(); }
    }
}
