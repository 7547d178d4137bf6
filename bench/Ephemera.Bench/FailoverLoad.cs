using System.Diagnostics;
using Ephemera.Cluster;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- failover KILLS [LEASE_S] [CAMERAS]</c>: failover
/// time of real <c>ephemera worker</c> processes (the CLI must be built). Three workers share CAMERAS
/// paced file cameras (vtest.avi, case 3); KILLS times, the owner of one camera is killed with SIGKILL
/// and restarted afterwards. Measured per kill: until another worker holds the camera's lease
/// (claimed), and until that worker reports it running (status, written every third of the lease).
/// Prints one JSON line with p50 and max of both.
/// </summary>
public static class FailoverLoad
{
    public static void Run(int kills, double lease, int cameras) => RunAsync(kills, lease, cameras).GetAwaiter().GetResult();

    private static Process Start(TempDir dir, string url, string id, double lease)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { ChildProcess.CliDll, "worker", "--nats", url, "--id", id, "--capacity", "8", "--lease", lease.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--detect-fps", "1", "--store", dir.File($"{id}.db"), "--spool", dir.File($"spool-{id}") })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { }; p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine(); p.BeginErrorReadLine();
        return p;
    }

    private static async Task RunAsync(int kills, double lease, int cameras)
    {
        using var nats = BrokerProcess.Nats();
        using var dir = new TempDir();
        var manifest = dir.File("m.yaml");
        File.WriteAllText(manifest, File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml")));
        File.WriteAllText(dir.File("c.yaml"), "engine:\n  detect_fps: 1\ncameras:\n" + string.Concat(Enumerable.Range(1, cameras).Select(i =>
            $"  - id: plaza-count-{i}\n    source: {TestPaths.Video("vtest.avi")}\n    manifest: {manifest}\n    loop: true\n    analytics:\n      lines:\n        - name: mid\n          points: [0, 350, 768, 350]\n")));
        await using var c = await ClusterConnection.ConnectAsync(nats.Url, "failover-bench");
        await DesiredState.ApplyAsync(c, DesiredCamera.FromConfig(dir.File("c.yaml")));
        var leases = new Leases(await c.BucketAsync(ClusterNames.LeaseBucket, TimeSpan.FromSeconds(lease)), "");
        var status = await c.BucketAsync(ClusterNames.StatusBucket);
        var workers = new Dictionary<string, Process>();
        foreach (var id in new[] { "w1", "w2", "w3" }) workers[id] = Start(dir, nats.Url, id, lease);
        var claimed = new List<double>(); var running = new List<double>();
        try
        {
            for (int k = 0; k < kills; k++)
            {
                const string camera = "plaza-count-1";
                string? owner = null;
                var wait = Stopwatch.StartNew();
                while (wait.Elapsed < TimeSpan.FromSeconds(120))
                {
                    var owners = await leases.OwnersAsync(CancellationToken.None);
                    if (owners.Count == cameras && owners.TryGetValue(camera, out owner) && await RunningUnder(status, camera, owner)) break;
                    owner = null;
                    await Task.Delay(200);
                }
                if (owner is null) throw new TimeoutException("cameras did not all run");
                workers[owner].Kill();
                var sw = Stopwatch.StartNew();
                double? claimAt = null;
                while (sw.Elapsed < TimeSpan.FromSeconds(lease + 60))
                {
                    var o = (await leases.OwnersAsync(CancellationToken.None)).GetValueOrDefault(camera);
                    if (claimAt is null && o is not null && o != owner) claimAt = sw.Elapsed.TotalSeconds;
                    if (o is not null && o != owner && await RunningUnder(status, camera, o)) break;
                    await Task.Delay(50);
                }
                claimed.Add(claimAt ?? double.NaN); running.Add(sw.Elapsed.TotalSeconds);
                Console.Error.WriteLine($"kill {k + 1}: {owner} → claimed after {claimAt:0.00} s, running after {sw.Elapsed.TotalSeconds:0.00} s");
                workers[owner].WaitForExit();
                workers[owner] = Start(dir, nats.Url, owner, lease);
            }
        }
        finally { foreach (var w in workers.Values) if (!w.HasExited) w.Kill(entireProcessTree: true); }
        static double Q(List<double> v, double q) { var s = v.Order().ToList(); return Math.Round(s[(int)Math.Round(q * (s.Count - 1))], 2); }
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
        {
            kills, lease_s = lease, cameras, claimed_p50_s = Q(claimed, 0.5), claimed_max_s = Q(claimed, 1), running_p50_s = Q(running, 0.5), running_max_s = Q(running, 1),
        }));
    }

    private static async Task<bool> RunningUnder(NATS.Client.KeyValueStore.INatsKVStore status, string camera, string owner)
    {
        try
        {
            var e = await status.GetEntryAsync<byte[]>(camera);
            return e.Value is { } v && CameraStatus.Parse(v) is { } s && s.Owner == owner && s.State == "running";
        }
        catch (NATS.Client.KeyValueStore.NatsKVException) { return false; }
    }
}
