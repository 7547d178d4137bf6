using System.Text.Json;
using Ephemera.Cluster;
using Ephemera.Config;
using Ephemera.Core;
using Microsoft.Extensions.Logging;

namespace Ephemera.Cli.Verbs;

/// <summary><c>./ephemera cluster apply|status</c>: the desired cameras of a cluster, and where each runs.</summary>
public sealed class ClusterVerb : IVerb
{
    public string Name => "cluster";
    public string Summary => "desired cameras of a NATS JetStream cluster (apply a config) and their owner, state and rates (status)";
    public string Usage => """
        usage: ephemera cluster apply --config FILE --nats URL
               ephemera cluster status --nats URL [--json]

        apply   validates FILE and every camera's manifest (nothing is written when one fails), then
                makes its cameras the cluster's desired set (KV bucket ephemera_desired): each camera's
                config and manifest text; desired cameras not in FILE are removed. Workers pick the
                changes up within a lease renewal.
        status  one line per desired camera: owner (the worker holding its lease), state, decode and
                detection rates, parts published, as last reported by its worker.

          --config FILE   engine config (YAML) whose cameras:
          --nats URL      the cluster's NATS server with JetStream (nats://HOST:PORT)
          --json          status as one JSON object on stdout
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["config", "nats"], ["json"]);
        if (a.Positional.Count != 1 || a.Positional[0] is not ("apply" or "status"))
            throw new UsageException("give one of: apply, status");
        string url = a.Require("nats");
        return a.Positional[0] == "apply" ? Apply(a.Require("config"), url) : Status(url, a.Flag("json"));
    }

    private static int Apply(string configPath, string url)
    {
        var cameras = DesiredCamera.FromConfig(configPath); // validates first: nothing written on a bad manifest
        var (written, removed) = ClusterCli.WithCluster(url, "ephemera-cluster-apply", c => DesiredState.ApplyAsync(c, cameras));
        Console.Error.WriteLine($"ephemera cluster apply: {written} camera(s) desired on {url}, {removed} removed");
        Console.Out.WriteLine(JsonSerializer.Serialize(new { desired = cameras.Select(c => c.Camera.Id).ToArray(), removed }));
        return 0;
    }

    private static int Status(string url, bool json)
    {
        var rows = ClusterCli.WithCluster(url, "ephemera-cluster-status", async c =>
        {
            var desired = await DesiredState.ListAsync(await c.BucketAsync(ClusterNames.DesiredBucket)).ConfigureAwait(false);
            var owners = await new Leases(await c.BucketAsync(ClusterNames.LeaseBucket), "").OwnersAsync(CancellationToken.None).ConfigureAwait(false);
            var statusKv = await c.BucketAsync(ClusterNames.StatusBucket);
            var list = new List<object>();
            foreach (var id in desired.Keys.Order(StringComparer.Ordinal))
            {
                CameraStatus? s = null;
                try { var e = await statusKv.GetEntryAsync<byte[]>(id); if (e.Value is { } v) s = CameraStatus.Parse(v); }
                catch (NATS.Client.KeyValueStore.NatsKVException) { }
                string? owner = owners.GetValueOrDefault(id);
                list.Add(new
                {
                    camera = id, owner, state = owner is null ? (s?.State == "refused" ? "refused" : "unclaimed") : s?.State ?? "claimed",
                    decode_fps = owner is null ? 0 : s?.DecodeFps ?? 0, detect_fps = owner is null ? 0 : s?.DetectFps ?? 0,
                    epoch = s?.Epoch, reported_at = s?.At, reason = s?.Reason,
                });
            }
            return list;
        });
        if (json) Console.Out.WriteLine(JsonSerializer.Serialize(new { cameras = rows }));
        else
        {
            Console.Out.WriteLine($"{"camera",-24} {"owner",-24} {"state",-10} {"decode/s",9} {"detect/s",9}");
            foreach (dynamic r in rows)
                Console.Out.WriteLine($"{r.camera,-24} {r.owner ?? "-",-24} {r.state,-10} {r.decode_fps,9:0.0} {r.detect_fps,9:0.0}");
        }
        return 0;
    }
}

/// <summary><c>./ephemera worker</c>: claims cameras of the cluster's desired set and runs them.</summary>
public sealed class WorkerVerb : IVerb
{
    public string Name => "worker";
    public string Summary => "run cameras of a NATS JetStream cluster: claim them with leases up to a capacity, send their parts";
    public string Usage => """
        usage: ephemera worker --nats URL [--capacity N | --capacity auto --probe FILE] [--id ID] [--lease S] [--checkpoint S]
                               [--detect-fps F] [--store FILE] [--spool DIR] [--spool-capacity N]
                               [--max-seconds S]

