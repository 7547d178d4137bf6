using System.Net;
using System.Text;
using System.Text.Json;
using CsCheck;
using Ephemera.Server;

namespace Ephemera.Server.Tests;

/// <summary>
/// Bad requests get RFC 9457 problem details (application/problem+json) with a 4xx status and the
/// parameter at fault, never a 500: malformed query strings, unknown cameras, malformed and huge bodies.
/// Each request carries the admin key, so the refusal is about the request, not the role.
/// </summary>
[Collection("engine")]
public sealed class ProblemTests(ServerFixture f)
{
    private const string Cam = ServerFixture.Camera;

    public static TheoryData<string, string, int, string> BadQueries => new()
    {
        { "GET", "/api/records?class=nope", 400, "class" },
        { "GET", "/api/records?class=%ZZ%00%ff", 400, "class" },
        { "GET", "/api/records?class=count&class=dwell_histogram", 400, "class" },
        { "GET", "/api/records?class=raw_frame", 403, "class" },
        { "GET", "/api/records?limit=abc", 400, "limit" },
        { "GET", "/api/records?limit=99999999999999999999999", 400, "limit" },
        { "GET", "/api/records?limit=-1", 400, "limit" },
        { "GET", "/api/records?limit=1&limit=2", 400, "limit" },
        { "GET", "/api/records?from=2026-13-45", 400, "from" },
        { "GET", "/api/records?from=2026-12-01&to=2026-11-01", 400, "to" },
        { "GET", "/api/records?camera=nobody", 404, "camera" },
        { "GET", "/api/events?camera=nobody", 404, "camera" },
        { "GET", "/api/events?class=pixels", 400, "class" },
        { "GET", "/api/cameras/nobody/icon", 404, "id" },
        { "DELETE", "/api/cameras/nobody", 404, "id" },
        { "GET", "/api/audit/nobody", 404, "camera" },
        { "GET", $"/api/audit/{Cam}?from_seq=0", 400, "from_seq" },
        { "GET", $"/api/audit/{Cam}?max=1e9", 400, "max" },
        { "GET", "/notice/nobody", 404, "camera" },
        { "GET", $"/notice/{Cam}?lang=fr", 400, "lang" },
        { "GET", $"/notice/{Cam}?kind=later", 400, "kind" },
        { "GET", "/api/no-such-route", 404, "path" },
    };

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task ABadQueryIsA4xxProblemNamingTheParameter(string method, string url, int status, string parameter)
    {
        using var res = await f.Http.SendAsync(f.Request(new HttpMethod(method), url, ApiRole.Admin));
        await AssertProblem(res, status, parameter);
    }

    public static TheoryData<string, string, string, int, string> BadBodies => new()
    {
        { "/api/cameras", "application/json", "{\"id\": \"x\", ", 400, "body" },
        { "/api/cameras", "application/json", "{\"id\": 5}", 400, "body" },
        { "/api/cameras", "application/json", "[1, 2, 3]", 400, "body" },
        { "/api/cameras", "text/plain", "id=x", 415, "Content-Type" },
        { "/api/cameras", "application/json", "{\"id\": \"" + new string('x', 1 << 20) + "\"}", 413, "body" },
        { "/api/cameras", "application/json", "{\"id\": \"a b\", \"source\": \"x.mp4\", \"manifest\": \"m.yaml\"}", 400, "id" },
        { "/api/cameras", "application/json", "{\"id\": \"cam-x\", \"source\": \"x.mp4\", \"manifest\": \"/nonexistent.yaml\"}", 422, "manifest" },
        { $"/notice/{Cam}/inquiry", "application/x-www-form-urlencoded", "category=objection&message=" + new string('x', 1 << 20), 413, "body" },
        { $"/notice/{Cam}/inquiry", "application/json", "{}", 415, "body" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task ABadBodyIsA4xxProblemNamingTheParameter(string url, string mediaType, string body, int status, string parameter)
    {
        var req = f.Request(HttpMethod.Post, url, ApiRole.Admin);
        req.Content = new StringContent(body, Encoding.UTF8, mediaType);
        // As curl does for a large body: the server can refuse it on its length before it is sent.
        req.Headers.ExpectContinue = true;
        using var res = await f.Http.SendAsync(req);
        await AssertProblem(res, status, parameter);
    }

    // Routes whose answer is a document (not a stream), with the query parameters each reads.
    private static readonly (string Path, string[] Params)[] s_routes =
    [
        ("/api/records", ["class", "camera", "from", "to", "limit"]),
        ("/api/export", ["camera", "contract", "class", "purpose", "from", "to"]),
        ($"/api/audit/{Cam}", ["from_seq", "max"]),
        ($"/notice/{Cam}", ["lang", "kind"]),
        ($"/notice/{Cam}/sign", ["lang"]),
        ("/api/cameras/{}/icon", []),
    ];

    [Fact]
    public async Task NoQueryStringOrPathSegmentGetsA500()
    {
        // Raw (unescaped) characters too: '%' not followed by hex, '&' and '=' inside values, NUL, non-ASCII.
        var text = Gen.String["abzAZ09-_.:+%&=;,/?[]{}\\\"' \t\u0000\u00e9\u3042\ud83d\ude00"];
        var gen = Gen.Select(Gen.Int[0, s_routes.Length - 1], Gen.Int[0, 5], text, Gen.Bool);
        await gen.SampleAsync(async (route, param, value, escape) =>
        {
            var (path, names) = s_routes[route];
            string v = escape ? Uri.EscapeDataString(value) : value;
            string url = names.Length == 0 ? path.Replace("{}", Uri.EscapeDataString(value.Length == 0 ? "x" : value), StringComparison.Ordinal)
                : $"{path}?{names[param % names.Length]}={v}";
            HttpResponseMessage res;
            try { res = await f.Http.SendAsync(f.Request(HttpMethod.Get, url, ApiRole.Admin)); }
            catch (UriFormatException) { return; }          // a URL the client itself will not send
            using (res)
            {
                string body = await res.Content.ReadAsStringAsync();
                Assert.True((int)res.StatusCode < 500, $"GET {url}: {(int)res.StatusCode} {body}");
                // Kestrel itself answers a request line it cannot parse (a NUL or bad UTF-8 in the path) with a bare 400
                // before any of the server's code runs; every answer from the server's code is problem details.
                bool kestrelRefusal = res.StatusCode == HttpStatusCode.BadRequest && body.Length == 0;
                if ((int)res.StatusCode >= 400 && !kestrelRefusal)
                    Assert.True(res.Content.Headers.ContentType?.MediaType == "application/problem+json", $"GET {url}: {(int)res.StatusCode} {res.Content.Headers.ContentType} {body}");
            }
        }, iter: 300, threads: 1);
    }

    private static async Task AssertProblem(HttpResponseMessage res, int status, string parameter)
    {
        string text = await res.Content.ReadAsStringAsync();
        Assert.True((int)res.StatusCode == status, $"{res.RequestMessage!.Method} {res.RequestMessage.RequestUri}: {(int)res.StatusCode} {text}");
        Assert.Equal("application/problem+json", res.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal(status, doc.RootElement.GetProperty("status").GetInt32());
        Assert.True(doc.RootElement.TryGetProperty("parameter", out var p), $"no parameter named: {text}");
        Assert.Equal(parameter, p.GetString());
        Assert.False(string.IsNullOrWhiteSpace(doc.RootElement.GetProperty("detail").GetString()), text);
    }
}
