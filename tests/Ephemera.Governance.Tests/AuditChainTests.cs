using Ephemera.Governance;
using Ephemera.TestSupport;
using Microsoft.Data.Sqlite;

namespace Ephemera.Governance.Tests;

public class AuditChainTests
{
    private static readonly DateTimeOffset T0 = Bundled.Today;

    /// <summary>A store with <paramref name="n"/> pixel audit records (seq 1..n); returns its path.</summary>
    internal static string MakeStore(TempDir dir, int n = 10)
    {
        string path = dir.File("ephemera.db");
        var clock = new FakeClock(T0);
        using var store = EphemeraStore.Open(path, clock);
        for (int i = 0; i < n; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            store.Audit.Append(new PixelAuditRecord($"cam-{i % 3}", clock.Now.AddSeconds(-5), clock.Now, 125, 125, 130, 130, 41.5, 33.2, 7, new string('a', 64)));
        }
        return path;
    }

    private static void Sql(string path, string sql)
    {
        using var db = new SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        using var c = db.CreateCommand();
        c.CommandText = sql;
        c.ExecuteNonQuery();
    }

    [Fact]
    public void Intact_chain_verifies_and_checkpoints_are_signed()
    {
        using var dir = new TempDir();
        string path = MakeStore(dir, 205);
        var r = AuditChain.VerifyFile(path);
        Assert.True(r.Intact, r.Message);
        Assert.Equal(205, r.Records);
        Assert.Equal(2, r.CheckpointsChecked); // automatic at 100 and 200
        using var store = EphemeraStore.Open(path);
        Assert.Equal(205, store.Audit.Checkpoint()!.Seq);
        Assert.True(store.Audit.Verify().Intact);
    }

    public static IEnumerable<object[]> Tampering => new (string Name, string Sql, long FirstBad)[]
    {
        ("alter a body", "UPDATE audit SET body = replace(body, '\"FramesWiped\":125', '\"FramesWiped\":124') WHERE seq = 4", 4),
        ("alter a time", "UPDATE audit SET at = replace(at, ':', ';') WHERE seq = 6", 6),
        ("alter camera", "UPDATE audit SET camera_id = 'cam-x' WHERE seq = 2", 2),
        ("delete a record", "DELETE FROM audit WHERE seq = 5", 5),
        ("insert a record (renumbered)",
            "UPDATE audit SET seq = -seq WHERE seq >= 5; UPDATE audit SET seq = -seq + 1 WHERE seq < 0; " +
            "INSERT INTO audit SELECT 5, at, kind, camera_id, body, prev_hash, hash FROM audit WHERE seq = 4", 5),
        ("reorder two records", "UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -1", 3),
        ("truncate the tail", "DELETE FROM audit WHERE seq > 7", 8),
        ("append a forged record", "INSERT INTO audit SELECT 11, at, kind, camera_id, body, hash, hash FROM audit WHERE seq = 10", 11),
        ("forge the head", "UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit WHERE seq = 7)", 7),
        ("drop the head", "DELETE FROM audit_head", 1),
    }.Select(t => new object[] { t.Name, t.Sql, t.FirstBad });

    [Theory]
    [MemberData(nameof(Tampering))]
    public void Any_single_change_is_detected_and_named(string name, string sql, long firstBad)
    {
        using var dir = new TempDir();
        string path = MakeStore(dir);
        Assert.True(AuditChain.VerifyFile(path).Intact);
        Sql(path, sql);
        var r = AuditChain.VerifyFile(path, AuditChain.KeyPath(path) + ".pub"); // pinned key: a forged head is caught by its signature
        Assert.False(r.Intact, $"{name}: not detected");
        Assert.True(r.FirstBadSeq == firstBad, $"{name}: expected first bad {firstBad}, got {r.FirstBadSeq}: {r.Message}");
        Assert.Contains(firstBad.ToString(), r.Message);
    }

