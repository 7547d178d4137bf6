using System.Diagnostics;
using Ephemera.Core;
using Ephemera.TestSupport;
using Microsoft.Data.Sqlite;

namespace Ephemera.Cluster.Tests;

/// <summary>Helpers of the cluster tests: a config of N paced file cameras under case 3 with 1-minute bins, worker processes, store rows.</summary>
internal static class ClusterFixture
{
    /// <summary>Case 3 with a 1-minute bin (the shortest H3 allows), so a test sees bins close; <paramref name="k"/> lower than the case's 5 releases more cells to compare.</summary>
    public static string Manifest(TempDir dir, int k = 5)
    {
        var path = dir.File(k == 5 ? "case3-1m.yaml" : $"case3-1m-k{k}.yaml");
        File.WriteAllText(path, File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml")).Replace("time_bin: 15m", "time_bin: 1m").Replace("granularity_floor: 1h", "granularity_floor: 1m")
            .Replace("  k: 5\n", $"  k: {k}\n"));
        return path;
    }

    /// <summary>
    /// N cameras on vtest.avi. With <paramref name="mediaStart"/>: the deterministic media-time clock, the
    /// file once (no loop), 2 detections/s per camera, k = 2; <paramref name="paced"/> false and a
    /// <paramref name="store"/> make it the single-process reference run of the same cameras.
    /// </summary>
    public static string Config(TempDir dir, int cameras, string? mqttBroker = null, DateTimeOffset? mediaStart = null, bool paced = true, string? store = null, string name = "cluster.yaml")
    {
        // No client_id: each worker connects as ephemera-<worker id>.
        string mqtt = mqttBroker is null ? "" : $"\n    mqtt:\n      broker: \"{mqttBroker}\"\n      contract: MINATO-2026-031";
        var m = mediaStart is null ? Manifest(dir) : Manifest(dir, k: 2);
        string clock = mediaStart is { } ms
            ? $"loop: false\n    media_time: {ms.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}\n    detect_fps: 2\n    paced: {(paced ? "true" : "false")}"
            : "loop: true";
        var text = "engine:\n  detect_fps: 1\n" + (store is null ? "" : $"  store: {store}\n") + "cameras:\n" + string.Concat(Enumerable.Range(1, cameras).Select(i => $"""
              - id: plaza-count-{i}
                source: {TestPaths.Video("vtest.avi")}
                manifest: {m}
                {clock}
                analytics:
                  lines:
                    - name: mid
                      points: [0, 350, 768, 350]
                    - name: west
                      points: [300, 0, 300, 576]{mqtt}

            """));
        var path = dir.File(name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>An <c>ephemera worker</c> child process (its output drained).</summary>
    public static Process StartWorker(TempDir dir, string url, string id, int capacity, double leaseSeconds, double detectFps = 1)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { ChildProcess.CliDll, "worker", "--nats", url, "--id", id, "--capacity", capacity.ToString(), "--lease", leaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--checkpoint", "2", "--detect-fps", detectFps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--store", dir.File($"{id}.db"), "--spool", dir.File($"spool-{id}") })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var log = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.BeginOutputReadLine(); p.BeginErrorReadLine();
        Logs[id] = log;
        return p;
    }

    public static readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Text.StringBuilder> Logs = new();

    /// <summary>SIGTERM (a graceful stop), then wait.</summary>
    public static void Terminate(Process p, TimeSpan wait)
    {
        if (p.HasExited) return;
        using (var k = Process.Start("kill", ["-TERM", p.Id.ToString()])) k!.WaitForExit();
        if (!p.WaitForExit(wait)) p.Kill(entireProcessTree: true);
        p.WaitForExit(); // without a timeout it also waits for the redirected output to drain (the last stdout line)
    }

