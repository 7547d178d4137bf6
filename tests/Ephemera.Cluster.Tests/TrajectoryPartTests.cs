using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Runtime;
using Ephemera.TestSupport;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// Trajectories in cluster mode: workers send coarsened visits as trajectory parts; the collector
/// gathers a bin's visits from every owner (a replay a no-op) and releases the bin's set once, whole,
/// through the unicity gate, when it releases the bin's tables. A refused set and a late visit never leave.
/// </summary>
public sealed class TrajectoryPartTests
{
    // Tomorrow 10:00 UTC: a collector's run (which releases what is due on the wall clock) leaves a wall-clock bin open.
    private static readonly DateTimeOffset Bin = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(1).AddHours(10);

    /// <summary>Case 2 opted in to per-visit trajectories (as the runtime's trajectory tests do), 1-hour bins.</summary>
    private static CameraManifest Manifest(string camera = "plaza-flow-1")
    {
        var yaml = File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", "case2-store-flow.yaml"));
        var trajectoryClass = "  - {class: Trajectory, storage: store, location: {ja: \"店舗バックヤードのサーバ\", en: \"store back-office server\"}, responsible: {ja: \"商品部\", en: \"Merchandising Dept.\"}, retention: 30d}\n";
        yaml = yaml.Replace("derived_data:", trajectoryClass + "derived_data:")
            .Replace("  store_trajectories: false", "  store_trajectories: true\n  trajectory_grid_m: 2\n  trajectory_time_bin: 1m\n  trajectory_trim: 10s");
        return ManifestLoader.Parse(yaml, "case2-with-trajectories.yaml").ForCamera(camera);
    }

    // Common coarse visits (the aisle at minute 1): the unicity gate lets a set of them out. first: where each began, in seconds.
    private static List<CoarseVisit> Common(int first, int n) =>
        Enumerable.Range(first, n).Select(i => new CoarseVisit(Bin, ["aisle-1"], [1L], i * 0.5, i * 0.5 + 40)).ToList();

    // Every visit its own path through 12 places: four points single each one out.
    private static List<CoarseVisit> Unique(int n)
    {
        var rng = new Random(7);
        var places = Enumerable.Range(0, 12).Select(i => $"z{i}").ToArray();
        return Enumerable.Range(0, n).Select(i =>
        {
            var path = places.OrderBy(_ => rng.Next()).Take(8).ToList();
            return new CoarseVisit(Bin, path, path.Select((_, j) => (long)j).ToList(), i, i + 60);
        }).ToList();
    }

