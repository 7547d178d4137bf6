using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Server;
using Ephemera.TestSupport;

namespace Ephemera.Server.Tests;

/// <summary>
/// One server on a free port and a key per role, with three cameras on vtest.avi: counting (case 3),
/// crowd icons (case 5, an icon map re-rendered every second) and flow (case 2). Their manifests are
/// the bundled ones with a 1-minute time bin (the least H3 allows), so released bins reach the API
/// and the dashboard within a test.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string Camera = "plaza-count-1";
    public const string CrowdCamera = "plaza-crowd-1";
    public const string FlowCamera = "plaza-flow-1";
    public readonly TempDir Dir = new();
    public readonly Dictionary<ApiRole, string> Keys = new();
    public EphemeraServer Server = null!;
    public HttpClient Http = null!;
    public static string Manifest => Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml");

    public async Task InitializeAsync()
    {
        foreach (var r in new[] { ApiRole.Viewer, ApiRole.Analyst, ApiRole.Operator, ApiRole.Admin })
            Keys[r] = r.Name() + "-" + Guid.NewGuid().ToString("N");
        string video = TestPaths.Video("vtest.avi");
        string calibration = """
                  calibration:
                    - {image: [0, 576], floor: [0, 0]}
                    - {image: [768, 576], floor: [16, 0]}
                    - {image: [640, 150], floor: [16, 20]}
                    - {image: [128, 150], floor: [0, 20]}
                  floor_size: [16, 20]
            """;
        string yaml = $"""
            engine:
              store: {Dir.File("e.db")}
              detect_fps: 3
              audit_interval_seconds: 1
            cameras:
              - id: {Camera}
                source: {video}
                manifest: {MinuteBins("case3-outdoor-counts.yaml", "15m")}
                loop: true
                analytics:
                  lines:
                    - {"{"}name: mid, points: [384, 0, 384, 576]{"}"}
                    - {"{"}name: low, points: [0, 400, 768, 400]{"}"}
              - id: {CrowdCamera}
                source: {video}
                manifest: {MinuteBins("case5-station-crowd.yaml", "5m")}
                loop: true
                analytics:
                  zones:
                    - {"{"}name: north, polygon: [0, 0, 768, 0, 768, 300, 0, 300]{"}"}
                    - {"{"}name: gate-area, polygon: [0, 8, 16, 8, 16, 20, 0, 20], floor: true{"}"}
                    - {"{"}name: concourse, polygon: [0, 0, 16, 0, 16, 8, 0, 8], floor: true{"}"}
            {calibration}
                  icon_interval_seconds: 1
              - id: {FlowCamera}
                source: {video}
                manifest: {MinuteBins("case2-store-flow.yaml", "1h")}
                loop: true
                analytics:
                  zones:
                    - {"{"}name: shelf-front, polygon: [0, 150, 768, 150, 768, 260, 0, 260], shelf_front: true{"}"}
                    - {"{"}name: entrance, polygon: [0, 0, 16, 0, 16, 6, 0, 6], floor: true{"}"}
                    - {"{"}name: aisle, polygon: [0, 6, 16, 6, 16, 14, 0, 14], floor: true{"}"}
                    - {"{"}name: shelf, polygon: [0, 14, 16, 14, 16, 20, 0, 20], floor: true{"}"}
            {calibration}
            server:
              keys:
            {string.Concat(Keys.Select(k => $"    - {{role: {k.Key.Name()}, sha256: {ApiKeyStore.Hash(k.Value)}}}\n"))}
            """;
        File.WriteAllText(Dir.File("c.yaml"), yaml);
        var config = ConfigLoader.Load(Dir.File("c.yaml"));
        Server = await EphemeraServer.StartAsync(config, new ServerOptions { Urls = "http://127.0.0.1:0" });
        Http = new HttpClient { BaseAddress = new Uri(Server.Addresses.First()), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A bundled manifest with its time bin cut to 1 minute, written beside the test's store.</summary>
    private string MinuteBins(string name, string bin)
    {
        string text = File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", name));
        string edited = text.Replace($"time_bin: {bin}", "time_bin: 1m", StringComparison.Ordinal);
        if (edited == text) throw new InvalidOperationException($"{name} has no 'time_bin: {bin}' to shorten");
        File.WriteAllText(Dir.File(name), edited);
        return Dir.File(name);
    }

    public HttpRequestMessage Request(HttpMethod m, string path, ApiRole? role)
    {
        var req = new HttpRequestMessage(m, path);
        if (role is { } r) req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Keys[r]);
        return req;
    }

    public async Task<JsonElement> GetJson(string path, ApiRole role)
    {
        using var res = await Http.SendAsync(Request(HttpMethod.Get, path, role));
        string body = await res.Content.ReadAsStringAsync();
        Assert.True(res.IsSuccessStatusCode, $"{path}: {(int)res.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (Server != null) await Server.StopAsync();
        Dir.Dispose();
    }
}

[CollectionDefinition("engine")]
public sealed class EngineCollection : ICollectionFixture<ServerFixture>;

[Collection("engine")]
public sealed class ServerTests(ServerFixture f)
{
    private static readonly string[] s_public = ["/healthz", "/readyz", "/notice/{camera}", "/notice/{camera}/sign", "/notice/{camera}/inquiry", "/dashboard"];

    [Fact]
    public async Task EveryRouteInTheOpenApiDocumentRefusesWithoutAKeyAndWithALowerRole()
    {
        using var doc = JsonDocument.Parse(await f.Http.GetStringAsync("/openapi.json"));
        int walked = 0;
        foreach (var path in doc.RootElement.GetProperty("paths").EnumerateObject())
            foreach (var op in path.Value.EnumerateObject())
            {
                var method = new HttpMethod(op.Name.ToUpperInvariant());
                string url = path.Name.Replace("{id}", ServerFixture.Camera).Replace("{camera}", ServerFixture.Camera);
                var need = Enum.Parse<ApiRole>(op.Value.GetProperty("x-ephemera-role").GetString()!, ignoreCase: true);
                // The document's own label is checked against the list of routes meant to be public.
                Assert.True((need == ApiRole.Public) == s_public.Contains(path.Name), $"{op.Name} {path.Name} is labelled {need}");
                using var anon = await f.Http.SendAsync(f.Request(method, url, null));
                if (need == ApiRole.Public)
                {
                    Assert.True(anon.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden), $"{method} {url}: {(int)anon.StatusCode} without a key");
                    Assert.True((int)anon.StatusCode < 500, $"{method} {url}: {(int)anon.StatusCode}");
                }
                else
                {
                    Assert.True(anon.StatusCode == HttpStatusCode.Unauthorized, $"{method} {url}: {(int)anon.StatusCode} without a key");
                    Assert.Equal("application/problem+json", anon.Content.Headers.ContentType?.MediaType);
                    foreach (var lower in Enum.GetValues<ApiRole>().Where(r => r != ApiRole.Public && r < need))
                    {
                        using var low = await f.Http.SendAsync(f.Request(method, url, lower));
                        Assert.True(low.StatusCode == HttpStatusCode.Forbidden, $"{method} {url} with a {lower} key: {(int)low.StatusCode}");
                    }
                }
                walked++;
            }
        Assert.True(walked >= 15, $"only {walked} operations in /openapi.json");
    }

    [Fact]
    public async Task TheDashboardIsPublicHoldsNoDataAndReadsTheApiWithTheCallersKey()
    {
        foreach (var path in new[] { "/", "/dashboard" })
        {
            using var res = await f.Http.SendAsync(f.Request(HttpMethod.Get, path, null));
            string html = await res.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            Assert.Equal("text/html", res.Content.Headers.ContentType?.MediaType);
            Assert.Contains("connect-src 'self'", res.Headers.GetValues("Content-Security-Policy").Single());
            Assert.DoesNotContain(ServerFixture.Camera, html);          // the page is static: data only comes through the API
            Assert.Contains("Authorization: \"Bearer \" + key", html);
            Assert.Contains("/api/cameras", html);
        }
    }

    [Fact]
    public void ASessionKeyOpensTheApiAsOperatorAndNoOtherKeyIsAdded()
    {
        var config = ConfigLoader.Load(f.Dir.File("c.yaml"));
        var none = EphemeraServer.KeysFor(config, new ServerOptions());
        var with = EphemeraServer.KeysFor(config, new ServerOptions { SessionKey = "run-only-key" });
        Assert.Null(none.Authenticate("Bearer run-only-key"));
        Assert.Equal(ApiRole.Operator, with.Authenticate("Bearer run-only-key"));
        Assert.Equal(none.Count + 1, with.Count);
        Assert.Equal(ApiRole.Admin, with.Authenticate("Bearer " + f.Keys[ApiRole.Admin]));
    }

    [Fact]
    public async Task CamerasShowTheCameraRunningWithFramesDecoded()
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        JsonElement cam;
        do
        {
            var root = await f.GetJson("/api/cameras", ApiRole.Viewer);
            cam = root.GetProperty("cameras").EnumerateArray().Single(c => c.GetProperty("id").GetString() == ServerFixture.Camera);
            if (cam.GetProperty("state").GetString() == "running" && cam.GetProperty("ledger").GetProperty("frames_decoded").GetInt64() > 0) return;
            await Task.Delay(500);
        } while (DateTime.UtcNow < deadline);
        Assert.Fail($"camera not running with frames: {cam}");
    }

    [Theory]
    [InlineData("ja", "みなと中央商店街振興組合")]
    [InlineData("en", "Minato Chuo Shopping Street Association")]
    public async Task NoticeIsInTheAskedLanguage(string lang, string operatorName)
    {
        var req = f.Request(HttpMethod.Get, $"/notice/{ServerFixture.Camera}", null);
        req.Headers.AcceptLanguage.ParseAdd(lang);
        using var res = await f.Http.SendAsync(req);
        string html = await res.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Contains($"<html lang=\"{lang}\"", html);
        Assert.Contains(operatorName, html);
        string other = lang == "ja" ? "Minato Chuo Shopping Street Association" : "みなと中央商店街振興組合";
        Assert.DoesNotContain(other, html);
        // ?lang= wins over Accept-Language.
        string flipped = await f.Http.GetStringAsync($"/notice/{ServerFixture.Camera}?lang={(lang == "ja" ? "en" : "ja")}");
        Assert.Contains(other, flipped);
    }

    [Fact]
    public async Task AnInquiryIsCountedAndAnOverLongOneIsRefused()
    {
        async Task<int> Count()
        {
            var rows = await f.GetJson("/api/inquiries", ApiRole.Operator);
            return rows.EnumerateArray().Where(r => r.GetProperty("camera").GetString() == ServerFixture.Camera && r.GetProperty("category").GetString() == "objection")
                .Sum(r => r.GetProperty("count").GetInt32());
        }
        int before = await Count();
        using (var ok = await f.Http.PostAsync($"/notice/{ServerFixture.Camera}/inquiry",
                   new FormUrlEncodedContent(new Dictionary<string, string> { ["category"] = "objection", ["message"] = "please stop", ["lang"] = "en" })))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Contains("counts@minato-chuo.example", await ok.Content.ReadAsStringAsync()); // the operator's contact
        }
        Assert.Equal(before + 1, await Count());
        using (var tooLong = await f.Http.PostAsync($"/notice/{ServerFixture.Camera}/inquiry",
                   new FormUrlEncodedContent(new Dictionary<string, string> { ["category"] = "objection", ["message"] = new string('x', 2001) })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
            using var p = JsonDocument.Parse(await tooLong.Content.ReadAsStringAsync());
            Assert.Equal("message", p.RootElement.GetProperty("parameter").GetString());
        }
        Assert.Equal(before + 1, await Count());
    }

    [Fact]
    public async Task RecordsNeverShowACountCellBelowK()
    {
        // A second camera, added and removed live: removal publishes its open (partial) count bins.
        const string cam = "plaza-count-9";
        var add = f.Request(HttpMethod.Post, "/api/cameras", ApiRole.Admin);
        add.Content = JsonContent(new { id = cam, source = TestPaths.Video("vtest.avi"), manifest = ServerFixture.Manifest, loop = true, detect_fps = 5,
            lines = new[] { new { name = "mid", points = new[] { 384f, 0, 384, 576 } }, new { name = "low", points = new[] { 0f, 400, 768, 400 } } } });
        using (var res = await f.Http.SendAsync(add)) Assert.True(res.StatusCode == HttpStatusCode.Created, await res.Content.ReadAsStringAsync());
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var c = (await f.GetJson("/api/cameras", ApiRole.Viewer)).GetProperty("cameras").EnumerateArray().Single(x => x.GetProperty("id").GetString() == cam);
            // Long enough for people to cross its lines at 5 detections/s (a line with no crossing has no bin to publish).
            if (c.GetProperty("ledger").GetProperty("detections").GetInt64() >= 75) break;
            await Task.Delay(500);
        }
        using (var del = await f.Http.SendAsync(f.Request(HttpMethod.Delete, $"/api/cameras/{cam}", ApiRole.Admin)))
            Assert.True(del.IsSuccessStatusCode, await del.Content.ReadAsStringAsync());

        // The store writes on the publishing path, not on the caller's: wait for the rows.
        var rows = new List<JsonElement>();
        for (var until = DateTime.UtcNow.AddSeconds(20); rows.Count == 0 && DateTime.UtcNow < until; await Task.Delay(500))
            rows = (await f.GetJson($"/api/records?class=count&camera={cam}", ApiRole.Viewer)).GetProperty("rows").EnumerateArray().ToList();
        Assert.NotEmpty(rows);
        int cells = 0;
        foreach (var row in rows)
        {
            var payload = row.GetProperty("payload");
            int k = payload.GetProperty("k").GetInt32();
            Assert.Equal(5, k); // the manifest's k
            var values = payload.GetProperty("cells").EnumerateArray().SelectMany(r => r.EnumerateArray())
                .Concat(payload.GetProperty("row_totals").EnumerateArray()).Concat(payload.GetProperty("col_totals").EnumerateArray())
                .Append(payload.GetProperty("total"));
            foreach (var v in values)
            {
                cells++;
                // Released entries are null (suppressed), 0 (nobody) or at least k; never 1..k-1.
                Assert.True(v.ValueKind == JsonValueKind.Null || v.GetInt32() == 0 || v.GetInt32() >= k, $"cell {v} below k={k} in {payload}");
            }
        }
        Assert.True(cells > 0);

        using var bad = await f.Http.SendAsync(f.Request(HttpMethod.Get, "/api/records?class=count&from=yesterday", ApiRole.Viewer));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("from", JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task TheHeatMapPngIsTheLatestReleasedBinOfACameraThatDeclaresIt()
    {
        async Task<HttpResponseMessage> Get(string cam) => await f.Http.SendAsync(f.Request(HttpMethod.Get, $"/api/cameras/{cam}/heatmap.png", ApiRole.Viewer));
        async Task ProblemOf(string cam, string says)
        {
            using var res = await Get(cam);
            Assert.Equal(HttpStatusCode.NotFound, res.StatusCode);
            Assert.Equal("application/problem+json", res.Content.Headers.ContentType?.MediaType);
            Assert.Contains(says, await res.Content.ReadAsStringAsync());
        }
        // Listed in the OpenAPI document, so the route walk above checks its 401.
        Assert.Contains("/api/cameras/{id}/heatmap.png", await f.Http.GetStringAsync("/openapi.json"));
        await ProblemOf("no-such-camera", "no camera 'no-such-camera'");
        await ProblemOf(ServerFixture.Camera, "no released heat map");   // case 3: its manifest does not declare HeatMap

        // The flow camera's first 1-minute bin closes within a minute or so of the start.
        byte[]? png = null;
        for (var until = DateTime.UtcNow.AddSeconds(100); png is null && DateTime.UtcNow < until; await Task.Delay(1000))
        {
            using var res = await Get(ServerFixture.FlowCamera);
            if (res.StatusCode == HttpStatusCode.NotFound) continue;
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            Assert.Equal("image/png", res.Content.Headers.ContentType?.MediaType);
            png = await res.Content.ReadAsByteArrayAsync();
        }
        Assert.True(png is not null, "no heat map released for the flow camera in 100 s");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        // 16 m × 20 m floor, 1 m cells, 16 px a cell (IHDR width and height, big-endian).
        Assert.Equal(16 * 16, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)));
        Assert.Equal(20 * 16, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4)));

        // The same bin's gated numbers, readable as a record: k from the manifest, a grid of 16 × 20, the PNG's size.
        var rows = (await f.GetJson($"/api/records?class=HeatMap&camera={ServerFixture.FlowCamera}", ApiRole.Viewer)).GetProperty("rows").EnumerateArray().ToList();
        Assert.NotEmpty(rows);
        var payload = rows[^1].GetProperty("payload");
        Assert.Equal(10, payload.GetProperty("k").GetInt32());
        Assert.Equal(16 * 20, payload.GetProperty("person_frames").GetArrayLength());
        Assert.Contains(rows, r => r.GetProperty("payload").GetProperty("bytes").GetInt32() == png.Length);
    }

    private static StringContent JsonContent(object o) =>
        new(JsonSerializer.Serialize(o), System.Text.Encoding.UTF8, "application/json");
}
