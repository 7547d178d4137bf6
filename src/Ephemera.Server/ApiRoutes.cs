using System.Collections.Concurrent;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Decode;
using Ephemera.Analytics.Forecast;
using Ephemera.Runtime.Forecast;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace Ephemera.Server;

/// <summary>The body of POST /api/cameras: a camera and its manifest (a path on the server, or the YAML text).</summary>
public sealed record AddCameraRequest(string? Id, string? Source, string? Manifest, string? ManifestYaml, bool? Loop, bool? Paced,
    double? DetectFps, int? Priority, IReadOnlyList<LineRequest>? Lines);

/// <summary>A counting line: name and [x1, y1, x2, y2] in image pixels.</summary>
public sealed record LineRequest(string? Name, float[]? Points);

internal static class ApiRoutes
{
    private static RouteHandlerBuilder Needs(this RouteHandlerBuilder b, ApiRole role) => b.WithMetadata(new RequiresRole(role));

    public static void Map(WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Json(new { status = "ok" })).Needs(ApiRole.Public);
        app.MapGet("/readyz", (ServedEngine engine) =>
        {
            var s = engine;
            return s.Running && s.StoreHealthy
                ? Results.Json(new { status = "ready" })
                : Problems.Make(503, "Not ready", s.Running ? $"the store cannot write: {s.StoreError}" : "the engine is not running");
        }).Needs(ApiRole.Public);

        app.MapGet("/metrics", async (ServedEngine engine) =>
            Results.Text(await engine.ScrapeMetricsAsync(), "text/plain; version=0.0.4; charset=utf-8")).Needs(ApiRole.Operator);

        app.MapGet("/api/cameras", (ServedEngine engine, ConcurrentDictionary<string, KnownCamera> cameras) => Results.Json(CamerasView(engine, cameras))).Needs(ApiRole.Viewer);
        app.MapPost("/api/cameras", AddCamera).Needs(ApiRole.Admin);
        app.MapDelete("/api/cameras/{id}", async (string id, ServedEngine engine, ConcurrentDictionary<string, KnownCamera> cameras) =>
        {
            if (!await engine.RemoveCameraAsync(id)) return Problems.NotFound("id", $"no camera '{id}' is running");
            return Results.Json(new { id, removed = true });
        }).Needs(ApiRole.Admin);

        app.MapGet("/api/cameras/{id}/icon", (string id, HttpContext ctx, ServedEngine engine) =>
        {
            var role = ApiRoles.StoreRoleFor(ctx.Role(), DataClass.IconImage);
            if (role is null) return Problems.Make(403, "Forbidden", "no role of this key may read IconImage", "id");
            try
            {
                var item = engine.Query(role.Value).ReadLatest(id, DataClass.IconImage);
                return item is null ? Problems.NotFound("id", $"camera '{id}' has no crowd icon image (yet)") : Results.File(item.Blob, item.MediaType, lastModified: item.WrittenAt); // when it was re-rendered, for the dashboard
            }
            catch (AccessDeniedException e) { return Problems.Make(403, "Forbidden", e.Message, "id"); }
        }).Needs(ApiRole.Viewer);

        app.MapGet("/api/cameras/{id}/heatmap.png", (string id, HttpContext ctx, ServedEngine engine, ConcurrentDictionary<string, KnownCamera> cameras) =>
        {
            // The latest released bin's map, as the gate drew it (cells below k distinct visits are background).
            if (!cameras.ContainsKey(id)) return Problems.NotFound("id", $"no camera '{id}' is known to this server");
            var role = ApiRoles.StoreRoleFor(ctx.Role(), DataClass.HeatMap);
            if (role is null) return Problems.Make(403, "Forbidden", "no role of this key may read HeatMap", "id");
            try
            {
                var row = engine.Query(role.Value).ReadNewest(id, DataClass.HeatMap);
                return row?.Blob is null ? Problems.NotFound("id", $"camera '{id}' has no released heat map (yet): its manifest must declare HeatMap and a time bin must have closed")
                    : Results.File(row.Blob, row.MediaType ?? "image/png", lastModified: row.BinStart + row.BinLength);
            }
            catch (AccessDeniedException e) { return Problems.Make(403, "Forbidden", e.Message, "id"); }
        }).Needs(ApiRole.Viewer);

        app.MapGet("/api/cameras/{id}/forecast", Forecast).Needs(ApiRole.Viewer);

