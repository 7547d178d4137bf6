using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Ephemera.Server;

/// <summary>
/// The dashboard: one static page, public because it holds no data. It reads the API with the
/// caller's key (from the URL fragment, which browsers never send, or typed in), so what it shows is
/// what that key's role may read through the store's gates.
/// </summary>
internal static class DashboardRoutes
{
    private static readonly Lazy<byte[]> s_page = new(() =>
    {
        using var s = typeof(DashboardRoutes).Assembly.GetManifestResourceStream("Ephemera.Server.Dashboard.index.html")
            ?? throw new InvalidOperationException("the dashboard page is not embedded in Ephemera.Server");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    });

    public static void Map(WebApplication app)
    {
        IResult Page(HttpContext ctx)
        {
            // The page runs only its own inline script and talks only to this server.
            ctx.Response.Headers.ContentSecurityPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'";
            ctx.Response.Headers.CacheControl = "no-cache";
            return Results.Bytes(s_page.Value, "text/html; charset=utf-8");
        }
        app.MapGet("/", Page).WithMetadata(new RequiresRole(ApiRole.Public)).RequireRateLimiting("public").ExcludeFromDescription();
        app.MapGet("/dashboard", Page).WithMetadata(new RequiresRole(ApiRole.Public)).RequireRateLimiting("public");
    }
}
