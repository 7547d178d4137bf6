using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Server;
using Ephemera.TestSupport;
using Microsoft.Playwright;

namespace Ephemera.Server.Tests;

/// <summary>
/// <c>GET /api/cameras/{id}/forecast</c> on a server of its own whose store holds two weeks of a case-1
/// camera's released hourly visitor totals (written through the store's k-gate, as the CLI verb's test
/// does) with a known weekly pattern, plus one total below k. The cameras' sources do not exist: the
/// forecast reads only the store, so no frame is needed (and the test stays light).
/// </summary>
public sealed class ForecastFixture : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly string _viewer = "viewer-" + Guid.NewGuid().ToString("N");
    private EphemeraServer _server = null!;
    private HttpClient _http = null!;
    private string _case1 = null!, _case3 = null!;
    public string Base => _server.Addresses.First();
    public string ViewerKey => _viewer;
    public string Case1 => _case1;
    public string Case3 => _case3;
    public static readonly DateTimeOffset s_from = new(2026, 11, 30, 9, 0, 0, TimeSpan.FromHours(9)); // a Monday, JST

    public static int Truth(DateTimeOffset t) => 20 + 10 * (int)t.DayOfWeek + t.Hour;

    public async Task InitializeAsync()
    {
        var m1 = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case1-store-attributes.yaml"));
        var m3 = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml"));
        _case1 = m1.CameraId; _case3 = m3.CameraId;
        string db = _dir.File("e.db");
        using (var store = EphemeraStore.Open(db))
        {
            store.RegisterManifest(m1);
            string[] rows = ["18-29", "30-39", "unknown"], cols = ["female", "male", "unknown"];
            for (int h = 1; h <= 14 * 24; h++)
            {
                var t = s_from.AddHours(-h);
                var counts = new int[3, 3];
                counts[1, 1] = Truth(t); // ≥ k: released as is
                store.WriteCountTable(m1.CameraId, DataClass.AttributeAggregate, t.ToUniversalTime(), TimeSpan.FromHours(1), rows, cols, counts);
            }
            // Three weeks back, same weekday and hour as the first forecast bin: 3 visitors, below k, so its total
            // is suppressed and must be left out (were it read as 3 the Monday 9:00 mean would drop).
            var low = new int[3, 3];
            low[1, 1] = 3;
            store.WriteCountTable(m1.CameraId, DataClass.AttributeAggregate, s_from.AddDays(-21).ToUniversalTime(), TimeSpan.FromHours(1), rows, cols, low);
        }
        string missing = _dir.File("no-such-clip.mp4");
        File.WriteAllText(_dir.File("c.yaml"), $"""
            engine:
              store: {db}
            cameras:
              - id: {_case1}
                source: {missing}
                manifest: {Path.Combine(RepoPaths.Root, "configs", "manifests", "case1-store-attributes.yaml")}
                forecast: {"{"}service_rate: 30, target_wait_minutes: 2{"}"}
              - id: {_case3}
                source: {missing}
                manifest: {Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml")}
            server:
              keys:
                - {"{"}role: viewer, sha256: {ApiKeyStore.Hash(_viewer)}{"}"}
            """);
        _server = await EphemeraServer.StartAsync(ConfigLoader.Load(_dir.File("c.yaml")), new ServerOptions { Urls = "http://127.0.0.1:0" });
        _http = new HttpClient { BaseAddress = new Uri(_server.Addresses.First()), Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _viewer);
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_server != null) await _server.StopAsync();
        _dir.Dispose();
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> Get(string path)
    {
        using var res = await _http.GetAsync(path);
        string body = await res.Content.ReadAsStringAsync();
        return (res.StatusCode, JsonDocument.Parse(body).RootElement.Clone());
    }

}

public sealed class ForecastTests(ForecastFixture f) : IClassFixture<ForecastFixture>
{
    private static readonly DateTimeOffset s_from = ForecastFixture.s_from;
    private static int Truth(DateTimeOffset t) => ForecastFixture.Truth(t);
    private static string From => Uri.EscapeDataString(s_from.ToString("o"));
    private Task<(HttpStatusCode Status, JsonElement Body)> Get(string path) => f.Get(path);

    [Fact]
    public async Task TheForecastRecoversTheWeeklyPatternAndSizesTheTillsFromTheCamerasConfig()
    {
        var (status, root) = await Get($"/api/cameras/{f.Case1}/forecast?hours=3&from={From}");
        Assert.True(status == HttpStatusCode.OK, root.ToString());
        var bins = root.GetProperty("bins").EnumerateArray().ToList();
        Assert.Equal(3, bins.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Truth(s_from.AddHours(i)), bins[i].GetProperty("expected_arrivals").GetDouble(), 6);
            Assert.Equal("WeekdayHour", bins[i].GetProperty("basis").GetString());
        }
        Assert.Equal(2, bins[0].GetProperty("tills").GetInt32()); // λ 39/h, μ 30/h (the config's): Wq ≈ 1.46 min ≤ 2 min
        Assert.Equal(30, root.GetProperty("service_rate_per_hour").GetDouble());
        Assert.Equal(14 * 24, root.GetProperty("history_bins").GetInt32());
        Assert.Equal(1, root.GetProperty("suppressed_bins").GetInt32());

