using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ephemera.Decode;
using Ephemera.Runtime;

namespace Ephemera.Cli.Bench;

/// <summary>
/// Memory per stream and the soak. RSS at 1, 10 and the max sustained streams is measured in a
/// fresh child process that runs the counts in ascending order: in the bench's own process the
/// larger --find-max trials have already grown the heaps (freed memory stays mapped), so a small
/// count measured after them would read high. MB per added stream is the slope from 1 stream to the
/// largest count. The soak runs at one count for a long time in this process and samples RSS every
/// 10 s; its drift is (last − baseline) ÷ baseline, the baseline taken after the first minute
/// (or the first quarter of a shorter soak), when pools, caches and JIT have settled.
/// </summary>
public static class BenchMemory
{
    public const double GoalMbPerStream = 8, GoalSoakDrift = 0.03;
    /// <summary>Seconds each count runs in the RSS series: long enough for pools and queues to reach steady state.</summary>
    public const double SeriesSeconds = 10;

    /// <summary>The counts measured: 1, 10 and the max (those below or equal to the max, each once).</summary>
    public static int[] SeriesCounts(int max) => new[] { 1, 10, max }.Where(n => n >= 1 && n <= max).Distinct().Order().ToArray();

    /// <summary>Runs the series in a child <c>bench --rss-series</c> and returns the <c>memory</c> object.</summary>
    /// <param name="ruleText">the parent's <c>--rule</c> as given (null = the default rule), so the child judges by the same rule</param>
    public static JsonObject MeasureSeries(BenchOptions o, int max, string? ruleText, Action<string> say)
    {
        var counts = SeriesCounts(max);
        string outPath = Path.Combine(Path.GetTempPath(), $"ephemera-rss-{Environment.ProcessId}.json");
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true };
        // Under `dotnet ephemera.dll` the host is dotnet and the CLI is its first argument.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(BenchMemory).Assembly.Location);
        foreach (var arg in new[]
                 {
                     "bench", "--source", o.Source, "--rss-series", string.Join(',', counts), "--seconds", SeriesSeconds.ToString(CultureInfo.InvariantCulture),
                     "--detect-fps", o.DetectFps.ToString(CultureInfo.InvariantCulture), "--model", o.Model, "--provider", o.Provider,
                     "--threads", o.IntraOpThreads.ToString(CultureInfo.InvariantCulture), "--parallel-runs", o.ParallelRuns.ToString(CultureInfo.InvariantCulture),
                     "--max-batch", o.MaxBatch.ToString(CultureInfo.InvariantCulture), "--input-size", o.InputSize.ToString(CultureInfo.InvariantCulture),
                     "--input-fit", o.InputFit == Config.InputFit.Square ? "square" : "auto", "--precision", o.Precision.ToString().ToLowerInvariant(), "--json", outPath,
                 })
            psi.ArgumentList.Add(arg);
        if (ruleText != null) { psi.ArgumentList.Add("--rule"); psi.ArgumentList.Add(ruleText); }
        say($"memory: RSS at {string.Join(", ", counts)} streams, {SeriesSeconds:0} s each, in a fresh process…");
        using (var child = Process.Start(psi)!)
        {
            child.StandardOutput.ReadToEnd(); // its stdout is its JSON line; ours stays our own
            child.WaitForExit();
            if (child.ExitCode != 0) throw new Core.EphemeraException($"memory series: the child bench exited with {child.ExitCode}");
        }
        var series = JsonNode.Parse(File.ReadAllText(outPath))!.AsArray();
        File.Delete(outPath);
        return Summarise(series);
    }

    /// <summary>The child's side: each count in ascending order, one line of JSON per count into <paramref name="outPath"/>.</summary>
    public static int RunSeries(BenchOptions o, string counts, SustainedRule rule, string outPath, Action<string> say)
    {
        var ns = counts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= Verbs.BenchVerb.MaxStreams
                ? n : throw new UsageException($"--rss-series: '{c}' is not a stream count 1…{Verbs.BenchVerb.MaxStreams}"))
            .Order().ToArray();
        // The ceilings do not matter here; large ones keep efficiency finite.
        var ceiling = new CeilingFigures(1e9, 1e9);
        var rows = new JsonArray();
        foreach (int n in ns)
        {
            var r = BenchRunner.Run(o with { Streams = n }, ceiling, rule: rule);
            say($"  {n} streams: RSS {r.RssMb:0.0} MB, sustained {r.Sustained}");
            rows.Add(new JsonObject { ["streams"] = n, ["rss_mb"] = r.RssMb, ["sustained"] = r.Sustained });
        }
        File.WriteAllText(outPath, rows.ToJsonString());
        Console.Out.WriteLine(rows.ToJsonString());
        return 0;
    }

    public static JsonObject Summarise(JsonArray series)
    {
        var rows = series.OfType<JsonObject>().Select(r => (N: r["streams"]!.GetValue<int>(), Mb: r["rss_mb"]!.GetValue<double>())).OrderBy(r => r.N).ToList();
        double? perStream = rows.Count >= 2 && rows[^1].N > rows[0].N ? Math.Round((rows[^1].Mb - rows[0].Mb) / (rows[^1].N - rows[0].N), 2) : null;
        return new JsonObject
        {
            ["rss"] = JsonNode.Parse(series.ToJsonString()),
            ["mb_per_added_stream"] = perStream,
            ["goal_mb_per_stream"] = GoalMbPerStream,
            ["seconds_each"] = SeriesSeconds,
        };
    }

    /// <summary>
    /// Runs <paramref name="streams"/> for <paramref name="seconds"/>, sampling RSS every 10 s; returns the
    /// <c>soak</c> object. Each sample splits RSS into the managed heap (its committed memory: the live
    /// heap after the last collection and what was allocated since), the native pixel pools (the
    /// ledger's reserved bytes) and the rest (ONNX Runtime, FFmpeg, the C heap, code), so a drift says
    /// where it grows.
    /// </summary>
    public static JsonObject Soak(BenchOptions o, int streams, double seconds, CeilingFigures ceiling, SustainedRule rule, Action<string> say)
    {
        var samples = new List<(double T, double Mb, double ManagedMb, double PoolsMb)>();
        double next = 0;
        var r = BenchRunner.Run(o with { Streams = streams, Seconds = seconds }, ceiling, rule: rule, onTick: host =>
        {
            double t = host.Elapsed.TotalSeconds;
            if (t < next) return;
            next = t + 10;
            double mb = ProcessStats.RssMb();
            double managed = GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0, pools = PixelLedger.BytesReserved / 1048576.0;
            samples.Add((Math.Round(t, 1), Math.Round(mb, 1), Math.Round(managed, 1), Math.Round(pools, 1)));
            say($"  soak {t:0}/{seconds:0} s: RSS {mb:0.0} MB (managed heap {managed:0.0}, pixel pools {pools:0.0}, other {mb - managed - pools:0.0})");
        });
        double settle = Math.Min(60, seconds / 4);
        var baseline = samples.FirstOrDefault(s => s.T >= settle);
        double drift = baseline.Mb > 0 && samples.Count > 0 ? Math.Round((samples[^1].Mb - baseline.Mb) / baseline.Mb, 4) : 0;
        return new JsonObject
        {
            ["streams"] = streams,
            ["seconds"] = seconds,
            ["sustained"] = r.Sustained,
            ["why_not_sustained"] = r.WhyNotSustained,
            ["rss"] = new JsonArray(samples.Select(s => (JsonNode)new JsonObject
            {
                ["seconds"] = s.T, ["rss_mb"] = s.Mb, ["managed_heap_mb"] = s.ManagedMb, ["pixel_pools_mb"] = s.PoolsMb,
                ["other_mb"] = Math.Round(s.Mb - s.ManagedMb - s.PoolsMb, 1),
            }).ToArray()),
            ["rss_baseline_mb"] = baseline.Mb,
            ["rss_last_mb"] = samples.Count > 0 ? samples[^1].Mb : 0,
            ["rss_drift"] = drift,
            ["goal_drift"] = GoalSoakDrift,
            ["pixel_buffers_leaked"] = r.PixelBuffersLeaked,
        };
    }
}