        app.MapGet("/api/records", ReadRecords).Needs(ApiRole.Viewer);
        app.MapGet("/api/export", Export).Needs(ApiRole.Analyst);
        app.MapGet("/api/events", Events).Needs(ApiRole.Viewer);
        app.MapGet("/api/ledger/stream", LedgerStream).Needs(ApiRole.Viewer);

        app.MapGet("/api/audit/verify", (ServedEngine engine) =>
        {
            var r = engine.VerifyAudit();
            return Results.Json(new { intact = r.Intact, records = r.Records, first_bad_seq = r.FirstBadSeq, checkpoints = r.CheckpointsChecked, signatures_checked = r.SignaturesChecked, message = r.Message });
        }).Needs(ApiRole.Operator);
        app.MapGet("/api/audit/{camera}", AuditOf).Needs(ApiRole.Operator);
        app.MapGet("/api/inquiries", (ServedEngine engine) => Results.Json(engine.InquiryCounts()
            .Select(kv => new { camera = kv.Key.CameraId, category = kv.Key.Category, count = kv.Value })
            .OrderBy(x => x.camera, StringComparer.Ordinal).ThenBy(x => x.category, StringComparer.Ordinal))).Needs(ApiRole.Operator);
    }

    private static object CamerasView(ServedEngine s, ConcurrentDictionary<string, KnownCamera> known)
    {
        double secs = Math.Max(1e-3, s.Uptime.TotalSeconds);
        var l = ServedEngine.Ledger();
        return new
        {
            running = s.Running, uptime_seconds = Math.Round(s.Uptime.TotalSeconds, 1),
            records_published = s.RecordsPublished, reader_drops = s.ReaderDrops, store_healthy = s.StoreHealthy, store_error = s.StoreError,
            cameras = s.Cameras.Select(c => new
            {
                id = c.Id, state = c.State.ToString().ToLowerInvariant(), error = c.Error,
                // What leaves the engine for this camera (its manifest's classes that are not memory-only), so a client asks only for those.
                outputs = c.Manifest?.Outputs.Where(o => o.Storage != StorageKind.Memory).Select(o => o.Class.ToString()).ToList() ?? [],
                // A case-1 camera whose config sizes the tills: /api/cameras/{id}/forecast answers without query parameters.
                forecast = known.TryGetValue(c.Id, out var k) && k.Manifest?.Kind == PurposeKind.Case1 && k.Forecast != null,
                rates = new { decoded_fps = Math.Round(c.FramesDecoded / secs, 2), detections_per_second = Math.Round(c.DetectionsDone / secs, 3), recent_detect_rate = Math.Round(c.RecentDetectRate, 3) },
                lateness = new { late_frames = c.LateFrames, max_lateness_ms = Math.Round(c.MaxLatenessMs, 1) },
                latency_ms = new { p50 = Math.Round(c.Latency.Quantile(0.5), 2), p99 = Math.Round(c.Latency.Quantile(0.99), 2) },
                ledger = new
                {
                    frames_decoded = c.FramesDecoded, frames_destroyed = c.FramesDestroyed, frames_not_decoded = c.FramesNotDecoded,
                    frames_dropped = c.FramesDroppedForPool, detections = c.DetectionsDone, detections_skipped = c.DetectionsSkipped,
                    pixel_stage_processed = c.PixelStageProcessed, pixel_stage_skipped = c.PixelStageSkipped,
                },
            }).ToList(),
            pixels = PixelsView(l),
        };
    }

    /// <summary>The pixel ledger as the API shows it (in /api/cameras and each /api/ledger/stream event).</summary>
    private static object PixelsView(LedgerSnapshot l) => new
    {
        allocated = l.Allocated, wiped = l.Wiped, in_use = l.InUse, leaked = l.Leaked, lifetime_max_ms = Math.Round(l.LifetimeMaxMs, 3),
        engine_held_ms = new { p50 = Math.Round(l.EngineHeldP50Ms, 3), p99 = Math.Round(l.EngineHeldP99Ms, 3), max = Math.Round(l.EngineHeldMaxMs, 3) },
        decoder_held_ms = new { p50 = Math.Round(l.DecoderHeldP50Ms, 3), p99 = Math.Round(l.DecoderHeldP99Ms, 3), max = Math.Round(l.DecoderHeldMaxMs, 3) },
    };

    /// <summary>
    /// The pixel ledger and the engine's totals as Server-Sent Events, one "ledger" event a second
    /// (and at once), so the dashboard shows allocated = wiped live without polling.
    /// </summary>
    private static IResult LedgerStream(HttpContext ctx, ServedEngine engine, IHostApplicationLifetime life)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, life.ApplicationStopping);
        ctx.Response.RegisterForDispose(cts);
        return TypedResults.ServerSentEvents(Ticks(engine, cts.Token));

        static async IAsyncEnumerable<SseItem<string>> Ticks(ServedEngine engine, [EnumeratorCancellation] CancellationToken ct)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            while (true)
            {
                string json = JsonSerializer.Serialize(new
                {
                    at = DateTimeOffset.UtcNow, pixels = PixelsView(ServedEngine.Ledger()), records_published = engine.RecordsPublished,
                    reader_drops = engine.ReaderDrops, running = engine.Running,
                }, s_json);
                yield return new SseItem<string>(json, "ledger");
                bool more;
                try { more = await timer.WaitForNextTickAsync(ct); }
                catch (OperationCanceledException) { yield break; }
                if (!more) yield break;
            }
        }
    }

    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static async Task<IResult> AddCamera(AddCameraRequest? body, ServedEngine engine, ConcurrentDictionary<string, KnownCamera> cameras)
    {
        if (body is null) return Problems.BadParameter("body", "a JSON object with id, source and manifest (or manifest_yaml) is required");
        if (string.IsNullOrEmpty(body.Id)) return Problems.BadParameter("id", "missing");
        if (string.IsNullOrEmpty(body.Source)) return Problems.BadParameter("source", "missing (file path, rtsp:// or http(s):// URL)");
        if ((body.Manifest is null) == (body.ManifestYaml is null)) return Problems.BadParameter("manifest", "give exactly one of manifest (a path on the server) or manifest_yaml (the text)");
        if (body.Id.Any(ch => !(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.')) || body.Id.Length > 64)
            return Problems.BadParameter("id", $"'{body.Id}' must be up to 64 letters, digits, '-', '_' or '.'");
        if (body.DetectFps is { } fps && !(fps >= 0.01 && fps <= 120)) return Problems.BadParameter("detect_fps", $"{fps} is outside 0.01..120");
        if (body.Priority is { } pr && pr is < 1 or > 100) return Problems.BadParameter("priority", $"{pr} is outside 1..100");
        var lines = new List<LineConfig>();
        foreach (var (l, i) in (body.Lines ?? []).Select((l, i) => (l, i)))
        {
            if (l.Points is not { Length: 4 } p || p.Any(v => !float.IsFinite(v))) return Problems.BadParameter($"lines[{i}].points", "expected [x1, y1, x2, y2]");
            if (p[0] == p[2] && p[1] == p[3]) return Problems.BadParameter($"lines[{i}].points", "the two end points are the same");
            lines.Add(new LineConfig(l.Name ?? $"line{i + 1}", p[0], p[1], p[2], p[3]));
        }
        var spec = new CameraConfig
        {
            Id = body.Id, Source = body.Source, Manifest = body.Manifest, Loop = body.Loop ?? false, Paced = body.Paced ?? true,
            DetectFps = body.DetectFps, Priority = body.Priority ?? 1, Analytics = new AnalyticsConfig { Lines = lines },
        };
        CameraManifest? manifest = null; string? error = null;
        if (body.Manifest is { } path) (manifest, error) = EphemeraServer.LoadManifest(body.Id, path);
        else
        {
            try { manifest = ManifestLoader.Parse(body.ManifestYaml!, $"{body.Id} (manifest_yaml)"); }
            catch (EphemeraException e) { error = e.Message; }
        }
        if (manifest is null)
            return Problems.Make(422, "Camera refused", $"BP-a: {error}", body.Manifest != null ? "manifest" : "manifest_yaml",
                new() { ["requirement_id"] = "BP-a", ["camera"] = body.Id });
        var r = await engine.AddCameraAsync(spec, manifest);
        if (!r.Admitted)
        {
            return r.RequirementId is null
                ? Problems.Make(409, "Camera refused", r.Reason ?? "refused", "id")
                : Problems.Make(422, "Camera refused", r.Reason ?? "refused", body.Manifest != null ? "manifest" : "manifest_yaml", new() { ["requirement_id"] = r.RequirementId, ["camera"] = r.CameraId });
        }
        cameras[body.Id] = new KnownCamera(body.Id, manifest, error);
        return Results.Json(new { id = body.Id, added = true }, statusCode: 201);
    }

    /// <summary>A data class as written in a query: its name (Count) or snake case (crowd_level), any case.</summary>
    internal static bool TryParseClass(string s, out DataClass cls)
    {
        cls = default;
        string flat = s.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        // Letters only: Enum.TryParse would also take digits and "A,B" (a flags union that lands on another class).
        if (flat.Length == 0 || !flat.All(char.IsAsciiLetter)) return false;
        return Enum.TryParse(flat, ignoreCase: true, out cls) && Enum.IsDefined(cls);
    }

    private static bool TryParseTime(string? s, DateTimeOffset fallback, out DateTimeOffset t)
    {
        if (string.IsNullOrEmpty(s)) { t = fallback; return true; }
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out t);
    }

    private static IResult ReadRecords(HttpContext ctx, ServedEngine engine, ConcurrentDictionary<string, KnownCamera> cameras,
        [FromQuery(Name = "class")] string? cls, string? camera, string? from, string? to, string? limit)
    {
        if (!TryParseClass(cls ?? "Count", out var dataClass))
            return Problems.BadParameter("class", $"'{cls}' is not a data class ({string.Join(", ", Enum.GetNames<DataClass>())})");
        if (!TryParseTime(from, DateTimeOffset.UnixEpoch, out var f)) return Problems.BadParameter("from", $"'{from}' is not an ISO 8601 time");
        if (!TryParseTime(to, DateTimeOffset.UtcNow.AddDays(1), out var t)) return Problems.BadParameter("to", $"'{to}' is not an ISO 8601 time");
        if (t <= f) return Problems.BadParameter("to", "must be after from");
        int max = 1000;
        if (limit != null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out max) || max is < 1 or > 10_000))
            return Problems.BadParameter("limit", $"'{limit}' is not a whole number in 1..10000");
        if (camera != null && !cameras.ContainsKey(camera)) return Problems.NotFound("camera", $"no camera '{camera}' is known to this server");
        var role = ApiRoles.StoreRoleFor(ctx.Role(), dataClass);
        if (role is null)
            return Problems.Make(403, "Forbidden", PurposeCatalog.IsMemoryOnly(dataClass)
                ? $"{dataClass} is never stored: no role can read pixels, features or per-person tracks"
                : $"role {ctx.Role().Name()} may not read {dataClass}", "class");
        try
        {
            var q = engine.Query(role.Value);
            var rows = (camera is null ? cameras.Keys.Order(StringComparer.Ordinal).ToArray() : [camera])
                .SelectMany(c => q.Read(c, dataClass, f, t)).Take(max + 1).ToList();
            return Results.Json(new
            {
                @class = dataClass.ToString(), camera, from = f, to = t, truncated = rows.Count > max,
                rows = rows.Take(max).Select(r => new
                {
                    camera = r.CameraId, @class = r.Class.ToString(), bin_start = r.BinStart, bin_seconds = r.BinLength.TotalSeconds,
                    payload = JsonDocument.Parse(r.PayloadJson).RootElement, media_type = r.MediaType, has_blob = r.Blob != null,
                }),
            });
        }
        catch (AccessDeniedException e) { return Problems.Make(403, "Forbidden", e.Message, "class"); }
    }

    /// <summary>
    /// Case 1's checkout-queue forecast from the camera's released AttributeAggregate totals (the same
    /// computation as <c>ephemera forecast</c>): expected arrivals per coming hour and the tills an M/M/c
    /// queue needs to meet the target wait. The queue settings default to the camera's <c>forecast:</c> config.
    /// </summary>
    private static IResult Forecast(string id, HttpContext ctx, ServedEngine engine, ConcurrentDictionary<string, KnownCamera> cameras,
        string? hours, string? service_rate, string? target_wait_minutes, string? checkout_share, string? max_tills, string? from)
    {
        if (!cameras.TryGetValue(id, out var known)) return Problems.NotFound("id", $"no camera '{id}' is known to this server");
        if (known.Manifest?.Kind != PurposeKind.Case1)
            return Problems.Make(409, "Not a case-1 camera", $"camera '{id}' is {(known.Manifest is null ? "without a manifest" : known.Manifest.Kind.ToString())}: the checkout forecast needs a case-1 camera's visitor totals", "id");
        var cfg = known.Forecast;
        int h = 8;
        if (hours != null && (!int.TryParse(hours, NumberStyles.None, CultureInfo.InvariantCulture, out h) || h is < 1 or > StoredCheckoutForecast.MaxHours))
            return Problems.BadParameter("hours", $"'{hours}' is not a whole number in 1..{StoredCheckoutForecast.MaxHours}");
        if (!TryNumber(service_rate, cfg?.ServiceRatePerHour, ForecastConfig.MinServiceRate, ForecastConfig.MaxServiceRate, out double rate))
            return Problems.BadParameter("service_rate", service_rate is null
                ? "missing: customers one till serves per hour (or a forecast.service_rate in the camera's config)"
                : string.Create(CultureInfo.InvariantCulture, $"'{service_rate}' is not a number in {ForecastConfig.MinServiceRate}..{ForecastConfig.MaxServiceRate} (customers per till per hour)"));
        if (!TryNumber(target_wait_minutes, cfg?.TargetWaitMinutes ?? 2, ForecastConfig.MinTargetWaitMinutes, ForecastConfig.MaxTargetWaitMinutes, out double wait))
            return Problems.BadParameter("target_wait_minutes", string.Create(CultureInfo.InvariantCulture, $"'{target_wait_minutes}' is not a number in {ForecastConfig.MinTargetWaitMinutes}..{ForecastConfig.MaxTargetWaitMinutes}"));
        if (!TryNumber(checkout_share, cfg?.CheckoutShare ?? 1, 1e-6, 1, out double share))
            return Problems.BadParameter("checkout_share", $"'{checkout_share}' is not a share in (0, 1]");
        int tills = cfg?.MaxTills ?? 20;
        if (max_tills != null && (!int.TryParse(max_tills, NumberStyles.None, CultureInfo.InvariantCulture, out tills) || tills is < 1 or > ForecastConfig.MaxTillsLimit))
            return Problems.BadParameter("max_tills", $"'{max_tills}' is not a whole number in 1..{ForecastConfig.MaxTillsLimit}");
        // The first hour: the next full hour in the server's local time, or 'from' (its offset is the store's local time for weekday×hour).
        var start = DateTimeOffset.Now.AddHours(1);
        if (from != null && (!DateTimeOffset.TryParse(from, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out start) || start.Year is < 2000 or > 9000))
            return Problems.BadParameter("from", $"'{from}' is not an ISO 8601 time (2000..9000)");
        var role = ApiRoles.StoreRoleFor(ctx.Role(), DataClass.AttributeAggregate);
        if (role is null) return Problems.Make(403, "Forbidden", "no role of this key may read AttributeAggregate", "id");
        try
        {
            var queue = new CheckoutQueueOptions(rate, share, TimeSpan.FromMinutes(wait), tills);
            var f = StoredCheckoutForecast.Compute(engine.Query(role.Value), id, start, h, queue);
            return f.NoHistory
                ? Problems.NotFound("id", $"camera '{id}' has no released AttributeAggregate totals before {start:o} (yet)")
                : Results.Json(f.ToView());
        }
        catch (AccessDeniedException e) { return Problems.Make(403, "Forbidden", e.Message, "id"); }
    }

    private static bool TryNumber(string? s, double? fallback, double min, double max, out double v)
    {
        if (s is null) { v = fallback ?? double.NaN; return fallback.HasValue; }
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && v >= min && v <= max;
    }

    /// <summary>
    /// M3: rows of one class exported under a contract of the camera's manifest, as the store's export
    /// officer: the contract must cover the class and the purpose, the rows' bins must be no finer than
    /// its floor, payloads keep only its fields, and each export is written to the audit chain.
    /// </summary>
    private static IResult Export(ServedEngine engine, ConcurrentDictionary<string, KnownCamera> cameras,
        string? camera, string? contract, [FromQuery(Name = "class")] string? cls, string? purpose, string? from, string? to)
    {
        if (string.IsNullOrEmpty(camera)) return Problems.BadParameter("camera", "missing");
        if (!cameras.ContainsKey(camera)) return Problems.NotFound("camera", $"no camera '{camera}' is known to this server");
        if (string.IsNullOrEmpty(contract)) return Problems.BadParameter("contract", "missing: the contract id from the camera's manifest (recipients[].contract_id)");
        if (!TryParseClass(cls ?? "Count", out var dataClass)) return Problems.BadParameter("class", $"'{cls}' is not a data class");
        if (string.IsNullOrEmpty(purpose)) return Problems.BadParameter("purpose", "missing: one of the contract's purposes (ja or en)");
        if (!TryParseTime(from, DateTimeOffset.UnixEpoch, out var f)) return Problems.BadParameter("from", $"'{from}' is not an ISO 8601 time");
        if (!TryParseTime(to, DateTimeOffset.UtcNow.AddDays(1), out var t)) return Problems.BadParameter("to", $"'{to}' is not an ISO 8601 time");
        if (t <= f) return Problems.BadParameter("to", "must be after from");
        try
        {
            var r = engine.Query(Role.ExportOfficer).Export(camera, contract, dataClass, f, t, purpose);
            return Results.Json(new
            {
                camera, contract = r.Contract.ContractId, recipient = r.Contract.Recipient.En, @class = r.Class.ToString(), audit_seq = r.AuditSeq,
                fields = r.Contract.Fields,
                rows = r.Rows.Select(x => new { bin_start = x.BinStart, bin_seconds = x.BinLength.TotalSeconds, payload = JsonDocument.Parse(x.PayloadJson).RootElement }),
            });
        }
        catch (AccessDeniedException e)
        {
            // The contract's own refusal (M3/H1), naming what it does not cover.
            string parameter = e.Message.Contains("purpose", StringComparison.Ordinal) ? "purpose"
                : e.Message.Contains(" cover ", StringComparison.Ordinal) || e.Message.StartsWith("H1", StringComparison.Ordinal) ? "class"
                : e.Message.Contains("finer than", StringComparison.Ordinal) ? "from" : "contract";
            return Problems.Make(403, "Export refused", e.Message, parameter, new() { ["requirement_id"] = e.Message.Split(':')[0] });
        }
    }

    private static IResult Events(HttpContext ctx, ServedEngine engine, IHostApplicationLifetime life, ConcurrentDictionary<string, KnownCamera> cameras,
        [FromQuery(Name = "class")] string? cls, string? camera)
    {
        if (camera != null && !cameras.ContainsKey(camera)) return Problems.NotFound("camera", $"no camera '{camera}' is known to this server");
        DataClass? only = null;
        if (cls != null)
        {
            if (!TryParseClass(cls, out var c)) return Problems.BadParameter("class", $"'{cls}' is not a data class");
            only = c;
        }
        Func<Governance.Records.DerivedRecord, bool>? filter = cls is null && camera is null ? null
            : r => (only is null || r.Class == only) && (camera is null || r.CameraId == camera);
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, life.ApplicationStopping);
        ctx.Response.RegisterForDispose(cts);
        // Subscribed now, so records published from this request on are not missed.
        var records = engine.ReadAsync(filter, cts.Token);
        return TypedResults.ServerSentEvents(Json(records, cts.Token));

        static async IAsyncEnumerable<string> Json(IAsyncEnumerable<Governance.Records.DerivedRecord> records, [EnumeratorCancellation] CancellationToken ct)
        {
            var e = records.GetAsyncEnumerator(ct);
            try
            {
                while (true)
                {
                    bool more;
                    try { more = await e.MoveNextAsync(); }
                    catch (OperationCanceledException) { yield break; }
                    if (!more) yield break;
                    yield return e.Current.ToJson();
                }
            }
            finally { await e.DisposeAsync(); }
        }
    }

    private static IResult AuditOf(string camera, ServedEngine engine, ConcurrentDictionary<string, KnownCamera> cameras, string? from_seq, string? max)
    {
        long from = 1; int n = 1000;
        if (from_seq != null && (!long.TryParse(from_seq, NumberStyles.None, CultureInfo.InvariantCulture, out from) || from < 1))
            return Problems.BadParameter("from_seq", $"'{from_seq}' is not a sequence number ≥ 1");
        if (max != null && (!int.TryParse(max, NumberStyles.None, CultureInfo.InvariantCulture, out n) || n is < 1 or > 10_000))
            return Problems.BadParameter("max", $"'{max}' is not a whole number in 1..10000");
        if (!cameras.ContainsKey(camera)) return Problems.NotFound("camera", $"no camera '{camera}' is known to this server");
        var entries = engine.Query(Role.Operator).ReadAudit(from, n).Where(e => e.CameraId == camera).ToList();
        return Results.Json(new
        {
            camera,
            records = entries.Select(e => new
            {
                seq = e.Seq, at = e.At, kind = e.Kind, camera = e.CameraId, body = JsonDocument.Parse(e.BodyJson).RootElement, prev_hash = e.PrevHash, hash = e.Hash,
            }),
        });
    }
}
