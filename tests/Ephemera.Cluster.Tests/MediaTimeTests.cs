using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Runtime;
using Ephemera.TestSupport;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// The media-time clock in the cluster: parts are cumulative from the file's start (the same whichever
/// worker computed them), the collector keeps the furthest, releases a bin only when its closed part
/// came, and a failover's replay changes nothing.
/// </summary>
public sealed class MediaTimeTests
{
    private static readonly string[] Rows = ["mid:person", "mid:bicycle", "west:person"], Cols = ["in", "out"];

    [Fact]
    public void A_media_time_bin_is_released_once_whole_when_closed_and_a_replay_from_any_worker_changes_nothing()
    {
        using var dir = new TempDir();
        var m = ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera("plaza-count-1");
        int k = m.Privacy.MinCellCount;
        var bin = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        for (int seed = 0; seed < 300; seed++)
        {
            var rng = new Random(seed);
            // The bin's count grows with the frames of the file: snapshot i covers frames[i]; the last is the closed bin.
            int snaps = 2 + rng.Next(5);
            var frames = Enumerable.Range(1, snaps).Select(i => 100L * i + rng.Next(50)).ToArray();
            var tables = new int[snaps][,];
            var running = new int[Rows.Length, Cols.Length];
            for (int i = 0; i < snaps; i++)
            {
                for (int r = 0; r < Rows.Length; r++) for (int c = 0; c < Cols.Length; c++) running[r, c] += rng.Next(0, k + 1);
                tables[i] = (int[,])running.Clone();
            }
            // 1..3 owners (a failover each): an owner sends some snapshots, the next replays from the file's start.
            var parts = new List<BinPart>();
            int owners = 1 + rng.Next(3);
            for (int o = 0; o < owners; o++)
                for (int i = 0; i < snaps; i++)
                    if (o == owners - 1 ? i >= snaps - 1 || rng.Next(2) == 0 : rng.Next(3) == 0)
                        parts.Add(Part(m, bin, (ulong)(10 + o), i + 1, i == snaps - 1, frames[i], tables[i]));
            parts.AddRange(parts.Where(_ => rng.Next(4) == 0).ToList()); // the stream's own replays
            var closed = parts.First(p => p.Closed);
            var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
            foreach (var p in parts.Where(p => !p.Closed).OrderBy(_ => rng.Next())) Assert.NotEqual(PartOutcome.Refused, collector.Add(p));
            Assert.Empty(collector.ReleaseDue(null)); // never before its closed part, whatever the wall clock
            Assert.Equal(PartOutcome.Accepted, collector.Add(closed));
            foreach (var p in parts.Where(p => !p.Closed)) Assert.Equal(PartOutcome.Stale, collector.Add(p)); // earlier frames after the closed one
            var record = Assert.Single(collector.ReleaseDue(null));
            Assert.Equal(ReleaseGate.CountTable(m, DataClass.Count, bin, Rows, Cols, tables[^1]).PayloadJson(), record.PayloadJson()); // one process's bin, not a sum of owners
            ClusterFixture.AssertNoCellBelowK(record.PayloadJson(), k);
            // A new owner catching up from the file's start sends the bin again: a no-op, neither late nor released.
            foreach (var p in parts) Assert.Equal(PartOutcome.Stale, collector.Add(p with { Epoch = 999 }));
            Assert.Empty(collector.ReleaseDue(null));
            Assert.Equal(0, collector.OpenBins);
        }
    }

    [Fact]
    public void A_media_time_part_is_named_by_the_frames_it_covers_so_the_same_table_from_another_worker_is_the_same_message()
    {
        using var dir = new TempDir();
        var m = ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera("plaza-count-1");
        var bin = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        var t = new RawBinTable(DataClass.Count, bin, Rows, Cols, new[,] { { 3, 1 }, { 0, 0 }, { 2, 2 } });
        var a = new CameraOutput("plaza-count-1", 5, DateTimeOffset.UtcNow).Tap(m.Privacy.TimeBin, m.VersionHash, [t], closed: false, mediaFrames: 420).Single();
        var b = new CameraOutput("plaza-count-1", 9, DateTimeOffset.UtcNow).Tap(m.Privacy.TimeBin, m.VersionHash, [t], closed: false, mediaFrames: 420).Single();
        Assert.Equal(a.MessageId, b.MessageId);
        Assert.NotEqual(a.MessageId, (a with { Closed = true }).MessageId);
        Assert.NotEqual(a.MessageId, (a with { MediaFrame = 421 }).MessageId);
        Assert.Equal(420, BinPart.Parse(a.ToUtf8()).MediaFrame);

        // Fenced and claimed again under a new epoch: a media-time table goes out whole (it counts from the
        // file's start), never as a difference from what the old epoch sent.
        var o = new CameraOutput("plaza-count-1", 5, DateTimeOffset.UtcNow);
        o.Tap(m.Privacy.TimeBin, m.VersionHash, [t], closed: false, mediaFrames: 420);
        o.Fence();
        Assert.Empty(o.Tap(m.Privacy.TimeBin, m.VersionHash, [t], closed: true, mediaFrames: 500));
        var resumed = Assert.Single(o.Resume(6, DateTimeOffset.UtcNow, m.Privacy.TimeBin, m.VersionHash));
        Assert.Equal(new[] { 3, 1 }, resumed.Counts[0]);
        Assert.True(resumed.Closed);
        Assert.Equal(500, resumed.MediaFrame);
    }

    [Fact]
    public void Media_time_is_a_UTC_instant_on_a_file_camera_and_anything_else_is_refused_by_name()
    {
        using var dir = new TempDir();
        string Write(string camera) { var p = dir.File("c.yaml"); File.WriteAllText(p, "cameras:\n" + camera); return p; }
        var ok = ConfigLoader.Load(Write($"  - id: a\n    source: {TestPaths.Video("vtest.avi")}\n    media_time: 2026-12-01T09:59:30Z\n")).Cameras[0];
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 9, 59, 30, TimeSpan.Zero), ok.MediaStart);
        Assert.Null(ConfigLoader.Load(Write($"  - id: a\n    source: {TestPaths.Video("vtest.avi")}\n")).Cameras[0].MediaStart);
        var e = Assert.Throws<EphemeraException>(() => ConfigLoader.Load(Write("  - id: a\n    source: rtsp://cam/1\n    media_time: 2026-12-01T09:59:30Z\n")));
        Assert.Contains("media_time", e.Message);
        e = Assert.Throws<EphemeraException>(() => ConfigLoader.Load(Write($"  - id: a\n    source: {TestPaths.Video("vtest.avi")}\n    media_time: yesterday\n")));
        Assert.Contains("media_time", e.Message);
        Assert.Contains("UTC instant", e.Message);
    }

    private static BinPart Part(CameraManifest m, DateTimeOffset bin, ulong epoch, long seq, bool closed, long frames, int[,] t) =>
        BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, epoch, seq, closed, new RawBinTable(DataClass.Count, bin, Rows, Cols, t)) with { MediaFrame = frames };
}
