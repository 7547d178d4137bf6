// Usage: ConsoleHost <clip> <manifest.yaml> [seconds=10] [camera-id=plaza-count-1]
using Ephemera;
using Ephemera.Config;

if (args.Length < 2) { Console.Error.WriteLine("usage: ConsoleHost <clip> <manifest.yaml> [seconds] [camera-id]"); return 2; }
double seconds = args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;
var options = new EphemeraOptions
{
    DetectFps = 5,
    StorePath = "ephemera.db",                                          // released records, in the working directory
    ModelsDirectory = Path.Combine(AppContext.BaseDirectory, "models"), // weights fetched from EPHEMERA_MODEL_MIRROR
};
await using var engine = new EphemeraEngine(options);
var camera = new CameraSpec(args.Length > 3 ? args[3] : "plaza-count-1", args[0])
{
    Loop = true,
    Analytics = new AnalyticsConfig { Lines = [new LineConfig("crossing-mid", 0, 350, 768, 350)] },
};
var added = await engine.AddCameraAsync(camera, ManifestSource.File(args[1]));
if (added.Refusal is { } no) { Console.Error.WriteLine($"refused ({no.RequirementId}): {no.Reason}"); return 1; }

var records = engine.ReadAsync();                        // subscribed now: nothing released from here on is missed
var reader = Task.Run(async () => { await foreach (var r in records) Console.WriteLine(r.ToJson()); });
await engine.StartAsync();
await Task.Delay(TimeSpan.FromSeconds(seconds));
await engine.StopAsync();                                // drains: frames wiped, last bins released, readers completed
await reader;

var stats = engine.GetStatistics();
foreach (var c in stats.Cameras.Where(c => c.Error != null)) Console.Error.WriteLine($"camera {c.Id}: {c.Error}");
var p = stats.Pixels;
Console.WriteLine($"ledger: allocated={p.Allocated} wiped={p.Wiped} leaked={p.Leaked}");
return p.Allocated == p.Wiped && p.Leaked == 0 ? 0 : 3;
