using System.Globalization;
using Ephemera.Core;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ephemera.Config;

/// <summary>
/// Loads and validates an engine config YAML. Walks the YAML node tree itself (rather than
/// reflection-binding) so every error can name the file, line, key path and the problem, and
/// unknown keys are rejected instead of silently ignored.
/// </summary>
public static class ConfigLoader
{
    public static EngineConfig Load(string path)
    {
        if (!File.Exists(path)) throw new EphemeraException($"{path}: config file not found");
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new EphemeraException($"{path}:{e.Start.Line}:{e.Start.Column}: YAML syntax error: {e.InnerException?.Message ?? e.Message}");
        }
        catch (InvalidOperationException) // YamlDotNet's scanner throws this, with no position, on an unclosed flow collection
        {
            int lines = File.ReadAllLines(path).Length;
            throw new EphemeraException($"{path}:{lines}: YAML syntax error: the file ends inside an unclosed '[' or '{{' (a flow list or map opened earlier is never closed)");
        }
        catch (ArgumentException e) // YamlDotNet's parser on some malformed structures (found by the fuzz test)
        {
            throw new EphemeraException($"{path}: YAML syntax error: {e.Message}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new EphemeraException($"{path}: expected a mapping with 'engine' and 'cameras'");

        var ctx = new Ctx(path, Path.GetDirectoryName(Path.GetFullPath(path))!);
        ctx.OnlyKeys(root, "", "engine", "cameras", "server");
        var engine = root.Children.TryGetValue(new YamlScalarNode("engine"), out var e1) ? ParseEngine(ctx, e1, "engine") : new EngineOptions();
        if (!root.Children.TryGetValue(new YamlScalarNode("cameras"), out var camsNode) || camsNode is not YamlSequenceNode cams || cams.Children.Count == 0)
            throw ctx.Error(root, "cameras", "at least one camera is required");

        var cameras = new List<CameraConfig>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < cams.Children.Count; i++)
        {
            var cam = ParseCamera(ctx, cams.Children[i], $"cameras[{i}]");
            if (!ids.Add(cam.Id)) throw ctx.Error(cams.Children[i], $"cameras[{i}].id", $"duplicate camera id '{cam.Id}'");
            cameras.Add(cam);
        }
        var server = root.Children.TryGetValue(new YamlScalarNode("server"), out var s1) ? ParseServer(ctx, s1, "server") : new ServerConfig();
        return new EngineConfig(Path.GetFullPath(path), engine, cameras) { Server = server };
    }

