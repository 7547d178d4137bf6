using System.Net;
using System.Text.Json;
using Ephemera.Core;
using Ephemera.Server;
using Microsoft.Playwright;

namespace Ephemera.Server.Tests;

/// <summary>
/// One headless Debian chromium (<c>/usr/bin/chromium</c>, or <c>EPHEMERA_CHROMIUM</c>) driven by
/// Playwright; Playwright never downloads a browser here. Screenshots go to <c>build/test-results/screenshots</c>.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public IPlaywright Playwright = null!;
    public IBrowser Browser = null!;
    public static string Screenshots => Path.Combine(RepoPaths.Root, "build", "test-results", "screenshots");

    public async Task InitializeAsync()
    {
        string chromium = Environment.GetEnvironmentVariable("EPHEMERA_CHROMIUM") is { Length: > 0 } c ? c : "/usr/bin/chromium";
        if (!File.Exists(chromium))
            throw new FileNotFoundException($"{chromium} is missing: the browser tests drive Debian's chromium (./ephemera installs the package 'chromium')", chromium);
        Directory.CreateDirectory(Screenshots);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium, Headless = true,
            Args = ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser != null) await Browser.CloseAsync();
        Playwright?.Dispose();
    }
}

[Collection("engine")]
public sealed class BrowserTests(ServerFixture f, BrowserFixture b) : IClassFixture<BrowserFixture>
{
    private string Base => f.Server.Addresses.First();

