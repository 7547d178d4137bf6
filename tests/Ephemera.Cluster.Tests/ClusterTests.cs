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

    // Opened as it is (no max age given): the workers' lease time stays the bucket's.
    private static async Task<Dictionary<string, string>> OwnersAsync(ClusterConnection c) =>
        await new Leases(await c.BucketAsync(ClusterNames.LeaseBucket), "").OwnersAsync(CancellationToken.None);

    [Fact]
    public async Task Reading_the_lease_bucket_as_cluster_status_does_keeps_its_expiry_and_an_expired_lease_is_claimed_again()
    {
        using var nats = BrokerProcess.Nats();
        var lease = TimeSpan.FromSeconds(3);
        await using var c = await ConnectAsync(nats);
        var owner = new Leases(await c.BucketAsync(ClusterNames.LeaseBucket, lease), "dead");
        var sw = Stopwatch.StartNew();
        Assert.NotNull(await owner.TryClaimAsync("cam", CancellationToken.None));
        var other = new Leases(await c.BucketAsync(ClusterNames.LeaseBucket), "late");
        Assert.Null(await other.TryClaimAsync("cam", CancellationToken.None)); // held while it lives
        // `cluster status` opened the bucket with CreateOrUpdate and no max age: the server then kept every
        // lease for ever, and a dead worker's cameras were never claimed again (issue #16's late worker).
        var status = ChildProcess.Cli("cluster", "status", "--nats", nats.Url);
        Assert.True(status.ExitCode == 0, status.StdErr);
        var kv = await c.KeyValue.GetStoreAsync(ClusterNames.LeaseBucket);
        Assert.Equal(lease, (await kv.GetStatusAsync()).Info.Config.MaxAge);
        // The owner stops renewing: its entry ages out and another worker's create succeeds.
        ulong? epoch = null;
        while (sw.Elapsed < lease + TimeSpan.FromSeconds(10) && (epoch = await other.TryClaimAsync("cam", CancellationToken.None)) is null) await Task.Delay(100);
        output.WriteLine($"expired lease claimed again {sw.Elapsed.TotalSeconds:0.0} s after the claim (lease {lease.TotalSeconds} s)");
        Assert.NotNull(epoch);
        Assert.Equal("late", (await other.OwnersAsync(CancellationToken.None))["cam"]);
    }

    [Fact]
    public async Task A_worker_started_after_the_owner_takes_its_media_time_camera_after_kill_9_even_when_cluster_status_ran()
    {
        using var nats = BrokerProcess.Nats();
        using var dir = new TempDir();
        const double lease = 4;
        var cameras = DesiredCamera.FromConfig(ClusterFixture.Config(dir, 1, mediaStart: DateTimeOffset.UtcNow));
        await using var c = await ConnectAsync(nats);
        await DesiredState.ApplyAsync(c, cameras);
        var workers = new Dictionary<string, Process>();
        string Logs() => string.Join("\n", ClusterFixture.Logs.Where(l => workers.ContainsKey(l.Key)).Select(l => l.Key + ": " + l.Value));
        try
        {
            workers["late1"] = ClusterFixture.StartWorker(dir, nats.Url, "late1", 4, lease, detectFps: 2);
            var sw = Stopwatch.StartNew();
            while (!(await OwnersAsync(c)).ContainsValue("late1") && sw.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(250);
            Assert.True((await OwnersAsync(c)).ContainsValue("late1"), Logs());
            // The second worker starts once the camera runs on the first, then someone looks at the cluster.
            workers["late2"] = ClusterFixture.StartWorker(dir, nats.Url, "late2", 4, lease, detectFps: 2);
            sw.Restart();
            while (ClusterFixture.Count(ClusterFixture.Logs["late2"], "worker late2: capacity") == 0 && sw.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(250);
            Assert.True(ClusterFixture.Count(ClusterFixture.Logs["late2"], "worker late2: capacity") == 1, Logs());
            var status = ChildProcess.Cli("cluster", "status", "--nats", nats.Url);
            Assert.Contains("late1", status.StdOut);
            await Task.Delay(TimeSpan.FromSeconds(2)); // a few status reports (media frames) from the owner

            workers["late1"].Kill();
            var killed = Stopwatch.StartNew();
            while (!(await OwnersAsync(c)).ContainsValue("late2") && killed.Elapsed < TimeSpan.FromSeconds(lease + 20)) await Task.Delay(100);
            output.WriteLine($"kill -9 of the owner: the later worker took the camera after {killed.Elapsed.TotalSeconds:0.0} s (lease {lease} s)");
            Assert.True((await OwnersAsync(c)).ContainsValue("late2"), $"not claimed {killed.Elapsed.TotalSeconds:0.0} s after the kill: " + Logs());
            Assert.True(killed.Elapsed < TimeSpan.FromSeconds(lease + 5), $"failover took {killed.Elapsed.TotalSeconds:0.0} s");
            sw.Restart();
            while (ClusterFixture.Count(ClusterFixture.Logs["late2"], "claimed camera plaza-count-1") == 0 && sw.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(100);
            Assert.True(ClusterFixture.Count(ClusterFixture.Logs["late2"], "camera plaza-count-1: media time, catching up") == 1, Logs()); // resumed where the owner was
        }
        finally
        {
            foreach (var w in workers.Values) if (!w.HasExited) ClusterFixture.Terminate(w, TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task A_worker_keeps_running_through_a_15_s_server_outage_and_no_record_is_lost()
    {
        using var nats = BrokerProcess.Nats();
        using var mosquitto = BrokerProcess.Mosquitto(); // the edge: the worker also sends its cameras' records there
        using var dir = new TempDir();
        await using var edge = await MqttSinkTests.Subscriber.ConnectAsync(mosquitto.Port);
        var cameras = DesiredCamera.FromConfig(ClusterFixture.Config(dir, 2, mosquitto.Url));
        await using (var c = await ConnectAsync(nats)) await DesiredState.ApplyAsync(c, cameras);

        var worker = ClusterFixture.StartWorker(dir, nats.Url, "w1", 2, 10, detectFps: 4); // lease 10 s: parts spool for ~9 s of the 15 s outage, then the cameras are fenced
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
            // Past its 10 s lease the worker fenced both cameras (they ran on, their counts held); back
            // on the server, it claimed them again and, nobody else having run them, sent the held counts.
            var back = Stopwatch.StartNew();
            while (back.Elapsed < TimeSpan.FromSeconds(30) && ClusterFixture.Count(ClusterFixture.Logs["w1"], "claimed again") < 2) await Task.Delay(250);
            await Task.Delay(TimeSpan.FromSeconds(5));
        }
        finally { ClusterFixture.Terminate(worker, TimeSpan.FromSeconds(60)); }
        string log = ClusterFixture.Logs["w1"].ToString();
        Assert.True(worker.ExitCode == 0, log);
        Assert.True(ClusterFixture.Count(ClusterFixture.Logs["w1"], " fenced: ") >= 2, log);
        Assert.True(ClusterFixture.Count(ClusterFixture.Logs["w1"], "claimed again") >= 2, log);
        Assert.Empty(Directory.GetFiles(dir.File("spool-w1"), "*.part")); // all acknowledged, then wiped
        long published = ClusterFixture.PartsPublished(ClusterFixture.Logs["w1"]);

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
        Assert.Equal(0, collector.StaleEpoch); // the worker fenced itself: nothing under an epoch it no longer held

        // No part lost: every part the server acknowledged to the worker (before, during and after the
        // outage, the held ones included) reached the collector.
        long consumed = collector.Accepted + collector.Stale + collector.Late + collector.StaleEpoch + collector.Refused;
        var central = ClusterFixture.CountRows(dir.File("central.db"));
        output.WriteLine($"parts published {published}, consumed {consumed} (accepted {collector.Accepted}, stale {collector.Stale}, late {collector.Late}); central bins {central.Count}");
        Assert.True(published > 0, log);
        Assert.Equal(published, consumed);
        Assert.NotEmpty(central);
        Assert.Empty(ClusterFixture.CountRows(dir.File("w1.db"))); // a worker's store keeps no released records
        foreach (var (key, payloads) in central)
        {
            Assert.Single(payloads); // released once
            ClusterFixture.AssertNoCellBelowK(payloads[0], 5);
        }
        Assert.True(collector.Store.Audit.Verify().Intact);
        await ClusterFixture.AssertMqttCarriesTheCentralBinsAsync(edge, central);
    }

    [Fact]
    public async Task Three_workers_nine_cameras_kill_9_one_every_camera_is_claimed_again_and_the_bins_equal_a_single_process_run()
    {
        using var nats = BrokerProcess.Nats();
        using var mosquitto = BrokerProcess.Mosquitto();
        using var dir = new TempDir();
        const double lease = 4;
        // The media-time clock: frame 0 of vtest.avi (79.5 s) at 20 s before a minute, so each camera has two
        // 1-minute bins; the first ends 20 s into the file and closes 15 s later (the media settle); the kill
        // comes in the second, which the failover splits.
        var now = DateTimeOffset.UtcNow;
        var mediaStart = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero).AddSeconds(-20);
        using var dirSingle = new TempDir();
        // The single-process reference run of the same cameras (unpaced, so it finishes first), meanwhile.
        var singleRun = Task.Run(() => ChildProcess.Cli("run", "--config",
            ClusterFixture.Config(dirSingle, 9, null, mediaStart, paced: false, store: dirSingle.File("single.db"), name: "single.yaml")));
        await using var edge = await MqttSinkTests.Subscriber.ConnectAsync(mosquitto.Port);
        var cameras = DesiredCamera.FromConfig(ClusterFixture.Config(dir, 9, mosquitto.Url, mediaStart));
        int k = cameras[0].LoadManifest().Privacy.MinCellCount;
        await using var c = await ConnectAsync(nats);
        await DesiredState.ApplyAsync(c, cameras);
        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.FromSeconds(20) }, NullLogger.Instance);
        using var cts = new CancellationTokenSource();
        var collecting = collector.RunAsync(c, cts.Token);
        string Logs() => string.Join("\n", ClusterFixture.Logs.Where(l => l.Key.StartsWith('w')).Select(l => l.Key + ": " + l.Value));

        var workers = new Dictionary<string, Process>();
        List<string> moved;
        try
        {
            foreach (var id in new[] { "w1", "w2", "w3" }) workers[id] = ClusterFixture.StartWorker(dir, nats.Url, id, 5, lease, detectFps: 2); // 2 × 5 ≥ 9: the survivors can hold every camera
            var sw = Stopwatch.StartNew();
            Dictionary<string, string> owners;
            while ((owners = await OwnersAsync(c)).Count < 9 && sw.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(250);
            Assert.True(owners.Count == 9, $"claimed {owners.Count} of 9: " + Logs());
            Assert.All(owners.Values.GroupBy(o => o), g => Assert.True(g.Count() <= 5)); // no worker above its capacity

            // Every camera's first bin released (35 s into the file), then a few seconds later.
            sw.Restart();
            while (Interlocked.Read(ref collector.BinsReleased) < 9 && sw.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(250);
            Assert.True(Interlocked.Read(ref collector.BinsReleased) >= 9, $"{collector.BinsReleased} bins released: " + Logs());
            await Task.Delay(TimeSpan.FromSeconds(3));
            // kill -9 the worker with the most cameras; its cameras must be claimed again within the lease plus a few seconds.
            owners = await OwnersAsync(c);
            var victim = owners.Values.GroupBy(o => o).OrderByDescending(g => g.Count()).First().Key;
            moved = owners.Where(o => o.Value == victim).Select(o => o.Key).ToList();
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

            // The files run to their end on the survivors (the moved cameras catch up unpaced to where the
            // dead worker was, then run paced), and every bin is released.
            var statusKv = await c.BucketAsync(ClusterNames.StatusBucket);
            sw.Restart();
            while (sw.Elapsed < TimeSpan.FromSeconds(150))
            {
                int ended = 0;
                foreach (var cam in cameras)
                    if ((await statusKv.GetEntryAsync<byte[]>(cam.Camera.Id)).Value is { } v && CameraStatus.Parse(v) is { State: "ended" }) ended++;
                if (ended == 9 && collector.OpenBins == 0) break;
                await Task.Delay(500);
            }
            Assert.True(collector.OpenBins == 0, $"{collector.OpenBins} bins still open after {sw.Elapsed.TotalSeconds:0} s: " + Logs());
            output.WriteLine($"every file ended and every bin released {sw.Elapsed.TotalSeconds:0.0} s after the failover");
        }
        finally
        {
            foreach (var w in workers.Values) ClusterFixture.Terminate(w, TimeSpan.FromSeconds(60));
        }
        await WaitConsumedAsync(c, TimeSpan.FromSeconds(60));
        cts.Cancel(); await collecting;
        collector.ReleaseDue(null); // every worker has stopped
        Assert.Equal(0, collector.Refused);
        Assert.True(moved.Any(m => Logs().Contains($"camera {m}: media time, catching up", StringComparison.Ordinal)), Logs()); // resumed where the dead worker was

        var central = ClusterFixture.CountRows(dir.File("central.db"));
        // Every part the stream stored reached the collector (its sequence numbers count them all).
        ulong stored = (await c.JetStream.GetStreamAsync(ClusterNames.RecordStream)).Info.State.LastSeq;
        long consumed = collector.Accepted + collector.Stale + collector.Late + collector.StaleEpoch + collector.Refused;
        output.WriteLine($"central bins {central.Count}; parts stored {stored}, consumed {consumed} (accepted {collector.Accepted}, stale {collector.Stale}, late {collector.Late}, stale epoch {collector.StaleEpoch})");
        Assert.Equal((long)stored, consumed);
        Assert.Equal(0, collector.Late); // media-time replays of released bins are no-ops (stale), never late
        foreach (var (key, payloads) in central)
        {
            Assert.True(payloads.Count == 1, $"bin {key} released {payloads.Count} times"); // never counted twice
            ClusterFixture.AssertNoCellBelowK(payloads[0], k);
        }
        Assert.True(collector.Store.Audit.Verify().Intact);

        // The same cameras in one process, unpaced, same clock and settings: the same released bins, to the cell.
        var single = await singleRun;
        Assert.True(single.ExitCode == 0, single.StdErr);
        var reference = ClusterFixture.CountRows(dirSingle.File("single.db"));
        Assert.Equal(18, reference.Count); // 9 cameras × 2 bins
        Assert.Equal(reference.Keys.OrderBy(x => x).ToList(), central.Keys.OrderBy(x => x).ToList());
        foreach (var (key, payloads) in reference)
            Assert.True(ClusterFixture.SameJson(Assert.Single(payloads), central[key][0]), $"bin {key}: single process {payloads[0]} vs cluster {central[key][0]}");
        Assert.Contains(reference.Values, p => p[0].Contains("\"total\":", StringComparison.Ordinal) && !p[0].Contains("\"total\":null", StringComparison.Ordinal)); // something released to compare

        // The edge gets the cluster's released bins, from the collector: the same, whole, suppressed bins
        // as the central store, never a worker's half of a bin that the failover split.
        await ClusterFixture.AssertMqttCarriesTheCentralBinsAsync(edge, central);
    }

    [Fact]
    public async Task A_worker_paused_past_its_lease_fences_itself_and_sends_nothing_for_the_time_another_worker_ran_its_cameras()
    {
        using var nats = BrokerProcess.Nats();
        using var dir = new TempDir();
        const double lease = 3;
        var cameras = DesiredCamera.FromConfig(ClusterFixture.Config(dir, 2));
        await using var c = await ConnectAsync(nats);
        await DesiredState.ApplyAsync(c, cameras);
        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.FromSeconds(20) }, NullLogger.Instance);
        using var cts = new CancellationTokenSource();
        var collecting = collector.RunAsync(c, cts.Token);
        var workers = new Dictionary<string, Process>();
        string Logs() => string.Join("\n", ClusterFixture.Logs.Where(l => workers.ContainsKey(l.Key)).Select(l => l.Key + ": " + l.Value));
        try
        {
            workers["p1"] = ClusterFixture.StartWorker(dir, nats.Url, "p1", 2, lease, detectFps: 2);
            var sw = Stopwatch.StartNew();
            while ((await OwnersAsync(c)).Count(o => o.Value == "p1") < 2 && sw.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(250);
            Assert.True((await OwnersAsync(c)).Count(o => o.Value == "p1") == 2, Logs());
            workers["p2"] = ClusterFixture.StartWorker(dir, nats.Url, "p2", 2, lease, detectFps: 2);
            sw.Restart();
            while (ClusterFixture.Count(ClusterFixture.Logs["p2"], "capacity 2 cameras") == 0 && sw.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(250);
            sw.Restart();
            while (Interlocked.Read(ref collector.Accepted) < 2 && sw.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(250); // p1's parts flow

            // SIGSTOP p1: it cannot renew; its leases expire and p2 takes both cameras.
            using (var k = Process.Start("kill", ["-STOP", workers["p1"].Id.ToString()])) k!.WaitForExit();
            sw.Restart();
            while ((await OwnersAsync(c)).Count(o => o.Value == "p2") < 2 && sw.Elapsed < TimeSpan.FromSeconds(lease + 20)) await Task.Delay(100);
            Assert.True((await OwnersAsync(c)).Count(o => o.Value == "p2") == 2, Logs());
            await Task.Delay(TimeSpan.FromSeconds(2)); // p2 runs them a while
            using (var k = Process.Start("kill", ["-CONT", workers["p1"].Id.ToString()])) k!.WaitForExit();

            // p1 wakes past its lease: it fences both cameras at once, finds them taken, drops what it held.
            sw.Restart();
            while (ClusterFixture.Count(ClusterFixture.Logs["p1"], "ran on another worker meanwhile") + ClusterFixture.Count(ClusterFixture.Logs["p1"], "lost to another worker") < 2
                   && sw.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(250);
            // (At least 2: on a loaded machine a renewal can come late while a camera is being admitted; that fence lifts itself.)
            Assert.True(ClusterFixture.Count(ClusterFixture.Logs["p1"], " fenced: ") >= 2, Logs());
            Assert.True(ClusterFixture.Count(ClusterFixture.Logs["p1"], "ran on another worker meanwhile") == 2, Logs());
            Assert.True((await OwnersAsync(c)).Count(o => o.Value == "p2") == 2, Logs()); // p2 keeps them
            await Task.Delay(TimeSpan.FromSeconds(3));
        }
        finally
        {
            foreach (var w in workers.Values) ClusterFixture.Terminate(w, TimeSpan.FromSeconds(60));
        }
        await WaitConsumedAsync(c, TimeSpan.FromSeconds(60));
        cts.Cancel(); await collecting;
        collector.ReleaseDue(null);
        output.WriteLine($"parts accepted {collector.Accepted}, stale {collector.Stale}, late {collector.Late}, stale epoch {collector.StaleEpoch}; fences {ClusterFixture.Count(ClusterFixture.Logs["p1"], " fenced: ")}");
        Assert.Equal(0, collector.Refused);
        // p1 sent nothing under its old epoch after p2's began: nothing the collector had to fence out.
        Assert.Equal(0, collector.StaleEpoch);
        Assert.Equal(0, workers["p1"].ExitCode);
        var central = ClusterFixture.CountRows(dir.File("central.db"));
        Assert.NotEmpty(central);
        foreach (var (key, payloads) in central)
        {
            Assert.True(payloads.Count == 1, $"bin {key} released {payloads.Count} times");
            ClusterFixture.AssertNoCellBelowK(payloads[0], 5);
        }
        using (var p1 = EphemeraStore.Open(dir.File("p1.db")))
        {
            Assert.True(p1.Audit.Verify().Intact);
            Assert.True(p1.Audit.Read().Count(r => r.Kind == "cluster" && r.BodyJson.Contains("\"fenced\"", StringComparison.Ordinal)) >= 2);
        }
        Assert.True(collector.Store.Audit.Verify().Intact);
    }
}
