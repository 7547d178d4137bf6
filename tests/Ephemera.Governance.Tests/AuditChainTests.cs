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
        var r = AuditChain.VerifyFile(path);
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
        var r = AuditChain.VerifyFile(path);
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
}