    /// <summary>Released count rows of a store: (camera, bin start ms) → payload.</summary>
    public static Dictionary<(string Camera, long Bin), List<string>> CountRows(string db)
    {
        var rows = new Dictionary<(string, long), List<string>>();
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT camera_id, bin_start_ms, payload FROM derived WHERE class = 'Count'";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var key = (r.GetString(0), r.GetInt64(1));
            if (!rows.TryGetValue(key, out var l)) rows[key] = l = new List<string>();
            l.Add(r.GetString(2));
        }
        return rows;
    }

    /// <summary>Count records an MQTT subscriber received: (camera, bin start ms) → payloads.</summary>
    public static Dictionary<(string Camera, long Bin), List<string>> EdgeCountRows(IEnumerable<(string Topic, string Payload, bool Retained)> messages)
    {
        var rows = new Dictionary<(string, long), List<string>>();
        foreach (var m in messages.Where(m => m.Topic.StartsWith("ephemera/plaza-count-", StringComparison.Ordinal) && m.Topic.EndsWith("/count", StringComparison.Ordinal)))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(m.Payload);
            var r = doc.RootElement;
            var key = (r.GetProperty("camera").GetString()!, new DateTimeOffset(r.GetProperty("bin_start").GetDateTime(), TimeSpan.Zero).ToUnixTimeMilliseconds());
            if (!rows.TryGetValue(key, out var l)) rows[key] = l = new List<string>();
            l.Add(r.GetProperty("payload").GetRawText());
        }
        return rows;
    }

    /// <summary>How often <paramref name="text"/> occurs in a worker's log.</summary>
    public static int Count(System.Text.StringBuilder log, string text)
    {
        string s;
        lock (log) s = log.ToString();
        int n = 0;
        for (int i = s.IndexOf(text, StringComparison.Ordinal); i >= 0; i = s.IndexOf(text, i + text.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>The parts_published of a worker's last stdout line (written at a graceful stop).</summary>
    public static long PartsPublished(System.Text.StringBuilder log)
    {
        string s;
        lock (log) s = log.ToString();
        var m = System.Text.RegularExpressions.Regex.Match(s, "\"parts_published\":(\\d+)");
        Assert.True(m.Success, "no parts_published in the worker's output: " + s);
        return long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The MQTT records of the cameras (sent by the collector, from its released output) are exactly the
    /// central store's count bins: the same keys, each once, the same payloads.
    /// </summary>
    public static async Task AssertMqttCarriesTheCentralBinsAsync(MqttSinkTests.Subscriber edge, Dictionary<(string Camera, long Bin), List<string>> central)
    {
        var sw = Stopwatch.StartNew();
        Dictionary<(string Camera, long Bin), List<string>> sent;
        while ((sent = EdgeCountRows(edge.Messages)).Count < central.Count && sw.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(100);
        Assert.Equal(central.Keys.OrderBy(x => x).ToList(), sent.Keys.OrderBy(x => x).ToList());
        foreach (var (key, payloads) in central)
            Assert.True(SameJson(Assert.Single(sent[key]), payloads[0]), $"bin {key}: central {payloads[0]} vs mqtt {string.Join(" | ", sent[key])}");
        Assert.DoesNotContain(edge.Messages, m => m.Topic.StartsWith("ephemera/engine/ephemera-w", StringComparison.Ordinal)); // workers send nothing to the edge
    }

    /// <summary>Two payloads as JSON values (formatting aside).</summary>
    public static bool SameJson(string a, string b) => System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(a), System.Text.Json.Nodes.JsonNode.Parse(b));

    /// <summary>Every released cell and total of a count payload: null (suppressed), or a value that is 0 or at least k.</summary>
    public static void AssertNoCellBelowK(string payload, int k)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(payload);
        var root = doc.RootElement;
        IEnumerable<System.Text.Json.JsonElement> Values()
        {
            foreach (var row in root.GetProperty("cells").EnumerateArray()) foreach (var v in row.EnumerateArray()) yield return v;
            foreach (var v in root.GetProperty("row_totals").EnumerateArray()) yield return v;
            foreach (var v in root.GetProperty("col_totals").EnumerateArray()) yield return v;
            yield return root.GetProperty("total");
        }
        foreach (var v in Values())
            Assert.True(v.ValueKind == System.Text.Json.JsonValueKind.Null || v.GetInt32() == 0 || v.GetInt32() >= k, $"released value {v} is below k = {k}: {payload}");
    }
}
