using System.Text.Json;
using Ephemera.TestSupport;
using Microsoft.Playwright;

namespace Ephemera.Server.Tests;

/// <summary>
/// <c>bench --report</c>'s page, drawn from a recorded bench result (a real <c>--find-max</c> run,
/// <c>Data/bench-report.json</c>) with <c>--report-from</c>, opened in Debian's chromium with the
/// network off: every chart is drawn from the JSON's own figures and nothing is fetched.
/// </summary>
public sealed class BenchReportPageTests(BrowserFixture b) : IClassFixture<BrowserFixture>, IDisposable
{
    private readonly TempDir _dir = new();
    private static readonly string Recorded = Path.Combine(AppContext.BaseDirectory, "Data", "bench-report.json");

    [Fact]
    public async Task TheReportDrawsEveryTrialTheStagesTheCeilingsAndTheMachineWithoutTheNetwork()
    {
        var r = ChildProcess.Cli("bench", "--report-from", Recorded, "--report", _dir.Path);
        Assert.True(r.ExitCode == 0, r.StdErr);
        string html = _dir.File("report.html");
        Assert.True(File.Exists(_dir.File("bench.json")), "the JSON travels beside the page");
        // Self-contained: no script, stylesheet, image or font from anywhere (the SVG namespace is a name, not a fetch).
        string text = File.ReadAllText(html).Replace("http://www.w3.org/2000/svg", "");
        Assert.DoesNotContain("http://", text);
        Assert.DoesNotContain("https://", text);
        Assert.DoesNotContain("<script", text);

        using var doc = JsonDocument.Parse(File.ReadAllText(Recorded));
        var root = doc.RootElement;
        int trials = root.GetProperty("trials").GetArrayLength();
        Assert.True(trials >= 3, "the recorded result is a --find-max run with several trials");

        var ctx = await b.Browser.NewContextAsync(new BrowserNewContextOptions { Offline = true, ViewportSize = new ViewportSize { Width = 1200, Height = 900 } });
        var page = await ctx.NewPageAsync();
        var fetched = new List<string>();
        page.Request += (_, req) => { if (!req.Url.StartsWith("file:", StringComparison.Ordinal)) fetched.Add(req.Url); };
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(new Uri(html).AbsoluteUri);

        // One dot per trial in each trial chart, drawn inside the plot area.
        foreach (var chart in new[] { "#chart-detect", "#chart-latency", "#chart-cpu", "#chart-rss" })
        {
            var box = await page.Locator(chart).BoundingBoxAsync();
            Assert.True(box is { Width: > 100, Height: > 100 }, $"{chart} is not rendered");
            var dots = page.Locator($"{chart} circle.trial");
            Assert.Equal(trials, await dots.CountAsync());
            foreach (var dot in await dots.AllAsync())
            {
                var d = await dot.BoundingBoxAsync();
                Assert.True(d != null && d.X >= box!.X && d.X + d.Width <= box.X + box.Width + 1 && d.Y >= box.Y && d.Y + d.Height <= box.Y + box.Height + 1,
                    $"{chart}: a trial's dot lies outside its chart");
            }
        }
        // The slowest trial has the lowest detection rate dot (SVG y grows downwards).
        var rates = root.GetProperty("trials").EnumerateArray().Select(t => t.GetProperty("detect_fps_achieved").GetDouble()).ToList();
        var ys = new List<double>();
        foreach (var dot in await page.Locator("#chart-detect circle.trial").AllAsync()) ys.Add(double.Parse((await dot.GetAttributeAsync("cy"))!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(rates.IndexOf(rates.Min()), ys.IndexOf(ys.Max()));

        // The per-stage breakdown: one bar per stage of the CPU cost; the ceilings; memory.
        int stages = root.GetProperty("cpu_ms_per_camera_second").EnumerateObject().Count(p => p.Name != "total");
        Assert.Equal(stages, await page.Locator("#chart-stages rect.bar").CountAsync());
        Assert.Equal(3, await page.Locator("#chart-ceilings rect.bar").CountAsync());
        Assert.Contains(root.GetProperty("ceiling").GetProperty("engine_input").GetString()!, await page.Locator("#chart-ceilings").InnerHTMLAsync());
        Assert.Equal(root.GetProperty("memory").GetProperty("rss").GetArrayLength(), await page.Locator("#chart-memory circle.trial").CountAsync());

        // The machine: CPU model and its SIMD flags, cores, provider.
        string machine = await page.Locator("#machine").InnerTextAsync();
        Assert.Contains(root.GetProperty("machine").GetProperty("cpu_model").GetString()!, machine);
        Assert.Contains("avx2", machine);
        Assert.Contains(root.GetProperty("machine").GetProperty("provider").GetString()!, machine);

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.Screenshots, "bench-report.png"), FullPage = true });
        Assert.Empty(errors);
        Assert.Empty(fetched);
        await ctx.CloseAsync();
    }

    [Fact]
    public void AReportFromSomethingThatIsNotABenchResultIsAUsageError()
    {
        File.WriteAllText(_dir.File("not-bench.json"), "{\"streams\": 3}");
        var r = ChildProcess.Cli("bench", "--report-from", _dir.File("not-bench.json"), "--report", _dir.File("out"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not a bench result", r.StdErr);
    }

    public void Dispose() => _dir.Dispose();
}