    [Fact]
    public void Rechaining_after_truncation_without_the_key_is_detected()
    {
        using var dir = new TempDir();
        string path = MakeStore(dir);
        // The attacker truncates and rewrites the head to the new end, but cannot sign it.
        Sql(path, "DELETE FROM audit WHERE seq > 7; UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit WHERE seq = 7)");
        var r = AuditChain.VerifyFile(path, AuditChain.KeyPath(path) + ".pub");
        Assert.False(r.Intact);
        Assert.Contains("signature", r.Message);
    }

    [Fact]
    public void A_replaced_signing_key_is_refused_on_open()
    {
        using var dir = new TempDir();
        string path = MakeStore(dir, 2);
        File.Delete(AuditChain.KeyPath(path));
        var e = Assert.Throws<Ephemera.Core.EphemeraException>(() => EphemeraStore.Open(path));
        Assert.Contains("audit signing key", e.Message);
    }

    /// <summary>A store with a file witness; returns (db, witness, pubkey copy kept outside).</summary>
    private static (string Db, string Witness, string Pub) WitnessedStore(TempDir dir, int n = 10)
    {
        string path = dir.File("w/ephemera.db"), witness = dir.File("outside/heads.jsonl");
        var clock = new FakeClock(T0);
        using (var store = EphemeraStore.Open(path, clock, new AuditOptions { Witnesses = [new FileWitness(witness)], Notices = TextWriter.Null }))
            for (int i = 0; i < n; i++)
            {
                clock.Advance(TimeSpan.FromSeconds(5));
                store.Audit.Append(new PixelAuditRecord($"cam-{i % 3}", clock.Now.AddSeconds(-5), clock.Now, 125, 125, 130, 130, 41.5, 33.2, 7, new string('a', 64)));
            }
        string pub = dir.File("outside/pinned.pub");
        File.Copy(AuditChain.KeyPath(path) + ".pub", pub);
        return (path, witness, pub);
    }