    /// <summary>The optional <c>server:</c> section of <c>ephemera serve</c>: API keys, stored only as sha256 hashes.</summary>
    private static ServerConfig ParseServer(Ctx ctx, YamlNode node, string at)
    {
        var m = ctx.Map(node, at);
        ctx.OnlyKeys(m, at, "keys");
        var keys = new List<ApiKeyConfig>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (item, i) in ctx.Seq(m, at, "keys"))
        {
            string p = $"{at}.keys[{i}]";
            var km = ctx.Map(item, p);
            ctx.OnlyKeys(km, p, "role", "sha256");
            string role = ctx.Str(km, p, "role") ?? throw ctx.Error(km, p + ".role", $"missing: one of {string.Join(", ", ServerConfig.KeyRoles)}");
            if (Array.IndexOf(ServerConfig.KeyRoles, role) < 0)
                throw ctx.Error(km.Children[new YamlScalarNode("role")], p + ".role", $"'{role}' is not one of: {string.Join(", ", ServerConfig.KeyRoles)}");
            string hash = ctx.Str(km, p, "sha256") ?? throw ctx.Error(km, p + ".sha256", "missing: the sha256 of the key as 64 hex digits (the key itself is never stored)");
            if (hash.Length != 64 || !hash.All(Uri.IsHexDigit))
                throw ctx.Error(km.Children[new YamlScalarNode("sha256")], p + ".sha256", $"expected 64 hex digits (sha256 of the key), got {hash.Length} characters");
            hash = hash.ToLowerInvariant();
            if (!seen.Add(hash)) throw ctx.Error(km, p + ".sha256", "the same key is listed twice");
            keys.Add(new ApiKeyConfig(role, hash));
        }
        return new ServerConfig { Keys = keys };
    }

    private static readonly (string Key, string Why)[] s_retiredEngineKeys =
    [
        ("time_bin_seconds", "removed: each camera's manifest decides its time bins (privacy.time_bin); delete this key"),
        ("frames_in_flight_per_camera", "removed: a camera has at most one frame in flight by design (pixel stages have pixel_stage_slots); delete this key"),
    ];

    private static EngineOptions ParseEngine(Ctx ctx, YamlNode node, string at)
    {
        var m = ctx.Map(node, at);
        // Keys that once existed but did nothing: named, so an old config says why instead of "unknown key".
        foreach (var (key, why) in s_retiredEngineKeys)
            if (m.Children.TryGetValue(new YamlScalarNode(key), out var retired))
                throw ctx.Error(retired, $"{at}.{key}", why);
        ctx.OnlyKeys(m, at, "model", "input_size", "input_fit", "precision", "provider", "intra_op_threads", "parallel_runs", "max_batch", "batch_deadline_ms", "score_threshold",
            "detect_fps", "kernels", "store", "audit_key", "audit_witness", "audit_interval_seconds", "metrics_port", "schedule", "decode");
        var o = new EngineOptions();
        return o with
        {
            Model = ctx.Str(m, at, "model") ?? o.Model,
            Provider = ctx.Str(m, at, "provider") ?? o.Provider,
            InputSize = (int)(ctx.Num(m, at, "input_size", 0, 4096) ?? o.InputSize),
            InputFit = ParseInputFit(ctx, m, at) ?? o.InputFit,
            Decode = ParseDecode(ctx, m, at) ?? o.Decode,
            Kernels = ParseKernels(ctx, m, at) ?? o.Kernels,
            Precision = ParsePrecision(ctx, m, at) ?? o.Precision,
            IntraOpThreads = (int)(ctx.Num(m, at, "intra_op_threads", 0, 256) ?? o.IntraOpThreads),
            ParallelRuns = (int)(ctx.Num(m, at, "parallel_runs", 0, 256) ?? o.ParallelRuns),
            MaxBatch = (int)(ctx.Num(m, at, "max_batch", 0, 64) ?? o.MaxBatch),
            BatchDeadlineMs = ctx.Num(m, at, "batch_deadline_ms", 0, 10_000) ?? o.BatchDeadlineMs,
            ScoreThreshold = (float)(ctx.Num(m, at, "score_threshold", 0, 1) ?? o.ScoreThreshold),
            DetectFps = ctx.Num(m, at, "detect_fps", 0.01, 1000) ?? o.DetectFps,
            StorePath = ctx.PathValue(m, at, "store") ?? o.StorePath,
            AuditKeyPath = ctx.PathValue(m, at, "audit_key"),
            AuditWitnessPath = ctx.PathValue(m, at, "audit_witness"),
            AuditIntervalSeconds = ctx.Num(m, at, "audit_interval_seconds", 0.1, 86_400) ?? o.AuditIntervalSeconds,
            MetricsPort = (int)(ctx.Num(m, at, "metrics_port", 0, 65_535) ?? o.MetricsPort),
            Schedule = m.Children.TryGetValue(new YamlScalarNode("schedule"), out var sch) ? ParseSchedule(ctx, sch, at + ".schedule") : o.Schedule,
        };
    }

    private static ScheduleOptions ParseSchedule(Ctx ctx, YamlNode node, string at)
    {
        var m = ctx.Map(node, at);
        ctx.OnlyKeys(m, at, "mode", "floor_fps", "empty_floor_fps", "motion_threshold", "pixel_delta", "guard_band_px");
        var o = new ScheduleOptions();
        var mode = ctx.Str(m, at, "mode") switch
        {
            null => o.Mode,
            "full" => ScheduleMode.Full,
            "by_need" => ScheduleMode.ByNeed,
            var other => throw ctx.Error(m.Children[new YamlScalarNode("mode")], $"{at}.mode", $"'{other}' is not one of: full, by_need"),
        };
        return new ScheduleOptions
        {
            Mode = mode,
            FloorFps = ctx.Num(m, at, "floor_fps", ScheduleOptions.MinFloorFps, ScheduleOptions.MaxFloorFps) ?? o.FloorFps,
            EmptyFloorFps = ctx.Num(m, at, "empty_floor_fps", ScheduleOptions.MinFloorFps, ScheduleOptions.MaxFloorFps) ?? o.EmptyFloorFps,
            MotionThreshold = ctx.Num(m, at, "motion_threshold", 0, ScheduleOptions.MaxMotionThreshold) ?? o.MotionThreshold,
            PixelDelta = (int)(ctx.Num(m, at, "pixel_delta", ScheduleOptions.MinPixelDelta, ScheduleOptions.MaxPixelDelta) ?? o.PixelDelta),
            GuardBandPx = ctx.Num(m, at, "guard_band_px", 0, ScheduleOptions.MaxGuardBandPx) ?? o.GuardBandPx,
        };
    }

    private static InputFit? ParseInputFit(Ctx ctx, YamlMappingNode m, string at) => ctx.Str(m, at, "input_fit") switch
    {
        null => null,
        "auto" => InputFit.Auto,
        "square" => InputFit.Square,
        var other => throw ctx.Error(m.Children[new YamlScalarNode("input_fit")], $"{at}.input_fit", $"'{other}' is not one of: auto, square"),
    };

    private static DecodeQuality? ParseDecode(Ctx ctx, YamlMappingNode m, string at) => ctx.Str(m, at, "decode") switch
    {
        null => null,
        "fast" => DecodeQuality.Fast,
        "exact" => DecodeQuality.Exact,
        var other => throw ctx.Error(m.Children[new YamlScalarNode("decode")], $"{at}.decode", $"'{other}' is not one of: fast, exact"),
    };

    private static KernelChoice? ParseKernels(Ctx ctx, YamlMappingNode m, string at) => ctx.Str(m, at, "kernels") switch
    {
        null => null,
        "simd" => KernelChoice.Simd,
        "vulkan" => KernelChoice.Vulkan,
        "auto" => KernelChoice.Auto,
        var other => throw ctx.Error(m.Children[new YamlScalarNode("kernels")], $"{at}.kernels", $"'{other}' is not one of: simd, vulkan, auto"),
    };

    private static DetectorPrecision? ParsePrecision(Ctx ctx, YamlMappingNode m, string at) => ctx.Str(m, at, "precision") switch
    {
        null => null,
        "auto" => DetectorPrecision.Auto,
        "fp32" => DetectorPrecision.Fp32,
        "int8" => DetectorPrecision.Int8,
        var other => throw ctx.Error(m.Children[new YamlScalarNode("precision")], $"{at}.precision", $"'{other}' is not one of: auto, fp32, int8"),
    };

    private static CameraConfig ParseCamera(Ctx ctx, YamlNode node, string at)
    {
        var m = ctx.Map(node, at);
        ctx.OnlyKeys(m, at, "id", "source", "manifest", "loop", "paced", "media_time", "detect_fps", "priority", "analytics", "mqtt", "forecast");
        string id = ctx.Str(m, at, "id") ?? throw ctx.Error(m, at + ".id", "missing (every camera needs an id)");
        if (id.Length == 0 || id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw ctx.Error(m, at + ".id", $"'{id}' must be letters, digits, '-', '_' or '.'");
        string source = ctx.Str(m, at, "source") ?? throw ctx.Error(m, at + ".source", "missing (file path, rtsp:// or http(s):// URL)");
        if (!source.Contains("://", StringComparison.Ordinal)) source = ctx.Resolve(source);
        DateTimeOffset? mediaStart = null;
        if (ctx.Str(m, at, "media_time") is { } mt)
        {
            if (source.Contains("://", StringComparison.Ordinal))
                throw ctx.Error(m, at + ".media_time", "only a file source has a media clock (a network camera is live: it keeps the wall clock)");
            if (!DateTimeOffset.TryParse(mt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var start)
                || start.Year is < 2000 or > 2200)
                throw ctx.Error(m, at + ".media_time", $"'{mt}' is not a UTC instant such as 2026-12-01T10:00:00Z (the time of the file's first frame)");
            mediaStart = start.ToUniversalTime();
        }
        return new CameraConfig
        {
            Id = id,
            Source = source,
            Manifest = ctx.PathValue(m, at, "manifest"),
            Loop = ctx.Bool(m, at, "loop") ?? false,
            Paced = ctx.Bool(m, at, "paced") ?? true,
            MediaStart = mediaStart,
            DetectFps = ctx.Num(m, at, "detect_fps", 0, 1000),
            Priority = (int)(ctx.Num(m, at, "priority", 0, 100) ?? 1),
            Analytics = m.Children.TryGetValue(new YamlScalarNode("analytics"), out var a) ? ParseAnalytics(ctx, a, at + ".analytics") : new AnalyticsConfig(),
            Mqtt = m.Children.TryGetValue(new YamlScalarNode("mqtt"), out var q) ? ParseMqtt(ctx, q, at + ".mqtt") : null,
            Forecast = m.Children.TryGetValue(new YamlScalarNode("forecast"), out var f) ? ParseForecast(ctx, f, at + ".forecast") : null,
        };
    }

    private static MqttCameraConfig ParseMqtt(Ctx ctx, YamlNode node, string at)
    {
        var m = ctx.Map(node, at);
        ctx.OnlyKeys(m, at, "broker", "contract", "client_id");
        string broker = ctx.Str(m, at, "broker") ?? throw ctx.Error(m, at + ".broker", "missing: HOST:PORT of the MQTT broker");
        string contract = ctx.Str(m, at, "contract") ?? throw ctx.Error(m, at + ".contract", "missing: the contract_id of the manifest recipient the broker serves (PN7/AC7)");
        return new MqttCameraConfig(broker, contract, ctx.Str(m, at, "client_id"));
    }

    private static ForecastConfig ParseForecast(Ctx ctx, YamlNode node, string at)
    {
        var m = ctx.Map(node, at);
        ctx.OnlyKeys(m, at, "service_rate", "target_wait_minutes", "checkout_share", "max_tills");
        double rate = ctx.Num(m, at, "service_rate", ForecastConfig.MinServiceRate, ForecastConfig.MaxServiceRate) ?? throw ctx.Error(m, at + ".service_rate", "missing: customers one till serves per hour");
        double share = ctx.Num(m, at, "checkout_share", 0, 1) ?? 1;
        if (share <= 0) throw ctx.Error(m, at + ".checkout_share", "must be above 0 (the share of visitors who go to a till)");
        return new ForecastConfig(rate, ctx.Num(m, at, "target_wait_minutes", ForecastConfig.MinTargetWaitMinutes, ForecastConfig.MaxTargetWaitMinutes) ?? 2, share, (int)(ctx.Num(m, at, "max_tills", 1, ForecastConfig.MaxTillsLimit) ?? 20));
    }

    private static AnalyticsConfig ParseAnalytics(Ctx ctx, YamlNode node, string at)
    {
        var m = ctx.Map(node, at);
        ctx.OnlyKeys(m, at, "lines", "zones", "calibration", "floor_size", "icon_interval_seconds");
        var lines = new List<LineConfig>();
        foreach (var (item, i) in ctx.Seq(m, at, "lines"))
        {
            string p = $"{at}.lines[{i}]";
            var lm = ctx.Map(item, p);
            ctx.OnlyKeys(lm, p, "name", "points");
            var pts = ctx.Floats(lm, p, "points", 4) ?? throw ctx.Error(lm, p + ".points", "missing: [x1, y1, x2, y2] in image pixels");
            if (pts[0] == pts[2] && pts[1] == pts[3]) throw ctx.Error(lm, p + ".points", "the two end points are the same");
            lines.Add(new LineConfig(ctx.Str(lm, p, "name") ?? $"line{i + 1}", pts[0], pts[1], pts[2], pts[3]));
        }
        var zones = new List<ZoneConfig>();
        foreach (var (item, i) in ctx.Seq(m, at, "zones"))
        {
            string p = $"{at}.zones[{i}]";
            var zm = ctx.Map(item, p);
            ctx.OnlyKeys(zm, p, "name", "polygon", "shelf_front", "floor");
            var flat = ctx.Floats(zm, p, "polygon", -1) ?? throw ctx.Error(zm, p + ".polygon", "missing: [x1, y1, x2, y2, x3, y3, …]");
            if (flat.Length < 6 || flat.Length % 2 != 0) throw ctx.Error(zm, p + ".polygon", $"needs at least 3 points as x,y pairs, got {flat.Length} numbers");
            var poly = new List<(float, float)>();
            for (int k = 0; k < flat.Length; k += 2) poly.Add((flat[k], flat[k + 1]));
            zones.Add(new ZoneConfig(ctx.Str(zm, p, "name") ?? $"zone{i + 1}", poly, ctx.Bool(zm, p, "shelf_front") ?? false, ctx.Bool(zm, p, "floor") ?? false));
        }
        var cal = new List<CalibrationPoint>();
        foreach (var (item, i) in ctx.Seq(m, at, "calibration"))
        {
            string p = $"{at}.calibration[{i}]";
            var cm = ctx.Map(item, p);
            ctx.OnlyKeys(cm, p, "image", "floor");
            var img = ctx.Floats(cm, p, "image", 2) ?? throw ctx.Error(cm, p + ".image", "missing: [x, y] in image pixels");
            var flr = ctx.Floats(cm, p, "floor", 2) ?? throw ctx.Error(cm, p + ".floor", "missing: [X, Y] in metres");
            cal.Add(new CalibrationPoint(img[0], img[1], flr[0], flr[1]));
        }
        if (cal.Count is > 0 and < 4) throw ctx.Error(m, at + ".calibration", $"needs at least 4 point pairs, got {cal.Count}");
        var floor = ctx.Floats(m, at, "floor_size", 2);
        if (floor != null && (floor[0] <= 0 || floor[1] <= 0)) throw ctx.Error(m, at + ".floor_size", "width and depth must be positive metres");
        return new AnalyticsConfig
        {
            Lines = lines, Zones = zones, Calibration = cal,
            FloorSize = floor?.Select(f => (double)f).ToArray(),
            IconIntervalSeconds = ctx.Num(m, at, "icon_interval_seconds", 0.1, 86_400) ?? 5,
        };
    }

    /// <summary>Parsing context: the file for messages and the directory relative paths hang off.</summary>
    private sealed record Ctx(string File, string Dir)
    {
        public EphemeraException Error(YamlNode node, string key, string problem) =>
            new($"{File}:{node.Start.Line}: {key}: {problem}");

        public string Resolve(string p) => Path.IsPathRooted(p) ? p : Path.GetFullPath(Path.Combine(Dir, p));

        public YamlMappingNode Map(YamlNode node, string at) =>
            node as YamlMappingNode ?? throw Error(node, at, "expected a mapping (key: value lines)");

        public void OnlyKeys(YamlMappingNode m, string at, params string[] allowed)
        {
            foreach (var k in m.Children.Keys)
            {
                var name = (k as YamlScalarNode)?.Value ?? "?";
                if (Array.IndexOf(allowed, name) < 0)
                    throw Error(k, at.Length == 0 ? name : $"{at}.{name}", $"unknown key; allowed here: {string.Join(", ", allowed)}");
            }
        }

        private YamlScalarNode? Scalar(YamlMappingNode m, string at, string key)
        {
            if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v)) return null;
            return v as YamlScalarNode ?? throw Error(v, $"{at}.{key}", "expected a single value");
        }

        public string? Str(YamlMappingNode m, string at, string key) => Scalar(m, at, key)?.Value;

        public string? PathValue(YamlMappingNode m, string at, string key) => Str(m, at, key) is { Length: > 0 } s ? Resolve(s) : null;

        public double? Num(YamlMappingNode m, string at, string key, double min, double max)
        {
            var s = Scalar(m, at, key);
            if (s == null) return null;
            if (!double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                throw Error(s, $"{at}.{key}", $"'{s.Value}' is not a number");
            if (v < min || v > max) throw Error(s, $"{at}.{key}", $"{v} is outside [{min}, {max}]");
            return v;
        }

        public bool? Bool(YamlMappingNode m, string at, string key)
        {
            var s = Scalar(m, at, key);
            if (s == null) return null;
            return s.Value switch
            {
                "true" or "yes" or "on" => true,
                "false" or "no" or "off" => false,
                _ => throw Error(s, $"{at}.{key}", $"'{s.Value}' is not true/false"),
            };
        }

        public IEnumerable<(YamlNode Item, int Index)> Seq(YamlMappingNode m, string at, string key)
        {
            if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v)) return Array.Empty<(YamlNode, int)>();
            var seq = v as YamlSequenceNode ?? throw Error(v, $"{at}.{key}", "expected a list");
            return seq.Children.Select((n, i) => (n, i));
        }

        /// <summary>A flow list of numbers, e.g. [1, 2, 3, 4]; count -1 = any length.</summary>
        public float[]? Floats(YamlMappingNode m, string at, string key, int count)
        {
            if (!m.Children.TryGetValue(new YamlScalarNode(key), out var v)) return null;
            var seq = v as YamlSequenceNode ?? throw Error(v, $"{at}.{key}", "expected a list of numbers");
            var r = new float[seq.Children.Count];
            for (int i = 0; i < r.Length; i++)
            {
                if (seq.Children[i] is not YamlScalarNode s || !float.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]))
                    throw Error(seq.Children[i], $"{at}.{key}[{i}]", "not a number");
            }
            if (count >= 0 && r.Length != count) throw Error(v, $"{at}.{key}", $"expected {count} numbers, got {r.Length}");
            return r;
        }
    }
}
