using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;

namespace Ephemera.Server;

/// <summary>How <see cref="EphemeraServer"/> listens and limits.</summary>
public sealed record ServerOptions
{
    /// <summary>Kestrel URLs (';'-separated); port 0 picks a free port (see <see cref="EphemeraServer.Addresses"/>).</summary>
    public string Urls { get; init; } = "http://127.0.0.1:8080";
    /// <summary>Where the engine's messages go (null = nowhere).</summary>
    public ILoggerFactory? Loggers { get; init; }
    /// <summary>Inquiries one client address may post per minute (fixed window).</summary>
    public int InquiryPermitsPerMinute { get; init; } = 10;
    /// <summary>Requests to the other public routes (notices, sign) one client address may make per minute.</summary>
    public int PublicPermitsPerMinute { get; init; } = 600;
    /// <summary>
    /// A key for this run only, with the operator role, held (hashed) beside the config's keys: how
    /// <c>serve</c> opens the dashboard when the config names no keys. Null = none.
    /// </summary>
    public string? SessionKey { get; init; }
}

/// <summary>A camera the server knows: the one it runs (from the config or POST /api/cameras), its manifest for the notices and its forecast settings.</summary>
internal sealed record KnownCamera(string Id, CameraManifest? Manifest, string? ManifestError, ForecastConfig? Forecast = null);