    /// <summary>What an attacker with the real key does: recompute every hash from <paramref name="fromSeq"/> and re-sign the head.</summary>
    private static void RechainAndResign(string path, string keyPath)
    {
        using var db = new SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        var rows = new List<(long Seq, string At, string Kind, string Cam, string Body)>();
        using (var c = db.CreateCommand())
        {
            c.CommandText = "SELECT seq, at, kind, camera_id, body FROM audit ORDER BY seq";
            using var rd = c.ExecuteReader();
            while (rd.Read()) rows.Add((rd.GetInt64(0), rd.GetString(1), rd.GetString(2), rd.GetString(3), rd.GetString(4)));
        }
        string prev = AuditChain.Genesis;
        using var key = System.Security.Cryptography.ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(keyPath));
        foreach (var r in rows)
        {
            string h = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{r.Seq}\n{r.At}\n{r.Kind}\n{r.Cam}\n{r.Body}\n{prev}")));
            using var u = db.CreateCommand();
            u.CommandText = "UPDATE audit SET prev_hash = $p, hash = $h WHERE seq = $s";
            u.Parameters.AddWithValue("$p", prev); u.Parameters.AddWithValue("$h", h); u.Parameters.AddWithValue("$s", r.Seq);
            u.ExecuteNonQuery();
            prev = h;
        }
        var last = rows[^1];
        using var hd = db.CreateCommand();
        hd.CommandText = "UPDATE audit_head SET seq = $s, hash = $h, signature = $g";
        hd.Parameters.AddWithValue("$s", last.Seq); hd.Parameters.AddWithValue("$h", prev);
        string at = ((Func<string>)(() => { using var q = db.CreateCommand(); q.CommandText = "SELECT at FROM audit_head"; return (string)q.ExecuteScalar()!; }))();
        hd.Parameters.AddWithValue("$g", key.SignData(AuditKeys.SignedBytes(last.Seq, prev, at), System.Security.Cryptography.HashAlgorithmName.SHA256));
        hd.ExecuteNonQuery();
    }

    [Fact]
    public void Key_is_a_separate_0600_file_and_witness_gets_every_head()
    {
        using var dir = new TempDir();
        var (db, witness, pub) = WitnessedStore(dir);
        string key = AuditChain.KeyPath(db);
        Assert.True(File.Exists(key));
        Assert.DoesNotContain("PRIVATE KEY", System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(db)));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(db));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(db)!));
        }
        Assert.Equal(10, FileWitness.Read(witness).Count);
        var r = AuditChain.VerifyFile(db, pub, null, [witness]);
        Assert.True(r.Intact, r.Message);
        Assert.True(r.SignaturesChecked);
        Assert.Equal(10, r.WitnessedHeads);
    }

    [Fact]
    public void Changed_record_rechained_and_resigned_with_the_real_key_is_caught_by_the_witness()
    {
        using var dir = new TempDir();
        var (db, witness, pub) = WitnessedStore(dir);
        Sql(db, "UPDATE audit SET body = replace(body, '125', '126') WHERE seq = 4");
        RechainAndResign(db, AuditChain.KeyPath(db));
        Assert.True(AuditChain.VerifyFile(db, pub).Intact); // the real key alone cannot tell: that is why witnesses exist
        var r = AuditChain.VerifyFile(db, pub, null, [witness]);
        Assert.False(r.Intact);
        Assert.Equal(4, r.FirstBadSeq);
        Assert.Contains("rewritten", r.Message);
    }

    [Fact]
    public void Replaced_key_in_key_file_and_store_is_caught_by_the_pinned_key()
    {
        using var dir = new TempDir();
        var (db, _, pub) = WitnessedStore(dir);
        string fingerprint = AuditKeys.Fingerprint(AuditKeys.LoadPublicKey(pub).ExportSubjectPublicKeyInfo());
        // Attacker: a fresh key in the key file and the store, chain re-signed with it.
        string keyPath = AuditChain.KeyPath(db);
        using var fresh = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        File.WriteAllText(keyPath, fresh.ExportPkcs8PrivateKeyPem());
        Sql(db, $"UPDATE audit_key SET public_key = X'{Convert.ToHexString(fresh.ExportSubjectPublicKeyInfo())}'");
        RechainAndResign(db, keyPath);
        var byPub = AuditChain.VerifyFile(db, pub);
        Assert.False(byPub.Intact);
        Assert.Contains("signature", byPub.Message);
        var byFp = AuditChain.VerifyFile(db, null, fingerprint);
        Assert.False(byFp.Intact);
        Assert.Contains("replaced", byFp.Message);
    }

    [Fact]
    public void Deleted_and_renumbered_middle_record_is_named_by_the_witness()
    {
        using var dir = new TempDir();
        var (db, witness, pub) = WitnessedStore(dir);
        Sql(db, "DELETE FROM audit WHERE seq = 5; UPDATE audit SET seq = -seq WHERE seq > 5; UPDATE audit SET seq = -seq - 1 WHERE seq < 0");
        RechainAndResign(db, AuditChain.KeyPath(db));
        var r = AuditChain.VerifyFile(db, pub, null, [witness]);
        Assert.False(r.Intact);
        Assert.Equal(5, r.FirstBadSeq);
    }

    [Fact]
    public void Truncation_after_the_last_witnessed_head_is_named()
    {
        using var dir = new TempDir();
        var (db, witness, pub) = WitnessedStore(dir);
        Sql(db, "DELETE FROM audit WHERE seq > 7");
        RechainAndResign(db, AuditChain.KeyPath(db));
        var r = AuditChain.VerifyFile(db, pub, null, [witness]);
        Assert.False(r.Intact);
        Assert.Equal(8, r.FirstBadSeq);
        Assert.Contains("truncated", r.Message);
    }

    [Fact]
    public void Malformed_key_file_is_a_typed_error()
    {
        using var dir = new TempDir();
        string db = MakeStore(dir, 1);
        File.WriteAllText(AuditChain.KeyPath(db), "not a key");
        var e = Assert.Throws<Ephemera.Core.EphemeraException>(() => EphemeraStore.Open(db));
        Assert.Contains(".key", e.Message);
        File.WriteAllText(dir.File("x.pub"), "nope");
        Assert.Throws<Ephemera.Core.EphemeraException>(() => AuditChain.VerifyFile(db, dir.File("x.pub")));
    }
}