        Claims desired cameras (ephemera cluster apply) with KV leases, up to N, and runs them: decode,
        detect, track, purpose analytics; pixels never leave the machine. Each camera's raw bins go,
        through a bounded on-disk buffer (kept while the server is away, sent when it returns), to the
        cluster's record stream, where the collector releases them through the gates. A worker that
        dies loses its leases after S seconds and the others take its cameras. A worker that cannot
        renew a lease in time (server away, process paused) fences that camera: it keeps running, but
        its counts are held until the lease is its own again (then sent) or another worker took the
        camera (then dropped). SIGTERM/SIGINT: cameras removed (last bins out), buffer flushed, leases
        given back. A camera's mqtt: section is served by the collector, from the released bins.

          --nats URL            the cluster's NATS server with JetStream (nats://HOST:PORT)
          --capacity N          most cameras to claim (default 4); or auto: measured at start with the
                                bench's ceilings (decode fps of --probe, detector images/s) as
                                streams allowed × 0.8 at --detect-fps
          --probe FILE          a clip like the cameras' streams, for --capacity auto
          --id ID               worker id (default HOST-PID)
          --lease S             lease time in seconds (default 6)
          --checkpoint S        seconds between the open bins' parts (default 5): the most of an open
                                bin a kill -9 loses, against 1/S parts per second per camera and class
                                for the collector
          --detect-fps F        detections per second per camera (default 5)
          --store FILE          the worker's local store: pixel audit, lifecycle (default var/worker-ID.db)
          --spool DIR           disconnection buffer (default var/spool-ID)
          --spool-capacity N    parts the buffer holds before it drops the oldest, audited (default 100000)
          --max-seconds S       stop after S seconds (default: until stopped)
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["nats", "capacity", "probe", "id", "lease", "checkpoint", "detect-fps", "store", "spool", "spool-capacity", "max-seconds"], []);
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'");
        string url = a.Require("nats");
        var o = new WorkerOptions();
        if (a.Get("id") is { } id) o = o with { WorkerId = id };
        o = o with
        {
            Capacity = a.Get("capacity") == "auto" ? o.Capacity : a.GetInt("capacity", o.Capacity),
            LeaseTime = TimeSpan.FromSeconds(a.GetDouble("lease", o.LeaseTime.TotalSeconds)),
            SpoolCapacity = a.GetInt("spool-capacity", o.SpoolCapacity),
            SpoolDirectory = a.Get("spool") ?? Path.Combine(RepoPaths.Var, $"spool-{o.WorkerId}"),
            Engine = new EngineOptions
            {
                DetectFps = a.GetDouble("detect-fps", 5),
                StorePath = a.Get("store") ?? Path.Combine(RepoPaths.Var, $"worker-{o.WorkerId}.db"),
                AuditIntervalSeconds = a.GetDouble("checkpoint", 5), // also the interval of the open bins' parts
            },
        };
        if (o.Engine.DetectFps is <= 0 or > 120) throw new UsageException("--detect-fps must be in 0..120");
        if (o.Engine.AuditIntervalSeconds is < 0.5 or > 3600) throw new UsageException("--checkpoint must be in 0.5..3600 seconds");
        double? maxSeconds = a.Get("max-seconds") is null ? null : a.GetDouble("max-seconds", 0);
        if (maxSeconds is <= 0) throw new UsageException("--max-seconds must be positive");
        if (a.Get("capacity") == "auto") o = o with { Capacity = MeasureCapacity(a.Get("probe") ?? throw new UsageException("--capacity auto needs --probe FILE (a clip like the cameras' streams)"), o.Engine.DetectFps) };
        else if (a.Get("probe") != null) throw new UsageException("--probe goes with --capacity auto");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o.Engine.StorePath))!);

        using var cts = new CancellationTokenSource();
        using var onTerm = StopSignals.Register(cts);
        if (maxSeconds is { } s) cts.CancelAfter(TimeSpan.FromSeconds(s));
        var worker = new Worker(o, StderrLoggerFactory.Instance);
        ClusterCli.WithCluster(url, $"ephemera-worker-{o.WorkerId}", async c => { await worker.RunAsync(c, cts.Token); return 0; });
        Console.Out.WriteLine(JsonSerializer.Serialize(new { worker = o.WorkerId, stopped = true, parts_published = worker.PartsPublished, fences = worker.Fences, images_stored = worker.ImagesStored, icons_sent = worker.IconsSent, icons_dropped = worker.IconsDropped }));
        return 0;
    }

    /// <summary>The bench's ceilings on this machine (a few seconds each): streams allowed at <paramref name="detectFps"/> × 0.8, at least 1.</summary>
    private static int MeasureCapacity(string probe, double detectFps)
    {
        var o = new Bench.BenchOptions { Source = probe, DetectFps = detectFps, CeilingSeconds = 3 };
        o.Validate();
        var ceilings = Bench.BenchRunner.MeasureCeilings(o);
        double sourceFps;
        using (var v = Decode.VideoSource.Open(probe)) sourceFps = v.FrameRate > 0 ? v.FrameRate : 25;
        double allowed = Bench.BenchRunner.StreamsAllowed(ceilings, sourceFps, detectFps);
        int capacity = Math.Clamp((int)Math.Floor(allowed * 0.8), 1, 256);
        Console.Error.WriteLine($"ephemera worker: measured decode {ceilings.DecodeFps} fps, detector {ceilings.DetectIps} images/s: {allowed:0.0} streams allowed at {detectFps} detections/s; capacity {capacity}");
        return capacity;
    }
}