        // The query overrides the config: at μ = 15/h one till cannot keep up with 39/h, and a tighter wait needs more tills.
        var (s2, slow) = await Get($"/api/cameras/{f.Case1}/forecast?hours=1&from={From}&service_rate=15&target_wait_minutes=0.5");
        Assert.True(s2 == HttpStatusCode.OK, slow.ToString());
        var b = slow.GetProperty("bins")[0];
        int tills = b.GetProperty("tills").GetInt32();
        Assert.True(tills >= 3, $"{tills} tills for 39/h at 15/h each");
        var (_, _, wq) = Ephemera.Analytics.Forecast.CheckoutForecast.MMc(39, 15, tills);
        Assert.True(wq * 60 <= 0.5);
        Assert.True(Ephemera.Analytics.Forecast.CheckoutForecast.MMc(39, 15, tills - 1).WaitHours * 60 > 0.5);
    }

    [Fact]
    public async Task CamerasListsWhichCameraHasAConfiguredForecast()
    {
        var (_, root) = await Get("/api/cameras");
        var flags = root.GetProperty("cameras").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!, c => c.GetProperty("forecast").GetBoolean());
        Assert.True(flags[f.Case1]);
        Assert.False(flags[f.Case3]);
    }

    [Theory]
    [InlineData("hours=0", "hours")]
    [InlineData("hours=x", "hours")]
    [InlineData("hours=337", "hours")]
    [InlineData("service_rate=0", "service_rate")]
    [InlineData("service_rate=NaN", "service_rate")]
    [InlineData("target_wait_minutes=-1", "target_wait_minutes")]
    [InlineData("target_wait_minutes=1e300", "target_wait_minutes")]
    [InlineData("checkout_share=1.5", "checkout_share")]
    [InlineData("max_tills=0", "max_tills")]
    [InlineData("from=yesterday", "from")]
    public async Task BadParametersAre400ProblemsNamingTheParameter(string query, string parameter)
    {
        var (status, body) = await Get($"/api/cameras/{f.Case1}/forecast?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(parameter, body.GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task UnknownCamerasAre404AndCamerasOfAnotherCaseAre409()
    {
        var (s404, p404) = await Get("/api/cameras/no-such-camera/forecast?service_rate=30");
        Assert.Equal(HttpStatusCode.NotFound, s404);
        Assert.Equal("id", p404.GetProperty("parameter").GetString());
        var (s409, p409) = await Get($"/api/cameras/{f.Case3}/forecast?service_rate=30");
        Assert.Equal(HttpStatusCode.Conflict, s409);
        Assert.Contains("case-1", p409.GetProperty("detail").GetString());
        // Before any history: 404 (the dashboard then shows no panel).
        var (sNone, _) = await Get($"/api/cameras/{f.Case1}/forecast?from={Uri.EscapeDataString(s_from.AddDays(-30).ToString("o"))}");
        Assert.Equal(HttpStatusCode.NotFound, sNone);
    }
}

/// <summary>The dashboard's checkout-forecast panel, in Debian's chromium, for the case-1 camera of <see cref="ForecastFixture"/>.</summary>
public sealed class ForecastDashboardTests(ForecastFixture f, BrowserFixture b) : IClassFixture<ForecastFixture>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task TheDashboardShowsTheForecastPanelWithArrivalsAndTillsPerHour()
    {
        var ctx = await b.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = f.Base, ViewportSize = new ViewportSize { Width = 1440, Height = 900 } });
        try
        {
            var page = await ctx.NewPageAsync();
            page.SetDefaultTimeout(30_000);
            var errors = new List<string>();
            page.PageError += (_, e) => errors.Add(e);
            await page.GotoAsync($"/#key={f.ViewerKey}");
            var panel = page.Locator("#forecast-section");
            await panel.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
            Assert.Equal(8, await page.Locator("#forecast svg text.tills").CountAsync());   // 8 coming hours, each with its tills
            Assert.Matches(@"^\d+ tills?$", await page.Locator("#forecast svg text.tills").First.TextContentAsync() ?? "");
            Assert.Contains("336 released hours", await page.Locator("#forecast .sub").TextContentAsync());
            Assert.Contains("1 below k left out", await page.Locator("#forecast .sub").TextContentAsync());
            Assert.Empty(errors);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.Screenshots, "dashboard-forecast.png"), FullPage = true });
        }
        finally { await ctx.CloseAsync(); }
    }
}
