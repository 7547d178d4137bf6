using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.TestSupport;
using Microsoft.Data.Sqlite;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// Crowd icon images (case 5) in cluster mode: a latest-only snapshot, not a bin. The collector keeps the
/// newest per camera, releases it through the gate into its store's latest item, and a replay or an
/// older snapshot (a failover's reordering) changes nothing.
/// </summary>
public sealed class IconPartTests
{
    private static CameraManifest Case5(string camera = "plaza-crowd-1") =>
        ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case5-station-crowd.yaml")).ForCamera(camera);

    // The PNG signature and some bytes: the path checks the signature, the bytes are the snapshot's.
    private static byte[] Png(byte shade) => [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, shade, shade, shade];

    private static (byte[] Blob, long WrittenMs)? Latest(string db, string camera)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT blob, written_ms FROM latest WHERE camera_id = $c AND class = 'IconImage'";
        cmd.Parameters.AddWithValue("$c", camera);
        using var r = cmd.ExecuteReader();
        return r.Read() ? ((byte[])r.GetValue(0), r.GetInt64(1)) : null;
    }

    [Fact]
    public void The_newest_icon_of_a_camera_is_stored_once_and_an_older_or_repeated_one_changes_nothing()
    {
        using var dir = new TempDir();
        var m = Case5();
        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db") });
        collector.AddManifest(m);
        var t0 = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        IconPart Icon(DateTimeOffset at, byte shade) => IconPart.From(ReleaseGate.IconImage(m, at, Png(shade), 7));
        var first = Icon(t0, 10);
        var newer = Icon(t0.AddSeconds(2), 20);
        Assert.True(IconPart.IsIcon(first.ToUtf8()));
        Assert.NotEqual(first.MessageId, newer.MessageId);
        Assert.Equal(first.MessageId, Icon(t0, 10).MessageId); // the same snapshot sent again is the same message

        collector.Take([first.ToUtf8()]);
        Assert.Equal(first.Png, Latest(dir.File("central.db"), m.CameraId)!.Value.Blob);
        collector.Take([newer.ToUtf8(), first.ToUtf8(), newer.ToUtf8()]); // a failover's reordering and a replay
        Assert.Equal(newer.Png, Latest(dir.File("central.db"), m.CameraId)!.Value.Blob);
        Assert.Equal(2, collector.IconsReleased);
        Assert.Equal(2, collector.Stale);
        Assert.Equal(0, collector.Refused);

        // Under another manifest version, for a camera whose manifest does not release icons, or not a PNG: refused, nothing stored.
        collector.Take([(Icon(t0.AddSeconds(4), 30) with { ManifestVersion = "0000" }).ToUtf8()]);
        var counts = ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera("plaza-count-1");
        collector.AddManifest(counts);
        collector.Take([(Icon(t0.AddSeconds(6), 40) with { CameraId = counts.CameraId, ManifestVersion = counts.VersionHash }).ToUtf8()]);
        collector.Take([(Icon(t0.AddSeconds(8), 50) with { Png = [1, 2, 3, 4, 5, 6, 7, 8, 9] }).ToUtf8()]);
        Assert.Equal(3, collector.Refused);
        Assert.Equal(newer.Png, Latest(dir.File("central.db"), m.CameraId)!.Value.Blob);
        Assert.Null(Latest(dir.File("central.db"), counts.CameraId));
        Assert.True(collector.Store.Audit.Verify().Intact);
    }

    [Fact]
    public void A_bin_part_is_not_mistaken_for_an_icon()
    {
        using var dir = new TempDir();
        var m = ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera("plaza-count-1");
        var part = BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 1, 1, true,
            new Runtime.RawBinTable(DataClass.Count, new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero), ["mid:person"], ["in", "out"], new int[1, 2]));
        Assert.False(IconPart.IsIcon(part.ToUtf8()));
        Assert.Throws<EphemeraException>(() => IconPart.Parse(part.ToUtf8()));
    }
}
