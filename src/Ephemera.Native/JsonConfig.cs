using System.Text.Json;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Runtime;

namespace Ephemera.Native;

/// <summary>
/// Binds the ABI's JSON onto <see cref="EphemeraOptions"/> and <see cref="CameraSpec"/> with
/// <see cref="JsonDocument"/> only (no reflection serializer). Keys are snake_case as in the YAML
/// config; an unknown key, a wrong type or an out-of-range value throws <see cref="EphemeraException"/>
/// ("key: problem"), the same text the .NET setters give.
/// </summary>
internal static class JsonConfig
{
    public static EphemeraOptions Options(string? json)
    {
        var o = new EphemeraOptions();
        if (string.IsNullOrWhiteSpace(json)) return o;
        using var doc = Parse(json, "options");
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            var v = p.Value;
            o = p.Name switch
            {
                "model" => o with { Model = Str(p) },
                "provider" => o with { Provider = Str(p) },
                "input_size" => o with { InputSize = Int(p) },
                "intra_op_threads" => o with { IntraOpThreads = Int(p) },
                "parallel_runs" => o with { ParallelRuns = Int(p) },
                "max_batch" => o with { MaxBatch = Int(p) },
                "detect_fps" => o with { DetectFps = Num(p) },
                "score_threshold" => o with { ScoreThreshold = (float)Num(p) },
                "store" => o with { StorePath = Str(p) },
                "audit_key" => o with { AuditKeyPath = StrOrNull(p) },
                "audit_witness" => o with { AuditWitnessPath = StrOrNull(p) },
                "audit_interval_seconds" => o with { AuditIntervalSeconds = Num(p) },
                "max_cameras" => o with { MaxCameras = Int(p) },
                "reader_capacity" => o with { ReaderCapacity = Int(p) },
                "reader_drop_policy" => o with
                {
                    ReaderDropPolicy = Str(p) switch
                    {
                        "drop_oldest" => RecordDropPolicy.DropOldest,
                        "drop_newest" => RecordDropPolicy.DropNewest,
                        var s => throw Bad(p.Name, $"'{s}' is not drop_oldest or drop_newest"),
                    },
                },
                "pixel_stage_slots" => o with { PixelStageSlots = Int(p) },
                "metrics_port" => o with { MetricsPort = Int(p) },
                _ => throw Bad(p.Name, "unknown option (known: model, provider, input_size, intra_op_threads, parallel_runs, max_batch, detect_fps, score_threshold, store, audit_key, audit_witness, audit_interval_seconds, max_cameras, reader_capacity, reader_drop_policy, pixel_stage_slots, metrics_port)"),
            };
        }
        return o;
    }

    /// <summary>A camera and its manifest (manifest_path or manifest_yaml, exactly one).</summary>
    public static (CameraSpec Camera, ManifestSource Manifest) Camera(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) throw new EphemeraException("camera: JSON is empty");
        using var doc = Parse(json, "camera");
        var root = doc.RootElement;
        string id = root.TryGetProperty("id", out var idv) ? StrOf("id", idv) : throw Bad("id", "is missing");
        string source = root.TryGetProperty("source", out var sv) ? StrOf("source", sv) : throw Bad("source", "is missing");
        var cam = new CameraSpec(id, source);
        var analytics = new AnalyticsConfig();
        ManifestSource? manifest = null;
        foreach (var p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "id": case "source": break;
                case "loop": cam = cam with { Loop = Bool(p) }; break;
                case "paced": cam = cam with { Paced = Bool(p) }; break;
                case "detect_fps": cam = cam with { DetectFps = p.Value.ValueKind == JsonValueKind.Null ? null : Num(p) }; break;
                case "priority": cam = cam with { Priority = Int(p) }; break;
                case "manifest_path":
                    if (manifest != null) throw Bad(p.Name, "give manifest_path or manifest_yaml, not both");
                    manifest = ManifestSource.File(Str(p)); break;
                case "manifest_yaml":
                    if (manifest != null) throw Bad(p.Name, "give manifest_path or manifest_yaml, not both");
                    manifest = ManifestSource.Yaml(Str(p), $"manifest_yaml of camera '{id}'"); break;
                case "lines": analytics = analytics with { Lines = Array(p, Line) }; break;
                case "zones": analytics = analytics with { Zones = Array(p, Zone) }; break;
                case "calibration": analytics = analytics with { Calibration = Array(p, Calibration) }; break;
                case "floor_size":
                    var fs = Floats(p.Name, p.Value);
                    analytics = analytics with { FloorSize = fs.Length == 2 ? [fs[0], fs[1]] : throw Bad(p.Name, "needs [width, depth] in metres") };
                    break;
                case "icon_interval_seconds": analytics = analytics with { IconIntervalSeconds = Num(p) }; break;
                default:
                    throw Bad(p.Name, "unknown camera key (known: id, source, loop, paced, detect_fps, priority, manifest_path, manifest_yaml, lines, zones, calibration, floor_size, icon_interval_seconds)");
            }
        }
        if (manifest is null) throw Bad("manifest_path", "a camera needs manifest_path or manifest_yaml (BP-a: no camera runs without its purpose manifest)");
        return (cam with { Analytics = analytics }, manifest);
    }

    // lines: [{name, x1, y1, x2, y2}] or [{name, points: [x1, y1, x2, y2]}]
    private static LineConfig Line(string key, JsonElement e)
    {
        Object(key, e);
        string name = Req(e, key, "name");
        float[] pts = e.TryGetProperty("points", out var pv) ? Floats(key + ".points", pv)
            : [Float(e, key, "x1"), Float(e, key, "y1"), Float(e, key, "x2"), Float(e, key, "y2")];
        if (pts.Length != 4) throw Bad(key + ".points", "needs x1, y1, x2, y2");
        foreach (var p in e.EnumerateObject())
            if (p.Name is not ("name" or "points" or "x1" or "y1" or "x2" or "y2")) throw Bad($"{key}.{p.Name}", "unknown line key (name, x1, y1, x2, y2 or points)");
        return new LineConfig(name, pts[0], pts[1], pts[2], pts[3]);
    }

    // zones: [{name, polygon: [x, y, ...], floor?, shelf_front?}]
    private static ZoneConfig Zone(string key, JsonElement e)
    {
        Object(key, e);
        string name = Req(e, key, "name");
        var pts = e.TryGetProperty("polygon", out var pv) ? Floats(key + ".polygon", pv) : throw Bad(key + ".polygon", "is missing");
        if (pts.Length < 6 || pts.Length % 2 != 0) throw Bad(key + ".polygon", "needs at least 3 points as x, y pairs");
        var poly = Enumerable.Range(0, pts.Length / 2).Select(i => (pts[2 * i], pts[2 * i + 1])).ToList();
        bool floor = false, shelf = false;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "name": case "polygon": break;
                case "floor": floor = Bool(p); break;
                case "shelf_front": shelf = Bool(p); break;
                default: throw Bad($"{key}.{p.Name}", "unknown zone key (name, polygon, floor, shelf_front)");
            }
        }
        return new ZoneConfig(name, poly, shelf, floor);
    }

    // calibration: [{image: [x, y], floor: [X, Y]}]
    private static CalibrationPoint Calibration(string key, JsonElement e)
    {
        Object(key, e);
        var img = e.TryGetProperty("image", out var iv) ? Floats(key + ".image", iv) : throw Bad(key + ".image", "is missing");
        var fl = e.TryGetProperty("floor", out var fv) ? Floats(key + ".floor", fv) : throw Bad(key + ".floor", "is missing");
        if (img.Length != 2 || fl.Length != 2) throw Bad(key, "image and floor need [x, y]");
        return new CalibrationPoint(img[0], img[1], fl[0], fl[1]);
    }

    private static JsonDocument Parse(string json, string what)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new EphemeraException($"{what}: invalid JSON: {e.Message}"); }
        if (doc.RootElement.ValueKind != JsonValueKind.Object) { doc.Dispose(); throw new EphemeraException($"{what}: JSON must be an object"); }
        return doc;
    }

    private static List<T> Array<T>(JsonProperty p, Func<string, JsonElement, T> item)
    {
        if (p.Value.ValueKind != JsonValueKind.Array) throw Bad(p.Name, "must be an array");
        return p.Value.EnumerateArray().Select((e, i) => item($"{p.Name}[{i}]", e)).ToList();
    }

    private static void Object(string key, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad(key, "must be an object");
    }

    private static string Req(JsonElement e, string key, string name) =>
        e.TryGetProperty(name, out var v) ? StrOf($"{key}.{name}", v) : throw Bad($"{key}.{name}", "is missing");

    private static float Float(JsonElement e, string key, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : throw Bad($"{key}.{name}", "must be a number");

    private static float[] Floats(string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number)
            ? v.EnumerateArray().Select(x => x.GetSingle()).ToArray()
            : throw Bad(key, "must be an array of numbers");

    private static string Str(JsonProperty p) => StrOf(p.Name, p.Value);
    private static string StrOf(string key, JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(key, "must be a string");
    private static string? StrOrNull(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Null ? null : Str(p);
    private static bool Bool(JsonProperty p) => p.Value.ValueKind switch
    {
        JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Bad(p.Name, "must be true or false"),
    };
    private static double Num(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() : throw Bad(p.Name, "must be a number");
    private static int Int(JsonProperty p) =>
        p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int i) ? i : throw Bad(p.Name, "must be an integer");

    private static EphemeraException Bad(string key, string problem) => new($"{key}: {problem}");
}