    private static int TrajectoryRows(string db, string camera)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM derived WHERE class = 'Trajectory' AND camera_id = $c";
        cmd.Parameters.AddWithValue("$c", camera);
        return Convert.ToInt32(cmd.ExecuteScalar());
    }

    private static List<string> Audit(string db, string what)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT * FROM audit";
        var rows = new List<string>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var row = string.Join("|", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "" : r.GetValue(i) is byte[] b ? System.Text.Encoding.UTF8.GetString(b) : r.GetValue(i).ToString()));
            if (row.Contains(what, StringComparison.Ordinal)) rows.Add(row);
        }
        return rows;
    }

    [Fact]
    public async Task Visits_sent_by_two_owners_with_replays_are_released_once_as_one_set()
    {
        using var nats = BrokerProcess.Nats();
        using var dir = new TempDir();
        var wall = Manifest("plaza-flow-1");
        var media = Manifest("plaza-flow-2");
        var bin = wall.Privacy.TimeBin;

        // Wall clock: owner A (epoch 1) sends two flushes' visits and dies; owner B (epoch 2) sends the rest of the bin.
        var a = new CameraOutput(wall.CameraId, 1, Bin);
        var b = new CameraOutput(wall.CameraId, 2, Bin.AddMinutes(20));
        var wallParts = a.TapVisits(bin, wall.VersionHash, Common(0, 30), Bin.AddMinutes(5))
            .Concat(a.TapVisits(bin, wall.VersionHash, Common(30, 30), Bin.AddMinutes(10)))
            .Concat(b.TapVisits(bin, wall.VersionHash, Common(60, 40), Bin.AddMinutes(30))).ToList();
        Assert.Equal(3, wallParts.Count);
        Assert.All(wallParts, p => Assert.False(p.Closed));

        // Media time: owner A keeps the bin's visits while it is open, then dies; owner B catches up from the
        // file's start (the same visits, the same ids) and closes the bin: one closed part with all of them.
        long frames = 2000;
        var ma = new CameraOutput(media.CameraId, 1, Bin);
        Assert.Empty(ma.TapVisits(bin, media.VersionHash, Common(0, 50), Bin.AddMinutes(59), frames)); // the bin is still open
        var mb = new CameraOutput(media.CameraId, 2, Bin.AddMinutes(20));
        var mediaParts = mb.TapVisits(bin, media.VersionHash, Common(0, 50), Bin.AddMinutes(59), frames)
            .Concat(mb.TapVisits(bin, media.VersionHash, Common(50, 30), Bin.AddHours(1), frames + 900)).ToList();
        var closedPart = Assert.Single(mediaParts);
        Assert.True(closedPart.Closed);
        Assert.Equal(80, closedPart.Visits.Count);
        // A third owner (another failover) sends the same bin again: the same message.
        var mc = new CameraOutput(media.CameraId, 3, Bin.AddMinutes(40));
        var again = Assert.Single(mc.TapVisits(bin, media.VersionHash, Common(0, 80), Bin.AddHours(1), frames + 950));
        Assert.Equal(closedPart.MessageId, again.MessageId);

        // Two workers' spools, each part sent twice (a retry; the other worker's replay).
        await using (var c = await ClusterConnection.ConnectAsync(nats.Url, "test"))
        {
            await c.EnsureRecordStreamAsync(TimeSpan.FromMinutes(10));
            await using (var w1 = new PartPublisher(c, dir.File("spool-1"), 100, TimeSpan.FromDays(1), (_, _, _) => { }, NullLogger.Instance))
            await using (var w2 = new PartPublisher(c, dir.File("spool-2"), 100, TimeSpan.FromDays(1), (_, _, _) => { }, NullLogger.Instance))
            {
                foreach (var p in wallParts.Take(2)) { w1.Enqueue(p); }
                Assert.True(await w1.FlushAsync(TimeSpan.FromSeconds(30)));
                foreach (var p in wallParts.Take(2)) { w1.Enqueue(p); } // a retry after a lost answer
                w1.Enqueue(closedPart);
                w2.Enqueue(wallParts[2]); w2.Enqueue(again);
                Assert.True(await w1.FlushAsync(TimeSpan.FromSeconds(30)));
                Assert.True(await w2.FlushAsync(TimeSpan.FromSeconds(30)));
                Assert.Equal(4, w1.Published + w2.Published); // the server took each message once
            }
            Assert.Equal(4L, (long)(await c.JetStream.GetStreamAsync(ClusterNames.RecordStream)).Info.State.Messages);
        }

        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.FromMinutes(1) }, NullLogger.Instance);
        collector.AddManifest(wall); collector.AddManifest(media);
        await using (var c = await ClusterConnection.ConnectAsync(nats.Url, "test"))
        {
            using var cts = new CancellationTokenSource();
            var run = collector.RunAsync(c, cts.Token);
            var sw = Stopwatch.StartNew();
            while (collector.Accepted + collector.Stale < 4 && sw.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(100);
            cts.Cancel(); await run;
        }
        Assert.Equal(4, collector.Accepted);
        Assert.Equal(0, collector.Refused);
        // The media-time bin went out when its closed part came (RunAsync released it); the wall-clock one is out at its end + grace.
        Assert.Equal(80, TrajectoryRows(dir.File("central.db"), media.CameraId));
        Assert.Equal(0, TrajectoryRows(dir.File("central.db"), wall.CameraId));
        Assert.Equal(1, collector.ReleaseDue(Bin + bin + TimeSpan.FromMinutes(1)));
        Assert.Equal(100, TrajectoryRows(dir.File("central.db"), wall.CameraId)); // both owners' visits, one set
        Assert.Equal(0, collector.ReleaseDue(null)); // once

        // Replays after the release: stale, nothing more released, nothing late.
        collector.Take(wallParts.Select(p => p.ToUtf8()).Append(again.ToUtf8()));
        Assert.Equal(0, collector.Late);
        Assert.Equal(100, TrajectoryRows(dir.File("central.db"), wall.CameraId));
        Assert.Equal(80, TrajectoryRows(dir.File("central.db"), media.CameraId));
        Assert.True(collector.Store.Audit.Verify().Intact);
    }

    [Fact]
    public void A_set_that_fails_the_unicity_gate_is_not_released_and_the_refusal_is_audited()
    {
        using var dir = new TempDir();
        var m = Manifest();
        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.Zero });
        collector.AddManifest(m);
        // Two owners' halves, each too small to judge apart: the union is gated, and refused.
        var visits = Unique(50);
        var a = new CameraOutput(m.CameraId, 1, Bin).TapVisits(m.Privacy.TimeBin, m.VersionHash, visits[..25], Bin.AddMinutes(5));
        var b = new CameraOutput(m.CameraId, 2, Bin.AddMinutes(20)).TapVisits(m.Privacy.TimeBin, m.VersionHash, visits[25..], Bin.AddMinutes(30));
        collector.Take(a.Concat(b).Select(p => p.ToUtf8()));
        Assert.Equal(2, collector.Accepted);
        Assert.Equal(0, collector.ReleaseDue(Bin.AddMinutes(59))); // not before the bin's end
        Assert.Equal(0, collector.ReleaseDue(Bin.AddHours(1)));
        Assert.Equal(0, TrajectoryRows(dir.File("central.db"), m.CameraId));
        var refusal = Assert.Single(Audit(dir.File("central.db"), "bin-refused"));
        Assert.Contains("Trajectory", refusal);
        Assert.Contains("unicity", refusal);
        // Decided once: a replay is stale, and nothing is gated or released again (not after a restart either).
        collector.Take(a.Select(p => p.ToUtf8()));
        Assert.Equal(1, collector.Stale);
        Assert.Equal(0, collector.ReleaseDue(null));
        collector.Dispose();
        using var restarted = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.Zero });
        restarted.AddManifest(m);
        Assert.Equal(0, restarted.ReleaseDue(null));
        Assert.Equal(0, TrajectoryRows(dir.File("central.db"), m.CameraId));
        Assert.True(restarted.Store.Audit.Verify().Intact);
    }

    [Fact]
    public void A_visit_arriving_after_its_bin_was_released_is_late_and_never_released()
    {
        using var dir = new TempDir();
        var m = Manifest();
        var bin = m.Privacy.TimeBin;
        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.FromMinutes(1) });
        collector.AddManifest(m);
        var owner = new CameraOutput(m.CameraId, 1, Bin);
        collector.Take(owner.TapVisits(bin, m.VersionHash, Common(0, 40), Bin.AddMinutes(30)).Select(p => p.ToUtf8()));
        Assert.Equal(0, collector.ReleaseDue(Bin + bin)); // the grace has not passed
        Assert.Equal(1, collector.ReleaseDue(Bin + bin + TimeSpan.FromMinutes(1)));
        Assert.Equal(40, TrajectoryRows(dir.File("central.db"), m.CameraId));

        // A visit of the bin that ended after the release (a long stay): late, counted and audited, never released.
        collector.Take(owner.TapVisits(bin, m.VersionHash, Common(40, 3), Bin.AddMinutes(70)).Select(p => p.ToUtf8()));
        Assert.Equal(1, collector.Late);
        Assert.Equal(3, collector.LateVisits);
        Assert.Equal(0, collector.ReleaseDue(null));
        Assert.Equal(40, TrajectoryRows(dir.File("central.db"), m.CameraId));
        Assert.Contains("3", Assert.Single(Audit(dir.File("central.db"), "late-visits")));

        // Media time: a visit of a bin the worker has closed goes out alone; the collector, having released the bin, takes it as late.
        var mm = Manifest("plaza-flow-2");
        collector.AddManifest(mm);
        var mo = new CameraOutput(mm.CameraId, 1, Bin);
        var closed = Assert.Single(mo.TapVisits(bin, mm.VersionHash, Common(0, 20), Bin.AddHours(1), 100));
        collector.Take([closed.ToUtf8()]);
        Assert.Equal(1, collector.ReleaseDue(Bin)); // its closed part came: released, whatever the clock
        Assert.Equal(20, TrajectoryRows(dir.File("central.db"), mm.CameraId));
        var after = Assert.Single(mo.TapVisits(bin, mm.VersionHash, Common(20, 2), Bin.AddHours(1).AddMinutes(1), 200));
        Assert.False(after.Closed);
        long stale = collector.Stale;
        collector.Take([after.ToUtf8(), after.ToUtf8()]);
        Assert.Equal(2, collector.Late); // the wall-clock one above, and this one
        Assert.Equal(stale + 1, collector.Stale); // its replay
        Assert.Equal(5, collector.LateVisits);
        Assert.Equal(20, TrajectoryRows(dir.File("central.db"), mm.CameraId));
        Assert.True(collector.Store.Audit.Verify().Intact);
    }

    [Fact]
    public void A_bins_visits_from_the_engines_results_are_released_at_the_collector_as_one_engine_releases_them()
    {
        // The engine's results of one flush: 120 visits through three places (the trim leaves the middle one), two bins.
        var m = Manifest();
        var stays = (int i, double t0) => new[] { new Analytics.TrajectoryStay("entrance", t0, t0 + 20), new Analytics.TrajectoryStay($"aisle-{i % 2}", t0 + 30, t0 + 50), new Analytics.TrajectoryStay("checkout", t0 + 60, t0 + 80) };
        var visits = Enumerable.Range(0, 120).Select(i => new Analytics.Trajectory(i.ToString("x16"), stays(i, i < 80 ? 60 + i : 3600 + 60 + i))).ToList();
        var results = new Analytics.PurposeResults([], null, new Analytics.FlowReport([], [], visits));
        var engine = OutputPublisher.Release(m, results, Bin).OfType<Governance.Records.TrajectorySetRecord>().OrderBy(r => r.BinStart).ToList();
        Assert.Equal(2, engine.Count);

        var collector = new BinCollector(_ => m, TimeSpan.Zero);
        var parts = new CameraOutput(m.CameraId, 1, Bin).TapVisits(m.Privacy.TimeBin, m.VersionHash, CoarseVisit.From(m, results, Bin), Bin);
        Assert.Equal(2, parts.Count);
        Assert.All(parts, p => Assert.Equal(PartOutcome.Accepted, collector.Add(TrajectoryPart.Parse(p.ToUtf8()))));
        var cluster = collector.ReleaseDue(null).OfType<Governance.Records.TrajectorySetRecord>().OrderBy(r => r.BinStart).ToList();
        Assert.Empty(collector.GateRefusals);
        Assert.Equal(engine.Select(r => r.BinStart), cluster.Select(r => r.BinStart));
        static string Key(Governance.Trajectory t) => string.Join(";", t.Points.Select(p => $"{p.CellX},{p.CellY},{p.TimeBin}"));
        for (int i = 0; i < engine.Count; i++)
            Assert.Equal(engine[i].Visits.Select(Key).Order(), cluster[i].Visits.Select(Key).Order());
    }

    [Fact]
    public void Two_media_time_visits_alike_are_two_visits_named_the_same_by_every_owner()
    {
        var m = Manifest("plaza-flow-2");
        var same = new CoarseVisit(Bin, ["aisle-1"], [1L], 60, 100); // two people, the same coarse path at the same (10 s-floored) times
        TrajectoryPart Run(ulong epoch) => Assert.Single(new CameraOutput(m.CameraId, epoch, Bin).TapVisits(m.Privacy.TimeBin, m.VersionHash, [same, same, Common(0, 1)[0]], Bin.AddHours(1), 10));
        var first = Run(1);
        Assert.Equal(3, first.Visits.Select(v => v.Id).Distinct().Count());
        var second = Run(2);
        Assert.Equal(first.MessageId, second.MessageId);
        Assert.Equal(first.Visits.Select(v => v.Id), second.Visits.Select(v => v.Id));
    }

    [Fact]
    public void A_media_time_visit_has_the_same_id_and_steps_on_workers_started_on_different_days()
    {
        // Analytics seconds count from the midnight the engine started: a worker started a day later sees the same media 86,400 s later.
        var m = Manifest("plaza-flow-2");
        var day1 = new DateTimeOffset(Bin.UtcDateTime.Date, TimeSpan.Zero);
        Analytics.PurposeResults At(double offset) => new([], null, new Analytics.FlowReport([], [], [new Analytics.Trajectory("a",
            [new Analytics.TrajectoryStay("entrance", offset + 36000, offset + 36020), new Analytics.TrajectoryStay("aisle-1", offset + 36030, offset + 36050), new Analytics.TrajectoryStay("checkout", offset + 36060, offset + 36080)])]));
        var first = Assert.Single(CoarseVisit.From(m, At(86400), day1.AddDays(-1)));
        var second = Assert.Single(CoarseVisit.From(m, At(0), day1));
        Assert.Equal(first.BinStart, second.BinStart);
        Assert.Equal(first.Steps, second.Steps);
        Assert.Equal(TrajectoryPart.MediaVisitId(first), TrajectoryPart.MediaVisitId(second));
    }

    [Fact]
    public void A_fenced_camera_holds_its_visits_and_sends_them_under_the_new_epoch()
    {
        var m = Manifest();
        var o = new CameraOutput(m.CameraId, 4, Bin);
        o.Fence();
        Assert.Empty(o.TapVisits(m.Privacy.TimeBin, m.VersionHash, Common(0, 5), Bin.AddMinutes(5)));
        Assert.Empty(o.Resume(9, Bin.AddMinutes(6), m.Privacy.TimeBin, m.VersionHash));
        var p = Assert.Single(o.TakeResumedVisits());
        Assert.Equal(9UL, p.Epoch);
        Assert.Equal(5, p.Visits.Count);
        Assert.All(p.Visits, v => Assert.StartsWith("e9.", v.Id));
        Assert.Empty(o.TakeResumedVisits()); // once
        Assert.Equal(p, TrajectoryPart.Parse(p.ToUtf8()) with { Visits = p.Visits }); // the wire form round-trips
        Assert.True(TrajectoryPart.IsTrajectory(p.ToUtf8()));
        Assert.False(IconPart.IsIcon(p.ToUtf8()));
        Assert.Throws<EphemeraException>(() => TrajectoryPart.Parse((p with { Visits = [new TrajectoryVisit("x", ["a", "b"], [1])] }).ToUtf8()));
    }
}