/// <summary>
/// <c>ephemera serve</c>: an ASP.NET Core host of one <see cref="EphemeraEngine"/> (not a second engine).
/// It adds the config's cameras through the engine's front door (<see cref="EphemeraEngine.AddCameraAsync"/>,
/// each under <see cref="ManifestSource"/> of its manifest), starts it, and serves the JSON API, the
/// SSE stream of released records, metrics and the public notice pages. Reads of the store go through
/// <see cref="EphemeraEngine.Query"/>, so the store's role checks and its k-suppressed tables apply.
/// </summary>
public sealed class EphemeraServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _stopped;

    private EphemeraServer(WebApplication app, ServedEngine engine, IReadOnlyList<CameraAdmission> admissions)
    {
        _app = app; Engine = engine; Admissions = admissions;
    }

    /// <summary>The engine the server hosts.</summary>
    public ServedEngine Engine { get; }
    /// <summary>The answer of the engine for each config camera, in config order.</summary>
    public IReadOnlyList<CameraAdmission> Admissions { get; }
    /// <summary>The addresses Kestrel listens on (the real port when 0 was asked for).</summary>
    public IReadOnlyList<string> Addresses =>
        _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    /// <summary>Builds the engine from the config, adds its cameras, starts the engine, then the web server.</summary>
    public static async Task<EphemeraServer> StartAsync(EngineConfig config, ServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new ServerOptions();
        var keys = KeysFor(config, options);
        var engine = new ServedEngine(config, options.Loggers);
        var cameras = new ConcurrentDictionary<string, KnownCamera>(StringComparer.Ordinal);
        var admissions = new List<CameraAdmission>();
        try
        {
            foreach (var cam in config.Cameras)
            {
                var (manifest, error) = LoadManifest(cam.Id, cam.Manifest);
                cameras[cam.Id] = new KnownCamera(cam.Id, manifest, error, cam.Forecast);
                // A manifest that did not load is left to the engine, which refuses the camera naming the file and rule.
                admissions.Add(await engine.AddCameraAsync(cam, manifest).ConfigureAwait(false));
            }
            await engine.StartAsync().ConfigureAwait(false);
            var app = Build(config, options, engine, keys, cameras);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new EphemeraServer(app, engine, admissions);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>The config's keys, and the run's session key as an operator key when one is given.</summary>
    internal static ApiKeyStore KeysFor(EngineConfig config, ServerOptions options) =>
        new(options.SessionKey is { } session
            ? [.. config.Server.Keys, new ApiKeyConfig(ApiRole.Operator.Name(), ApiKeyStore.Hash(session))]
            : config.Server.Keys);

    /// <summary>The manifest for the notice pages (and for the engine, so it is read once); null with the reason when it does not load.</summary>
    internal static (CameraManifest? Manifest, string? Error) LoadManifest(string cameraId, string? path)
    {
        if (string.IsNullOrEmpty(path)) return (null, $"camera {cameraId} has no manifest");
        try { return (ManifestLoader.Load(path), null); }
        catch (EphemeraException e) { return (null, e.Message); }
    }

    private static WebApplication Build(EngineConfig config, ServerOptions options, ServedEngine engine, ApiKeyStore keys, ConcurrentDictionary<string, KnownCamera> cameras)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(options.Urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = Problems.MaxBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            k.Limits.MaxRequestLineSize = 8 * 1024;
        });
        builder.Services.Configure<FormOptions>(f => { f.ValueCountLimit = 16; f.KeyLengthLimit = 64; f.ValueLengthLimit = 32 * 1024; f.MultipartBodyLengthLimit = 64 * 1024; });
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(cameras);
        builder.Services.AddSingleton(config);
        // A body or parameter the binder cannot read is thrown to the exception handler (not answered with a bare 400),
        // so every refusal is RFC 9457 problem details naming what was wrong.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.Customize);
        builder.Services.ConfigureHttpJsonOptions(j =>
        {
            j.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            j.SerializerOptions.DictionaryKeyPolicy = null;
        });
        builder.Services.AddRateLimiter(r =>
        {
            r.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            r.OnRejected = async (ctx, _) =>
            {
                ctx.HttpContext.Response.Headers.RetryAfter = "60";
                await Problems.Make(429, "Too many requests", "this address sent too many requests to a public route; try again in a minute").ExecuteAsync(ctx.HttpContext);
            };
            r.AddPolicy("inquiry", http => RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "-",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.InquiryPermitsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            r.AddPolicy("public", http => RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "-",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.PublicPermitsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        });
        builder.Services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer((doc, _, _) =>
            {
                doc.Info = new OpenApiInfo { Title = "Ephemera", Version = "1", Description = "The engine's cameras, derived data (through the store's gates), audit and public notices. Send Authorization: Bearer KEY; roles public < viewer < analyst < operator < admin." };
                return Task.CompletedTask;
            });
            // Each operation names the least role it needs (x-ephemera-role), so a client, and the route-walk test, can read it.
            o.AddOperationTransformer((op, ctx, _) =>
            {
                var role = ctx.Description.ActionDescriptor.EndpointMetadata.OfType<RequiresRole>().LastOrDefault()?.Role ?? ApiRole.Admin;
                op.Extensions ??= new Dictionary<string, IOpenApiExtension>();
                op.Extensions["x-ephemera-role"] = new JsonNodeExtension(JsonValue.Create(role.Name()));
                return Task.CompletedTask;
            });
        });

        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // A malformed body or an over-long one is the caller's 4xx, never a 500.
            StatusCodeSelector = e => e is BadHttpRequestException b ? b.StatusCode : StatusCodes.Status500InternalServerError,
        });
        app.UseStatusCodePages();
        app.UseRouting();
        app.Use(RoleGate.Middleware);
        app.UseRateLimiter();
        app.MapOpenApi("/openapi.json").WithMetadata(new RequiresRole(ApiRole.Public));
        ApiRoutes.Map(app);
        NoticeRoutes.Map(app);
        DashboardRoutes.Map(app);
        return app;
    }

    /// <summary>Stops the web server, then the engine (draining: frames wiped, bins published, audit written). Idempotent.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        try { await _app.StopAsync().ConfigureAwait(false); }
        finally
        {
            await Engine.StopAsync().ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
            Engine.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}

/// <summary>Checks the caller's key against the endpoint's <see cref="RequiresRole"/>: none → 401, too low → 403.</summary>
internal static class RoleGate
{
    public const string RoleItem = "ephemera.role";

    public static async Task Middleware(HttpContext ctx, Func<Task> next)
    {
        var endpoint = ctx.GetEndpoint();
        if (endpoint is null) { await next(); return; } // no route: 404/405 problem details
        var need = endpoint.Metadata.GetMetadata<RequiresRole>()?.Role ?? ApiRole.Admin; // undeclared = most restricted
        var keys = ctx.RequestServices.GetRequiredService<ApiKeyStore>();
        var have = keys.Authenticate(ctx.Request.Headers.Authorization);
        ctx.Items[RoleItem] = have ?? ApiRole.Public;
        if (need == ApiRole.Public) { await next(); return; }
        if (have is null)
        {
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            await Problems.Make(401, "Unauthorized", $"this route needs a key of role {need.Name()} or higher: send Authorization: Bearer KEY",
                parameter: "Authorization", extra: new() { ["required_role"] = need.Name() }).ExecuteAsync(ctx);
            return;
        }
        if (have < need)
        {
            await Problems.Make(403, "Forbidden", $"this route needs role {need.Name()} or higher; the key has role {have.Value.Name()}",
                parameter: "Authorization", extra: new() { ["required_role"] = need.Name(), ["role"] = have.Value.Name() }).ExecuteAsync(ctx);
            return;
        }
        await next();
    }