    private async Task<IPage> Page(string locale, int width = 1440, int height = 900)
    {
        var ctx = await b.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = locale, ViewportSize = new ViewportSize { Width = width, Height = height }, BaseURL = Base,
        });
        var page = await ctx.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        return page;
    }

    private static Task Shot(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.Screenshots, name), FullPage = true });

    /// <summary>Polls <paramref name="read"/> until <paramref name="done"/> holds or the time is up; returns the last value.</summary>
    private static async Task<T> Until<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        T v = await read();
        while (!done(v) && DateTime.UtcNow < until) { await Task.Delay(1000); v = await read(); }
        return v;
    }

    [Fact]
    public async Task TheDashboardShowsTheCamerasTheLiveLedgerIconMapsThatChangeAndCountsThatRise()
    {
        var page = await Page("en-US");
        var errors = new List<string>();
        // A 404 is an answer the page expects (an icon map not rendered yet); anything else is a fault.
        page.Console += (_, m) => { if (m.Type == "error" && !m.Text.Contains("status of 404", StringComparison.Ordinal)) errors.Add(m.Text); };
        page.PageError += (_, e) => errors.Add(e);
        // The key travels in the fragment, which the browser never sends to the server.
        await page.GotoAsync($"/#key={f.Keys[ApiRole.Viewer]}");
        Assert.DoesNotContain("#key", page.Url);                       // the page drops it from the address bar

        // The camera grid: every config camera, running.
        foreach (var cam in new[] { ServerFixture.Camera, ServerFixture.CrowdCamera, ServerFixture.FlowCamera })
            await page.Locator($"#cameras tr[data-camera='{cam}'][data-state='running']").WaitForAsync();

        // The ledger arrives over SSE (the "live" mark shows only while ledger events come in).
        await page.Locator("#ledger-live").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
        long allocated = long.Parse((await page.Locator("#ledger .kpi b").First.InnerTextAsync()).Replace(",", ""));
        Assert.True(allocated > 0, "the ledger shows no pixel buffer allocated");

        // The case-5 icon map is re-rendered every second: what the browser draws must change.
        var icon = page.Locator($"#icons figure[data-camera='{ServerFixture.CrowdCamera}'] img");
        await icon.WaitForAsync();
        await Until(() => icon.EvaluateAsync<bool>("i => i.complete && i.naturalWidth > 0"), ok => ok, TimeSpan.FromSeconds(10));
        string firstRendered = await page.Locator($"#icons figure[data-camera='{ServerFixture.CrowdCamera}']").GetAttributeAsync("data-rendered-at") ?? "";
        byte[] first = await icon.ScreenshotAsync();
        byte[] later = await Until(async () => await icon.ScreenshotAsync(), png => !png.AsSpan().SequenceEqual(first), TimeSpan.FromSeconds(40));
        Assert.False(later.AsSpan().SequenceEqual(first), "the icon map on the dashboard did not change in 40 s");
        Assert.NotEqual(firstRendered, await page.Locator($"#icons figure[data-camera='{ServerFixture.CrowdCamera}']").GetAttributeAsync("data-rendered-at"));
        await icon.ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(BrowserFixture.Screenshots, "icon-map.png") });

        // Counts rise while the page stays open: the next 1-minute bin closes and the dashboard adds it.
        async Task<long> Total() => long.Parse(await page.Locator("#count-total").GetAttributeAsync("data-value") ?? "0");
        long before = await Total();
        long after = await Until(Total, v => v > before, TimeSpan.FromSeconds(100));
        Assert.True(after > before, $"the dashboard's count stayed at {before} for 100 s");
        await page.Locator("#counts-chart svg").WaitForAsync();
        await Until(() => page.Locator("#occupancy svg").CountAsync(), n => n > 0, TimeSpan.FromSeconds(10));
        // A closed bin brings the flow camera's heat map (16 m × 20 m at 16 px a metre), fetched with the key as a blob: image.
        var heat = page.Locator($"#heatmaps figure[data-camera='{ServerFixture.FlowCamera}'] img");
        await heat.WaitForAsync(new LocatorWaitForOptions { Timeout = 20_000 });
        Assert.Equal(256, await Until(() => heat.EvaluateAsync<int>("i => i.complete ? i.naturalWidth : 0"), w => w > 0, TimeSpan.FromSeconds(10)));
        Assert.StartsWith("blob:", await heat.GetAttributeAsync("src"));

        await Shot(page, "dashboard.png");
        Assert.True(errors.Count == 0, "browser errors: " + string.Join(" | ", errors));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task TheNoticeOpensInJapaneseAndEnglishAndAnInquiryIsSubmittedFromIt()
    {
        var page = await Page("ja-JP", 1000, 900);
        // Accept-Language: ja (from the browser's locale) gives the Japanese notice.
        var res = await page.GotoAsync($"/notice/{ServerFixture.Camera}");
        Assert.Equal((int)HttpStatusCode.OK, res!.Status);
        Assert.Equal("ja", await page.Locator("html").GetAttributeAsync("lang"));
        Assert.Contains("みなと中央商店街振興組合", await page.Locator("body").InnerTextAsync());
        await Shot(page, "notice-ja.png");

        // The switch to English keeps the camera and the notice kind.
        await page.Locator("nav.switch.top a[hreflang='en']").ClickAsync();        // the switch at the top of the page
        await page.WaitForURLAsync(u => u.Contains("lang=en"));
        Assert.Equal("en", await page.Locator("html").GetAttributeAsync("lang"));
        string en = await page.Locator("body").InnerTextAsync();
        Assert.Contains("Minato Chuo Shopping Street Association", en);
        Assert.DoesNotContain("みなと中央商店街振興組合", en);
        await Shot(page, "notice-en.png");

        // The printable sign carries a QR code to the full notice.
        await page.GotoAsync($"/notice/{ServerFixture.Camera}/sign?lang=en");
        Assert.True(await page.Locator(".qr svg").CountAsync() == 1, "the sign has no QR code");
        Assert.Contains($"/notice/{ServerFixture.Camera}?lang=en", await page.Locator(".qr figcaption a").GetAttributeAsync("href"));
        await Shot(page, "sign-en.png");

        // An inquiry from the notice's form: counted for the camera, answered with the operator's contact.
        async Task<int> Objections() => (await f.GetJson("/api/inquiries", ApiRole.Operator)).EnumerateArray()
            .Where(r => r.GetProperty("camera").GetString() == ServerFixture.Camera && r.GetProperty("category").GetString() == "objection")
            .Sum(r => r.GetProperty("count").GetInt32());
        int before = await Objections();
        await page.GotoAsync($"/notice/{ServerFixture.Camera}?lang=en");
        await page.Locator("#inquiry select[name=category]").SelectOptionAsync("objection");
        await page.Locator("#inquiry textarea[name=message]").FillAsync("Please do not film the bench by the fountain.");
        await page.Locator("#inquiry button[type=submit]").ClickAsync();
        await page.Locator("h1").Filter(new LocatorFilterOptions { HasText = "Your inquiry was received" }).WaitForAsync();
        Assert.Contains("counts@minato-chuo.example", await page.Locator("body").InnerTextAsync());
        await Shot(page, "inquiry-en.png");
        Assert.Equal(before + 1, await Objections());
        await page.Context.CloseAsync();
    }
}
