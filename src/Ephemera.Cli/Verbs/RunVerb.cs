using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Runtime;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Ephemera.Cli.Verbs;

/// <summary><c>./ephemera run</c>: the main job — every configured camera under its manifest, into the store.</summary>
public sealed class RunVerb : IVerb
{
    public string Name => "run";
    public string Summary => "run the cameras of a config (default: the bundled 8-camera plaza demo)";
    public string Usage => """
        usage: ephemera run [--config FILE | FILE] [--max-seconds S]

        Runs every camera of FILE (default configs/demo.yaml) under its purpose manifest: decode,
        detect, track, purpose analytics, governance gates, store (var/ephemera.db by default).
        A camera whose manifest is missing, invalid or not yet allowed to start is refused; the
        others run. Live per-camera status on stderr; the last stdout line is one JSON object with
        streams, frames_decoded, frames_destroyed, pixel_buffers_leaked, max_pixel_lifetime_ms,
        events, and per-camera results.

          --config FILE      engine config (YAML)
          --max-seconds S    stop after S seconds (default 30 for the bundled demo, none otherwise)
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["config", "max-seconds"], []);
        // `run my.yaml` means `run --config my.yaml`; anything more is a mistake, not something to ignore.
        if (a.Positional.Count > 1 || (a.Positional.Count == 1 && a.Get("config") != null))
            throw new UsageException($"unexpected argument '{a.Positional[^1]}' (give the config once, as FILE or --config FILE)");
        string? configPath = a.Get("config") ?? a.Positional.FirstOrDefault();
        double? maxSeconds = a.Get("max-seconds") is null ? (configPath is null ? 30 : null) : a.GetDouble("max-seconds", 30);
        if (maxSeconds is <= 0) throw new UsageException("--max-seconds must be positive");
        var config = ConfigLoader.Load(configPath ?? Path.Combine(RepoPaths.Root, "configs", "demo.yaml"));

        var err = StatusConsole.Create();
        using var cts = new CancellationTokenSource();
        // SIGTERM (systemctl stop, docker stop) and SIGINT both drain: bins closed as partial, final
        // pixel audit, checkpoint and summary, then exit 0. Without this SIGTERM ends the process at once.
        using var onTerm = StopSignals.Register(cts);
        int tick = 0;
        var options = new EngineRunOptions
        {
            MaxDuration = maxSeconds is { } s ? TimeSpan.FromSeconds(s) : null,
            OnTick = host => { if (++tick % 5 == 0) err.Write(StatusTable(host)); },
            Loggers = StderrLoggerFactory.Instance,
        };
        err.MarkupLine($"[bold]ephemera run[/]: {config.Cameras.Count} cameras from {Markup.Escape(config.SourcePath)}");
        using var host = new EngineHost(config, options);
        if (config.Engine.MetricsPort > 0) host.Metrics.StartServer(config.Engine.MetricsPort);
        // Cameras with an mqtt: section also go to their broker, after the store, under their manifest's contract.
        var mqtt = Mqtt.MqttSinks.FromConfig(config, StderrLoggerFactory.Instance.CreateLogger("Ephemera.Mqtt"));
        foreach (var sink in mqtt) host.Records.AddSink(sink);
        host.Run(cts.Token);
        foreach (var sink in mqtt) sink.Dispose(); // sends what is queued, then "offline"
        var summary = RunSummary.From(host);
        err.Write(StatusTable(host));
        err.MarkupLine($"[bold]done[/]: {summary.FramesDecoded} frames decoded, {summary.FramesDestroyed} destroyed, " +
                       $"{summary.PixelBuffersLeaked} pixel buffers leaked, max pixel lifetime {summary.MaxPixelLifetimeMs} ms, " +
                       $"{summary.Events} outputs stored in {Markup.Escape(summary.Store)}");
        Console.Out.WriteLine(summary.ToJson());
        return summary.StreamsRunning > 0 ? 0 : 2;
    }

    /// <summary>Per-camera status: state, decode and detection rates, skips, latency.</summary>
    public static Table StatusTable(EngineHost host)
    {
        var t = new Table().Border(TableBorder.Simple)
            .AddColumns("camera", "state", "decoded", "fps", "detect/s", "skipped", "late", "p99 ms", "note");
        double secs = Math.Max(1e-3, host.Elapsed.TotalSeconds);
        foreach (var c in host.Cameras)
        {
            string state = c.State switch
            {
                CameraState.Running => "[green]running[/]",
                CameraState.Refused or CameraState.Failed => $"[red]{c.State.ToString().ToLowerInvariant()}[/]",
                _ => $"[yellow]{c.State.ToString().ToLowerInvariant()}[/]",
            };
            t.AddRow(Markup.Escape(c.Id), state, c.FramesDecoded.ToString(), (c.FramesDecoded / secs).ToString("0.0"),
                (c.DetectionsDone / secs).ToString("0.0"), c.DetectionsSkipped.ToString(), c.LateFrames.ToString(),
                c.Latency.Quantile(0.99).ToString("0"), Markup.Escape(Truncate(c.Error ?? "", 70)));
        }
        return t;
    }

    internal static string Truncate(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}
