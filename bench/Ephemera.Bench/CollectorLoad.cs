using System.Diagnostics;
using Ephemera.Cluster;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Runtime;
using Ephemera.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ephemera.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- collector-load CAMERAS [SNAPSHOTS] [SECONDS]</c>:
/// what the collector sustains into SQLite. A synthetic publisher sends, on loopback to a nats-server
/// -js it starts itself, the parts CAMERAS cameras make in SNAPSHOTS checkpoint intervals (one count
/// table of 2 lines × 3 classes per camera per interval, cumulative, the last closed); the collector
/// consumes them (checkpointed per batch) and then releases every bin through the gate into the
/// store. Bounded by SECONDS. Prints one JSON line.
/// </summary>
public static class CollectorLoad
{
    private static long Taken(Collector c) => Interlocked.Read(ref c.Accepted) + Interlocked.Read(ref c.Stale) + Interlocked.Read(ref c.Late) + Interlocked.Read(ref c.Refused);

    public static void Run(int cameras, int snapshots, int seconds) => RunAsync(cameras, snapshots, seconds).GetAwaiter().GetResult();

    private static async Task RunAsync(int cameras, int snapshots, int seconds)
    {
        using var nats = BrokerProcess.Nats();
        using var dir = new TempDir();
        var manifest = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml"));
        await using var c = await ClusterConnection.ConnectAsync(nats.Url, "collector-load");
        await c.EnsureRecordStreamAsync(TimeSpan.FromMinutes(10));
        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db"), Grace = TimeSpan.FromHours(6) }, NullLogger.Instance);
        var bound = Enumerable.Range(0, cameras).Select(i => manifest.ForCamera($"plaza-count-{i}")).ToList();
        var sw = Stopwatch.StartNew();
        foreach (var m in bound) collector.AddManifest(m);
        double registerS = sw.Elapsed.TotalSeconds;

        // The publisher: every camera's snapshots, in checkpoint order, 1,000 publishes in flight.
        // The current 15-minute bin: not due during the run (grace 6 h), released at the end, timed apart.
        var now = DateTimeOffset.UtcNow;
        var bin = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute / 15 * 15, 0, TimeSpan.Zero);
        string[] rows = ["west:person", "west:bicycle", "west:car", "east:person", "east:bicycle", "east:car"];
        var rng = new Random(1);
        sw.Restart();
        long published = 0;
        var inflight = new List<Task>();
        for (int s = 1; s <= snapshots; s++)
            foreach (var m in bound)
            {
                var t = new int[rows.Length, 2];
                for (int r = 0; r < rows.Length; r++) { t[r, 0] = rng.Next(0, 4) * s; t[r, 1] = rng.Next(0, 4) * s; }
                var p = BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 1, s, s == snapshots, new RawBinTable(DataClass.Count, bin, rows, ["in", "out"], t));
                inflight.Add(c.JetStream.PublishAsync(ClusterNames.RecordSubject(p.CameraId, p.Class), p.ToUtf8(),
                    opts: new NATS.Client.JetStream.NatsJSPubOpts { MsgId = p.MessageId }).AsTask());
                if (inflight.Count >= 1000) { await Task.WhenAll(inflight); published += inflight.Count; inflight.Clear(); }
            }
        await Task.WhenAll(inflight); published += inflight.Count;
        double publishS = sw.Elapsed.TotalSeconds;

        // The collector: consume until every part is taken (or the bound), then release every bin.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        sw.Restart();
        var run = collector.RunAsync(c, cts.Token);
        while (!cts.IsCancellationRequested && Taken(collector) < published)
        {
            await Task.Delay(20);
            if (run.IsCompleted) { await run; break; } // a failure surfaces
            if (Environment.GetEnvironmentVariable("LOAD_DEBUG") == "1" && sw.ElapsedMilliseconds % 1000 < 25)
                Console.Error.WriteLine($"{sw.Elapsed.TotalSeconds:0.0}s accepted {collector.Accepted} stale {collector.Stale} late {collector.Late} refused {collector.Refused} open {collector.OpenBins}");
        }
        double consumeS = sw.Elapsed.TotalSeconds;
        long taken = Taken(collector);
        cts.Cancel();
        await run;
        sw.Restart();
        int released = collector.ReleaseDue(null);
        double releaseS = sw.Elapsed.TotalSeconds;
        // A camera checkpointing every 10 s makes 0.1 parts/s per counted class.
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
        {
            cameras, snapshots, parts_published = published, publish_per_s = Math.Round(published / publishS),
            parts_taken = taken, refused = collector.Refused, late = collector.Late, consume_s = Math.Round(consumeS, 2), parts_per_s = Math.Round(taken / consumeS),
            bins_released = released, release_s = Math.Round(releaseS, 2), bins_per_s = Math.Round(released / Math.Max(1e-6, releaseS)),
            needed_parts_per_s_at_10s_checkpoints = cameras / 10.0, needed_bins_per_s_at_15min_bins = Math.Round(cameras / 900.0, 2),
            register_manifests_s = Math.Round(registerS, 2), cpu = Environment.ProcessorCount,
        }));
    }
}