    public static ApiRole Role(this HttpContext ctx) => ctx.Items[RoleItem] is ApiRole r ? r : ApiRole.Public;
}

/// <summary>RFC 9457 problem details that name the parameter at fault.</summary>
internal static class Problems
{
    /// <summary>The largest request body (the largest legitimate one is a camera with its manifest text).</summary>
    public const int MaxBodyBytes = 64 * 1024;

    public static IResult Make(int status, string title, string detail, string? parameter = null, Dictionary<string, object?>? extra = null)
    {
        var ext = extra ?? new Dictionary<string, object?>();
        if (parameter != null) ext["parameter"] = parameter;
        return Results.Problem(detail: detail, statusCode: status, title: title, extensions: ext);
    }

    public static IResult BadParameter(string parameter, string detail) => Make(400, "Invalid parameter", $"{parameter}: {detail}", parameter);

    public static IResult NotFound(string parameter, string detail) => Make(404, "Not found", detail, parameter);

    /// <summary>
    /// Fills in what the framework's own problem details leave out: for a request Kestrel or the binder
    /// refused (malformed JSON, a body over the limit, a wrong media type) the cause and the parameter;
    /// for a 500 a fixed text, so no exception message or stack leaves the server.
    /// </summary>
    internal static void Customize(ProblemDetailsContext c)
    {
        var error = c.Exception ?? c.HttpContext.Features.Get<IExceptionHandlerFeature>()?.Error;
        if (error is BadHttpRequestException bad)
        {
            c.ProblemDetails.Detail = bad.Message;
            c.ProblemDetails.Extensions.TryAdd("parameter", ParameterOf(bad));
        }
        else if (c.ProblemDetails.Status >= 500)
            c.ProblemDetails.Detail = "the server failed on this request; the engine and its cameras are unaffected";
        else if (c.ProblemDetails.Status == 404 && !c.ProblemDetails.Extensions.ContainsKey("parameter"))
        {
            c.ProblemDetails.Detail ??= $"no route {c.HttpContext.Request.Method} {c.HttpContext.Request.Path} (see /openapi.json)";
            c.ProblemDetails.Extensions["parameter"] = "path";
        }
        else if (c.ProblemDetails.Status == 413 && !c.ProblemDetails.Extensions.ContainsKey("parameter"))
        {
            c.ProblemDetails.Detail ??= $"the body is over the server's limit of {MaxBodyBytes / 1024} KiB";
            c.ProblemDetails.Extensions["parameter"] = "body";
        }
        else if (c.ProblemDetails.Status == 415 && !c.ProblemDetails.Extensions.ContainsKey("parameter"))
        {
            c.ProblemDetails.Detail ??= $"Content-Type '{c.HttpContext.Request.ContentType}' is not accepted here: send application/json";
            c.ProblemDetails.Extensions["parameter"] = "Content-Type";
        }
        else if (c.ProblemDetails.Status == 405)
        {
            c.ProblemDetails.Detail ??= $"{c.HttpContext.Request.Method} is not allowed on {c.HttpContext.Request.Path} (see /openapi.json)";
            c.ProblemDetails.Extensions.TryAdd("parameter", "method");
        }
    }

    /// <summary>The parameter a binder message names (<c>Failed to read parameter "T body" ...</c>); the body for size and media-type refusals.</summary>
    private static string ParameterOf(BadHttpRequestException e)
    {
        var m = System.Text.RegularExpressions.Regex.Match(e.Message, "parameter \"(?:[^\" ]+ )?([^\" ]+)\"");
        if (m.Success) return m.Groups[1].Value;
        return e.StatusCode == StatusCodes.Status415UnsupportedMediaType ? "Content-Type" : "body";
    }
}
