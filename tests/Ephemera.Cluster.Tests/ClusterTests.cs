using System.Diagnostics;
using System.Text;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Runtime;
using Ephemera.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.KeyValueStore;
using Xunit.Abstractions;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// Cluster mode against a real nats-server -js on a free port: the collector's merge of split bins
/// (no cell below k is ever released), and worker processes running real cameras through a 15 s
/// server outage and a kill -9.
/// </summary>
public sealed class ClusterTests(ITestOutputHelper output)
{
    private static CameraManifest BoundManifest(TempDir dir, string camera) => ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera(camera);

    [Fact]
    public void A_bin_split_among_workers_is_released_once_whole_and_no_cell_below_k_ever_is()
    {
        using var dir = new TempDir();
        var m = BoundManifest(dir, "plaza-count-1");
        int k = m.Privacy.MinCellCount;
        var bin = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        string[] rows = ["mid:person", "mid:bicycle", "mid:car"], cols = ["in", "out"];
        for (int seed = 0; seed < 300; seed++)
        {
            var rng = new Random(seed);
            var total = new int[rows.Length, cols.Length];
            for (int r = 0; r < rows.Length; r++) for (int c = 0; c < cols.Length; c++) total[r, c] = rng.Next(0, 3 * k);
            // The whole bin split among 1..3 worker epochs, each sending 1..3 cumulative snapshots, in any order, some twice.
            int epochs = 1 + rng.Next(3);
            var shares = new int[epochs][,];
            for (int e = 0; e < epochs; e++) shares[e] = new int[rows.Length, cols.Length];
            for (int r = 0; r < rows.Length; r++)
                for (int c = 0; c < cols.Length; c++)
                    for (int n = 0; n < total[r, c]; n++) shares[rng.Next(epochs)][r, c]++;
            var parts = new List<BinPart>();
            for (int e = 0; e < epochs; e++)
            {
                int snaps = 1 + rng.Next(3);
                for (int s = 1; s <= snaps; s++)
                {
                    var t = new int[rows.Length, cols.Length];
                    for (int r = 0; r < rows.Length; r++) for (int c = 0; c < cols.Length; c++) t[r, c] = shares[e][r, c] * s / snaps;
                    parts.Add(BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, (ulong)(100 + e), s, s == snaps, new RawBinTable(DataClass.Count, bin, rows, cols, t)));
                }
            }
            parts.AddRange(parts.Where(_ => rng.Next(4) == 0).ToList()); // replays
            var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
            foreach (var p in parts.OrderBy(_ => rng.Next())) Assert.NotEqual(PartOutcome.Refused, collector.Add(p));
            var released = collector.ReleaseDue(null);
            var record = Assert.Single(released);
            var expected = ReleaseGate.CountTable(m, DataClass.Count, bin, rows, cols, total);
            Assert.Equal(expected.PayloadJson(), record.PayloadJson()); // the merged bin, exactly as one engine would release it
            ClusterFixture.AssertNoCellBelowK(record.PayloadJson(), k);
            // A part that comes after the release is late: never released on its own (its difference could be below k).
            Assert.Equal(PartOutcome.Late, collector.Add(parts[0] with { Epoch = 999 }));
            Assert.Empty(collector.ReleaseDue(null));
        }
        // A part under another manifest version, or of a camera without one, is refused.
        var c2 = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
        var good = BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 1, 1, true, new RawBinTable(DataClass.Count, bin, rows, cols, new int[3, 2]));
        Assert.Equal(PartOutcome.Refused, c2.Add(good with { ManifestVersion = "0000" }));
        Assert.Equal(PartOutcome.Refused, c2.Add(good with { CameraId = "nobody" }));
    }

    private static async Task<ClusterConnection> ConnectAsync(BrokerProcess nats) => await ClusterConnection.ConnectAsync(nats.Url, "test");

    private static async Task WaitConsumedAsync(ClusterConnection c, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            try
            {
                var info = (await c.JetStream.GetConsumerAsync(ClusterNames.RecordStream, ClusterNames.CollectorConsumer)).Info;
                if (info.NumPending == 0 && info.NumAckPending == 0) return;
            }
            catch (NATS.Client.JetStream.NatsJSApiException) { }
            await Task.Delay(200);
        }
        throw new TimeoutException("the collector did not consume the stream");
    }

    private static async Task<Dictionary<string, string>> OwnersAsync(ClusterConnection c) =>
        await new Leases(await c.BucketAsync(ClusterNames.LeaseBucket, TimeSpan.FromSeconds(4)), "").OwnersAsync(CancellationToken.None);

    [Fact]
    public async Task A_worker_keeps_running_through_a_15_s_server_outage_and_no_record_is_lost()
    {
        using var nats = BrokerProcess.Nats();
        using var mosquitto = BrokerProcess.Mosquitto(); // the edge: the worker also sends its cameras' records there
        using var dir = new TempDir();
        await using var edge = await MqttSinkTests.Subscriber.ConnectAsync(mosquitto.Port);
        var cameras = DesiredCamera.FromConfig(ClusterFixture.Config(dir, 2, mosquitto.Url));
        await using (var c = await ConnectAsync(nats)) await DesiredState.ApplyAsync(c, cameras);

        var worker = ClusterFixture.StartWorker(dir, nats.Url, "w1", 2, 4, detectFps: 4);
        try
        {
            await using (var c = await ConnectAsync(nats))
            {
                var sw = Stopwatch.StartNew();
                while ((await OwnersAsync(c)).Count < 2 && sw.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(250);
                Assert.True((await OwnersAsync(c)).Count == 2, ClusterFixture.Logs["w1"].ToString());
            }
            // Parts flow before the outage (a bin has a table once something crossed a line).
            await using (var c = await ConnectAsync(nats))
            {
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < TimeSpan.FromSeconds(90) && (await c.JetStream.GetStreamAsync(ClusterNames.RecordStream)).Info.State.Messages == 0) await Task.Delay(250);
                Assert.True((await c.JetStream.GetStreamAsync(ClusterNames.RecordStream)).Info.State.Messages > 0, ClusterFixture.Logs["w1"].ToString());
            }
            nats.Stop();
            await Task.Delay(TimeSpan.FromSeconds(15)); // the worker keeps processing; its parts wait in the spool
            Assert.False(worker.HasExited, ClusterFixture.Logs["w1"].ToString());
            Assert.True(Directory.GetFiles(dir.File("spool-w1"), "*.part").Length > 0, ClusterFixture.Logs["w1"].ToString());
            nats.Start();
            await Task.Delay(TimeSpan.FromSeconds(8));
        }
        finally { ClusterFixture.Terminate(worker, TimeSpan.FromSeconds(60)); }
        Assert.True(worker.ExitCode == 0, ClusterFixture.Logs["w1"].ToString());
        Assert.Empty(Directory.GetFiles(dir.File("spool-w1"), "*.part")); // all acknowledged, then wiped

        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.Zero }, NullLogger.Instance);
        await using (var c = await ConnectAsync(nats))
        {
            using var cts = new CancellationTokenSource();
            var run = collector.RunAsync(c, cts.Token);
            await WaitConsumedAsync(c, TimeSpan.FromSeconds(60));
            cts.Cancel(); await run;
        }
        collector.ReleaseDue(null); // every worker has stopped: every bin is complete
        Assert.Equal(0, collector.Refused);

        // The worker ran each camera in one epoch, so each central bin must equal the bin its own engine
        // released (to the edge broker; its local store keeps no records), bin for bin.
        await edge.WaitForAsync(m => m.Topic == "ephemera/engine/ephemera-w1/availability" && m.Payload == "offline", TimeSpan.FromSeconds(10));
        var central = ClusterFixture.CountRows(dir.File("central.db"));
        var released = ClusterFixture.EdgeCountRows(edge.Messages);
        output.WriteLine($"central bins {central.Count}, worker-released bins {released.Count}, parts accepted {collector.Accepted}, stale {collector.Stale}");
        Assert.NotEmpty(released);
        Assert.Empty(ClusterFixture.CountRows(dir.File("w1.db"))); // a worker's store keeps no released records
        Assert.Equal(released.Keys.OrderBy(x => x).ToList(), central.Keys.OrderBy(x => x).ToList());
        foreach (var (key, payloads) in central)
        {
            Assert.Single(payloads); // released once
            Assert.True(ClusterFixture.SameJson(Assert.Single(released[key]), payloads[0]), $"bin {key}: central {payloads[0]} vs worker {released[key][0]}");
            ClusterFixture.AssertNoCellBelowK(payloads[0], 5);
        }
        Assert.True(collector.Store.Audit.Verify().Intact);
    }

    [Fact]
    public async Task Three_workers_nine_cameras_kill_9_one_every_camera_is_claimed_again_and_every_bin_is_released_once()
    {
        using var nats = BrokerProcess.Nats();
        using var mosquitto = BrokerProcess.Mosquitto();
        using var dir = new TempDir();
        const double lease = 4;
        await using var edge = await MqttSinkTests.Subscriber.ConnectAsync(mosquitto.Port);
        var cameras = DesiredCamera.FromConfig(ClusterFixture.Config(dir, 9, mosquitto.Url));
        await using var c = await ConnectAsync(nats);
        await DesiredState.ApplyAsync(c, cameras);
        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.FromSeconds(20) }, NullLogger.Instance);
        using var cts = new CancellationTokenSource();
        var collecting = collector.RunAsync(c, cts.Token);

        var workers = new Dictionary<string, Process>();
        try
        {
            foreach (var id in new[] { "w1", "w2", "w3" }) workers[id] = ClusterFixture.StartWorker(dir, nats.Url, id, 5, lease, detectFps: 2); // 2 × 5 ≥ 9: the survivors can hold every camera
            var sw = Stopwatch.StartNew();
            Dictionary<string, string> owners;
            while ((owners = await OwnersAsync(c)).Count < 9 && sw.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(250);
            Assert.True(owners.Count == 9, $"claimed {owners.Count} of 9: " + string.Join("\n", ClusterFixture.Logs.Select(l => l.Key + ": " + l.Value)));
            Assert.All(owners.Values.GroupBy(o => o), g => Assert.True(g.Count() <= 5)); // no worker above its capacity

            // Parts flow before the kill (a bin has a table once something crossed the line).
            sw.Restart();
            while (Interlocked.Read(ref collector.Accepted) < 9 && sw.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(250);
            Assert.True(Interlocked.Read(ref collector.Accepted) >= 9, "no parts: " + string.Join("\n", ClusterFixture.Logs.Select(l => l.Key + ": " + l.Value)));
            // kill -9 the worker with the most cameras; its cameras must be claimed again within the lease plus a few seconds.
            owners = await OwnersAsync(c);
            var victim = owners.Values.GroupBy(o => o).OrderByDescending(g => g.Count()).First().Key;
            var moved = owners.Where(o => o.Value == victim).Select(o => o.Key).ToList();
            workers[victim].Kill();
            var killed = Stopwatch.StartNew();
            while (killed.Elapsed < TimeSpan.FromSeconds(lease + 30))
            {
                owners = await OwnersAsync(c);
                if (owners.Count == 9 && owners.Values.All(o => o != victim)) break;
                await Task.Delay(100);
            }
            output.WriteLine($"kill -9 {victim} ({moved.Count} cameras): all claimed again by the others after {killed.Elapsed.TotalSeconds:0.0} s (lease {lease} s)");
            Assert.True(owners.Count == 9 && owners.Values.All(o => o != victim), $"after {killed.Elapsed.TotalSeconds:0.0} s: {string.Join(", ", owners)}");
            Assert.True(killed.Elapsed < TimeSpan.FromSeconds(lease + 10), $"failover took {killed.Elapsed.TotalSeconds:0.0} s");

            await Task.Delay(TimeSpan.FromSeconds(12));
        }
        finally
        {
            foreach (var w in workers.Values) ClusterFixture.Terminate(w, TimeSpan.FromSeconds(60));
        }
        await WaitConsumedAsync(c, TimeSpan.FromSeconds(60));
        cts.Cancel(); await collecting;
        collector.ReleaseDue(null); // every worker has stopped
        Assert.Equal(0, collector.Refused);

        var central = ClusterFixture.CountRows(dir.File("central.db"));
        output.WriteLine($"central bins {central.Count}; parts accepted {collector.Accepted}, stale {collector.Stale}, late {collector.Late}");
        Assert.NotEmpty(central);
        foreach (var (key, payloads) in central)
        {
            Assert.True(payloads.Count == 1, $"bin {key} released {payloads.Count} times"); // never counted twice
            ClusterFixture.AssertNoCellBelowK(payloads[0], 5);
        }
        string victimName = ClusterFixture.Logs.Keys.Single(id => workers[id].ExitCode != 0);
        foreach (var id in new[] { "w1", "w2", "w3" }.Where(i => i != victimName))
            await edge.WaitForAsync(m => m.Topic == $"ephemera/engine/ephemera-{id}/availability" && m.Payload == "offline", TimeSpan.FromSeconds(10));
        var released = ClusterFixture.EdgeCountRows(edge.Messages);
        foreach (var (key, payloads) in released)
        {
            // A camera that never moved ran in one epoch on one survivor: every bin its worker released
            // reached the central store (nothing lost), and equals it exactly (nothing counted twice).
            bool moved = ClusterFixture.Logs.Count(l => l.Value.ToString().Contains($"claimed camera {key.Camera} ")) > 1;
            if (moved) continue;
            Assert.True(central.TryGetValue(key, out var cp), $"bin {key} never reached the central store");
            Assert.True(ClusterFixture.SameJson(Assert.Single(payloads), cp![0]), $"bin {key}: central {cp[0]} vs worker {payloads[0]}");
        }
        Assert.True(collector.Store.Audit.Verify().Intact);
    }
}
