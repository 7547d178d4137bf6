using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Runtime;
using Ephemera.TestSupport;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// The fence, without servers: a worker's camera output past its lease (counts held, then sent under
/// a new epoch less what the old one sent, so the collector's sum is the whole count), and the
/// collector ignoring a part of an epoch taken after a newer epoch of the camera began.
/// </summary>
public sealed class FenceTests
{
    private static readonly string[] Rows = ["mid:person", "mid:car"], Cols = ["in", "out"];
    private static readonly DateTimeOffset Bin = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private static RawBinTable Table(DateTimeOffset bin, int a, int b, int c, int d) => new(DataClass.Count, bin, Rows, Cols, new[,] { { a, b }, { c, d } });

    [Fact]
    public void Counts_held_past_the_lease_go_out_under_the_new_epoch_less_what_the_old_one_sent_and_the_collector_sum_is_the_whole_count()
    {
        using var dir = new TempDir();
        var m = ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera("plaza-count-1");
        var bin2 = Bin.AddMinutes(1);
        var output = new CameraOutput(m.CameraId, 10, DateTimeOffset.UtcNow.AddMinutes(-1));
        var parts = new List<BinPart>();
        parts.AddRange(output.Tap(m.Privacy.TimeBin, m.VersionHash, [Table(Bin, 3, 1, 2, 0)], closed: false));
        parts.AddRange(output.Tap(m.Privacy.TimeBin, m.VersionHash, [Table(Bin, 5, 2, 4, 1)], closed: false)); // cumulative

        output.Fence(); // the lease was not renewed in time: the camera runs on, nothing is sent
        Assert.Empty(output.Tap(m.Privacy.TimeBin, m.VersionHash, [Table(Bin, 7, 3, 6, 1)], closed: false));
        Assert.Empty(output.Tap(m.Privacy.TimeBin, m.VersionHash, [Table(Bin, 9, 6, 8, 2)], closed: true));
        Assert.Empty(output.Tap(m.Privacy.TimeBin, m.VersionHash, [Table(bin2, 4, 0, 0, 5)], closed: false));
        Assert.Equal(2, output.Held);

        // Claimed again under epoch 20, nobody else ran it: the held bins go out less the 5/2/4/1 epoch 10 sent.
        var resumed = output.Resume(20, DateTimeOffset.UtcNow, m.Privacy.TimeBin, m.VersionHash);
        Assert.All(resumed, p => Assert.Equal(20UL, p.Epoch));
        var first = resumed.Single(p => p.BinStart == Bin);
        Assert.True(first.Closed);
        Assert.Equal(new[] { new[] { 4, 4 }, new[] { 4, 1 } }, first.Counts);
        Assert.Equal(new[] { new[] { 4, 0 }, new[] { 0, 5 } }, resumed.Single(p => p.BinStart == bin2).Counts); // a bin begun while fenced: all of it
        parts.AddRange(resumed);
        parts.AddRange(output.Tap(m.Privacy.TimeBin, m.VersionHash, [Table(bin2, 6, 0, 1, 5)], closed: true)); // after the resume: raw, epoch 20's own

        var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
        foreach (var p in parts) Assert.Equal(PartOutcome.Accepted, collector.Add(p));
        var released = collector.ReleaseDue(null).ToDictionary(r => r.BinStart);
        Assert.Equal(ReleaseGate.CountTable(m, DataClass.Count, Bin, Rows, Cols, new[,] { { 9, 6 }, { 8, 2 } }).PayloadJson(), released[Bin].PayloadJson());
        Assert.Equal(ReleaseGate.CountTable(m, DataClass.Count, bin2, Rows, Cols, new[,] { { 6, 0 }, { 1, 5 } }).PayloadJson(), released[bin2].PayloadJson());
    }

    [Fact]
    public void A_lease_renewed_after_all_lifts_the_fence_under_the_same_epoch()
    {
        using var dir = new TempDir();
        var m = ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera("plaza-count-1");
        var output = new CameraOutput(m.CameraId, 10, DateTimeOffset.UtcNow);
        output.Tap(m.Privacy.TimeBin, m.VersionHash, [Table(Bin, 3, 1, 2, 0)], closed: false);
        output.Fence();
        output.Tap(m.Privacy.TimeBin, m.VersionHash, [Table(Bin, 7, 3, 6, 1)], closed: false);
        var p = Assert.Single(output.Resume(10, DateTimeOffset.UtcNow, m.Privacy.TimeBin, m.VersionHash));
        Assert.Equal(10UL, p.Epoch);
        Assert.Equal(new[] { new[] { 7, 3 }, new[] { 6, 1 } }, p.Counts); // cumulative in the same epoch: replaces the earlier part
        Assert.False(output.Fenced);
    }

    [Fact]
    public void The_collector_ignores_a_part_of_an_epoch_taken_after_a_newer_epoch_of_the_camera_began()
    {
        using var dir = new TempDir();
        var m = ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera("plaza-count-1");
        var t0 = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        BinPart Part(ulong epoch, DateTimeOffset start, long seq, DateTimeOffset asOf, int n) =>
            BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, epoch, seq, false, Table(Bin, n, 0, 0, 0)) with { AsOf = asOf, EpochStart = start };

        var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
        Assert.Equal(PartOutcome.Accepted, collector.Add(Part(10, t0, 1, t0.AddSeconds(20), 6)));          // worker A, before B
        Assert.Equal(PartOutcome.Accepted, collector.Add(Part(20, t0.AddSeconds(30), 1, t0.AddSeconds(40), 5))); // worker B claimed at +30 s
        Assert.Equal(PartOutcome.StaleEpoch, collector.Add(Part(10, t0, 2, t0.AddSeconds(45), 9)));     // A ran on past its lease: ignored
        Assert.Equal(PartOutcome.Accepted, collector.Add(Part(10, t0, 3, t0.AddSeconds(29), 7)));       // A's part from before B's claim, late in transit: taken
        var record = Assert.Single(collector.ReleaseDue(null));
        Assert.Equal(ReleaseGate.CountTable(m, DataClass.Count, Bin, Rows, Cols, new[,] { { 12, 0 }, { 0, 0 } }).PayloadJson(), record.PayloadJson());
    }
}
