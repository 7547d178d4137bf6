// Usage: WorkerHost --clip <path> --manifest <manifest.yaml> [--camera plaza-count-1]
// The engine runs as a hosted service (started with the host, drained when it stops: Ctrl+C);
// CountingWorker adds the camera and logs every released record.
using Ephemera;
using Ephemera.Config;
using Ephemera.Hosting;

var builder = Host.CreateApplicationBuilder(args);
// The worker is registered before the engine: a host stops its services in reverse order, so on
// Ctrl+C the engine drains first (frames wiped, last bins released, readers completed), then the worker.
builder.Services.AddHostedService<CountingWorker>();
builder.Services.AddEphemera(sp => new EphemeraOptions
{
    StorePath = "ephemera.db",
    ModelsDirectory = Path.Combine(AppContext.BaseDirectory, "models"), // weights fetched from EPHEMERA_MODEL_MIRROR
});
await builder.Build().RunAsync();

sealed class CountingWorker(EphemeraEngine engine, IConfiguration config, ILogger<CountingWorker> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var camera = new CameraSpec(config["camera"] ?? "plaza-count-1", config["clip"] ?? throw new InvalidOperationException("--clip is required"))
        {
            Loop = true,
            Analytics = new AnalyticsConfig { Lines = [new LineConfig("crossing-mid", 0, 350, 768, 350)] },
        };
        // Subscribed before the camera is added; the loop ends when the engine stops (not at stoppingToken,
        // which fires before the engine's drain releases the last bins).
        var records = engine.ReadAsync();
        var added = await engine.AddCameraAsync(camera, ManifestSource.File(config["manifest"] ?? throw new InvalidOperationException("--manifest is required")), stoppingToken);
        if (added.Refusal is { } no)
        {
            log.LogError("camera {Camera} refused ({Requirement}): {Reason}", no.CameraId, no.RequirementId, no.Reason);
            return;
        }
        await foreach (var r in records) log.LogInformation("record {Json}", r.ToJson());
        var p = engine.GetStatistics().Pixels;
        log.LogInformation("ledger: allocated={Allocated} wiped={Wiped} leaked={Leaked}", p.Allocated, p.Wiped, p.Leaked);
    }
}
