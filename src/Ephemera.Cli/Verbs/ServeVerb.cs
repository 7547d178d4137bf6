using System.Text.Json;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Server;

namespace Ephemera.Cli.Verbs;

/// <summary><c>./ephemera serve</c>: the config's cameras through the engine, with the HTTP API and the public notice pages.</summary>
public sealed class ServeVerb : IVerb
{
    public string Name => "serve";
    public string Summary => "run a config's cameras and serve the HTTP API, SSE, metrics and public notice pages";
    public string Usage => """
        usage: ephemera serve [--config FILE] [--urls URL] [--max-seconds S]

        Runs every camera of FILE (default configs/demo.yaml) through the engine and serves on URL
        (default http://127.0.0.1:8080): /api/cameras, /api/records, /api/events and /api/ledger/stream
        (SSE), /api/export (M3, under a manifest's contract), /api/audit, /metrics, /healthz, /readyz,
        the OpenAPI document /openapi.json (errors: RFC 9457 problem details), and the public pages
        /notice/{camera}, /notice/{camera}/sign and POST /notice/{camera}/inquiry. API keys come from
        the config's server.keys (role and sha256 of the key); send them as Authorization: Bearer KEY.
        The dashboard is at /; when the config names no keys, serve prints a dashboard link with a
        key valid for this run only (operator role).
        Stops on SIGINT/SIGTERM (draining the cameras) or after --max-seconds; the last stdout line is
        one JSON object with the cameras' final state.

          --config FILE      engine config (YAML)
          --urls URL         where to listen (';'-separated; port 0 = a free port)
          --max-seconds S    stop after S seconds (default: run until stopped)
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["config", "urls", "max-seconds"], []);
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'");
        double? maxSeconds = a.Get("max-seconds") is null ? null : a.GetDouble("max-seconds", 0);
        if (maxSeconds is <= 0) throw new UsageException("--max-seconds must be positive");
        string urls = a.Get("urls") ?? "http://127.0.0.1:8080";
        var config = ConfigLoader.Load(a.Get("config") ?? Path.Combine(RepoPaths.Root, "configs", "demo.yaml"));

        using var cts = new CancellationTokenSource();
        using var onTerm = StopSignals.Register(cts);
        if (maxSeconds is { } s) cts.CancelAfter(TimeSpan.FromSeconds(s));
        return RunAsync(config, urls, cts.Token).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(EngineConfig config, string urls, CancellationToken stop)
    {
        // Without configured keys the dashboard would read nothing: a key for this run only opens it (printed once, held hashed).
        string? sessionKey = config.Server.Keys.Count == 0 ? Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)) : null;
        EphemeraServer server;
        try { server = await EphemeraServer.StartAsync(config, new ServerOptions { Urls = urls, Loggers = StderrLoggerFactory.Instance, SessionKey = sessionKey }); }
        catch (IOException e) { throw new EphemeraException($"cannot listen on {urls}: {e.Message}", e); }
        await using (server)
        {
            foreach (var r in server.Admissions.Where(r => !r.Admitted))
                Console.Error.WriteLine($"serve: camera {r.CameraId} refused ({r.RequirementId ?? "-"}): {r.Reason}");
            Console.Error.WriteLine($"serve: {server.Admissions.Count(r => r.Admitted)} of {config.Cameras.Count} cameras from {config.SourcePath}, listening on {string.Join(", ", server.Addresses)}");
            string first = server.Addresses.FirstOrDefault() ?? urls;
            Console.Error.WriteLine(sessionKey is null
                ? $"serve: dashboard {first}/ (open it with a key from server.keys)"
                : $"serve: dashboard {first}/#key={sessionKey} (no server.keys in the config: this operator key is valid until serve stops)");
            try { await Task.Delay(Timeout.Infinite, stop); } catch (OperationCanceledException) { }
            Console.Error.WriteLine("serve: stopping (draining cameras)");
            await server.StopAsync();
            var e = server.Engine;
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                cameras = e.Cameras.Select(c => new { id = c.Id, state = c.State.ToString().ToLowerInvariant(), frames_decoded = c.FramesDecoded, frames_destroyed = c.FramesDestroyed, error = c.Error }),
                pixel_buffers_leaked = ServedEngine.Ledger().Leaked, records_published = e.RecordsPublished,
            }));
            return server.Admissions.Any(r => r.Admitted) ? 0 : 2;
        }
    }
}