/// <summary><c>./ephemera collect</c>: the cluster's record stream into the central store.</summary>
public sealed class CollectVerb : IVerb
{
    public string Name => "collect";
    public string Summary => "take a NATS JetStream cluster's record parts into the central store: bins merged, then the gates";
    public string Usage => """
        usage: ephemera collect --nats URL [--store FILE] [--grace S] [--max-seconds S] [--drain]

        Consumes the cluster's record stream with a durable consumer (ephemera.records.>), merges each
        bin's parts from every worker that ran the camera (a bin split by a failover is merged here),
        and releases each bin once, whole, through the manifest's gates (k-suppression with
        complementary suppression) into the SQLite store, with its retention and audit chain. Parts are
        acknowledged once checkpointed in the store's file, so a restart loses and repeats nothing.

          --nats URL        the cluster's NATS server with JetStream (nats://HOST:PORT)
          --store FILE      the central store (default var/ephemera.db)
          --grace S         seconds after a bin's end that its parts may still come (default 30;
                            at least the workers' lease time plus a checkpoint interval)
          --max-seconds S   stop after S seconds (default: until stopped)
          --drain           at the stop, release every held bin now (only when every worker has
                            stopped: a bin released early would miss its later parts)
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["nats", "store", "grace", "max-seconds"], ["drain"]);
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'");
        string url = a.Require("nats");
        var o = new CollectorOptions
        {
            StorePath = a.Get("store") ?? Path.Combine(RepoPaths.Var, "ephemera.db"),
            Grace = TimeSpan.FromSeconds(a.GetDouble("grace", 30)),
        };
        double? maxSeconds = a.Get("max-seconds") is null ? null : a.GetDouble("max-seconds", 0);
        if (maxSeconds is <= 0) throw new UsageException("--max-seconds must be positive");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o.StorePath))!);
        using var cts = new CancellationTokenSource();
        using var onTerm = StopSignals.Register(cts);
        if (maxSeconds is { } s) cts.CancelAfter(TimeSpan.FromSeconds(s));
        var log = StderrLoggerFactory.Instance.CreateLogger("Ephemera.Cluster.Collector");
        using var collector = new Collector(o, log);
        ClusterCli.WithCluster(url, "ephemera-collector", async c => { await collector.RunAsync(c, cts.Token); return 0; });
        if (a.Flag("drain")) collector.ReleaseDue(null);
        Console.Out.WriteLine(JsonSerializer.Serialize(new
        {
            accepted = collector.Accepted, stale = collector.Stale, late = collector.Late, refused = collector.Refused, stale_epoch = collector.StaleEpoch,
            bins_released = collector.BinsReleased, bins_open = collector.OpenBins, store = o.StorePath,
        }));
        return 0;
    }
}

internal static class ClusterCli
{
    /// <summary>Connects (an unreachable server is an <see cref="EphemeraException"/>: exit 2 with the URL), runs, disconnects.</summary>
    public static T WithCluster<T>(string url, string name, Func<ClusterConnection, Task<T>> body) => Task.Run(async () =>
    {
        await using var c = await ClusterConnection.ConnectAsync(url, name).ConfigureAwait(false);
        return await body(c).ConfigureAwait(false);
    }).GetAwaiter().GetResult();
}
