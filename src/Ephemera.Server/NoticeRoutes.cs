using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Ephemera.Core;
using Ephemera.Governance;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using QRCoder;

namespace Ephemera.Server;

/// <summary>
/// The public pages, no login: the notice rendered from the camera's manifest by the same
/// <see cref="NoticeRenderer"/> as the <c>notice</c> verb (ja/en), the printable short sign with a QR
/// code to the full notice, and the inquiry form (BP-d), which keeps only the category, counted in the
/// audit chain; the message is checked for length and dropped, never stored.
/// </summary>
internal static class NoticeRoutes
{
    public const int MaxMessageLength = 2000;
    public static readonly string[] Categories = ["question", "objection", "complaint", "request"];

    public static void Map(WebApplication app)
    {
        app.MapGet("/notice/{camera}", (string camera, HttpContext ctx, ConcurrentDictionary<string, KnownCamera> cameras, string? lang, string? kind) =>
        {
            if (Resolve(camera, cameras, out var m) is { } bad) return bad;
            if (PickLanguage(ctx, lang) is not { } l) return Problems.BadParameter("lang", $"'{lang}' is not ja or en");
            var k = (kind ?? "pre") switch { "pre" => (NoticeKind?)NoticeKind.Pre, "capture" => NoticeKind.Capture, _ => null };
            if (k is null) return Problems.BadParameter("kind", $"'{kind}' is not pre or capture");
            NoticeDocument doc;
            try { doc = NoticeRenderer.Render(m!, k.Value, l); }
            catch (EphemeraException e) { return Problems.Make(422, "Notice cannot be rendered", e.Message, "camera"); }
            return Html(Extend(doc.ToHtml(), NoticeFooter(camera, m!, l, k.Value)), l);
        }).WithMetadata(new RequiresRole(ApiRole.Public)).RequireRateLimiting("public");

        app.MapGet("/notice/{camera}/sign", (string camera, HttpContext ctx, ConcurrentDictionary<string, KnownCamera> cameras, string? lang) =>
        {
            if (Resolve(camera, cameras, out var m) is { } bad) return bad;
            if (PickLanguage(ctx, lang) is not { } l) return Problems.BadParameter("lang", $"'{lang}' is not ja or en");
            NoticeDocument doc;
            try { doc = NoticeRenderer.Render(m!, NoticeKind.Capture, l); }
            catch (EphemeraException e) { return Problems.Make(422, "Notice cannot be rendered", e.Message, "camera"); }
            string url = $"{ctx.Request.Scheme}://{ctx.Request.Host}/notice/{Uri.EscapeDataString(camera)}?lang={Code(l)}";
            return Html(Sign(doc, url, l), l);
        }).WithMetadata(new RequiresRole(ApiRole.Public)).RequireRateLimiting("public");

        app.MapPost("/notice/{camera}/inquiry", async (string camera, HttpContext ctx, ConcurrentDictionary<string, KnownCamera> cameras, ServedEngine engine) =>
        {
            if (Resolve(camera, cameras, out var m) is { } bad) return bad;
            if (!ctx.Request.HasFormContentType) return Problems.Make(415, "Unsupported media type", "send the form as application/x-www-form-urlencoded or multipart/form-data", "body");
            IFormCollection form;
            try { form = await ctx.Request.ReadFormAsync(ctx.RequestAborted); }
            catch (BadHttpRequestException e) { return Problems.Make(e.StatusCode, "Bad request", $"body: the form cannot be read: {e.Message}", "body"); } // 413 over the size limit
            catch (Exception e) when (e is InvalidDataException or IOException)
            { return Problems.BadParameter("body", $"the form cannot be read: {e.Message}"); }
            string category = form["category"].ToString();
            if (Array.IndexOf(Categories, category) < 0)
                return Problems.BadParameter("category", $"'{Trim(category)}' is not one of {string.Join(", ", Categories)}");
            string message = form["message"].ToString();
            int length = message.EnumerateRunes().Count();
            if (length > MaxMessageLength) return Problems.BadParameter("message", $"{length} characters; at most {MaxMessageLength}");
            var l = PickLanguage(ctx, form["lang"].ToString() is { Length: > 0 } fl ? fl : null) ?? NoticeLanguage.Ja;
            engine.RecordInquiry(camera, category, "web");
            var sb = new StringBuilder();
            sb.Append(l == NoticeLanguage.Ja ? "<h1>お問い合わせを受け付けました</h1><p>受け付けたのは種別のみで、本文は保存していません。回答が必要な場合は、下記の窓口に直接ご連絡ください。</p>"
                                             : "<h1>Your inquiry was received</h1><p>Only its category was recorded; the message itself is not stored. For an answer, please contact the desk below directly.</p>");
            sb.Append(Contact(m!, l));
            sb.Append($"<p><a href=\"/notice/{H(camera)}?lang={Code(l)}\">{(l == NoticeLanguage.Ja ? "お知らせに戻る" : "Back to the notice")}</a></p>");
            return Html(Page(l == NoticeLanguage.Ja ? "お問い合わせ" : "Inquiry", sb.ToString(), l), l);
        }).WithMetadata(new RequiresRole(ApiRole.Public)).RequireRateLimiting("inquiry");
    }

    private static IResult? Resolve(string camera, ConcurrentDictionary<string, KnownCamera> cameras, out CameraManifest? manifest)
    {
        manifest = null;
        if (!cameras.TryGetValue(camera, out var known)) return Problems.NotFound("camera", $"no camera '{Trim(camera)}' is known to this server");
        if (known.Manifest is null) return Problems.NotFound("camera", $"camera '{camera}' has no valid manifest, so no notice: {known.ManifestError}");
        manifest = known.Manifest;
        return null;
    }

    private static string Trim(string s) => s.Length <= 40 ? s : s[..40] + "…";

    /// <summary>?lang= wins; otherwise the first of ja/en in Accept-Language by quality; Japanese by default.</summary>
    internal static NoticeLanguage? PickLanguage(HttpContext ctx, string? lang)
    {
        if (lang != null) return lang switch { "ja" => NoticeLanguage.Ja, "en" => NoticeLanguage.En, _ => null };
        var accept = ctx.Request.GetTypedHeaders().AcceptLanguage;
        foreach (var a in accept.OrderByDescending(a => a.Quality ?? 1.0))
        {
            string v = a.Value.ToString();
            if (v.StartsWith("ja", StringComparison.OrdinalIgnoreCase)) return NoticeLanguage.Ja;
            if (v.StartsWith("en", StringComparison.OrdinalIgnoreCase)) return NoticeLanguage.En;
        }
        return NoticeLanguage.Ja;
    }

    private static string Code(NoticeLanguage l) => l == NoticeLanguage.Ja ? "ja" : "en";
    private static string H(string s) => WebUtility.HtmlEncode(s);
    private static string T(LocalizedText t, NoticeLanguage l) => l == NoticeLanguage.Ja ? t.Ja : t.En;

    private static IResult Html(string html, NoticeLanguage l)
    {
        return Results.Text(html, "text/html; charset=utf-8", Encoding.UTF8);
    }

    /// <summary>The renderer's page (the same as the notice verb's) with the web parts added: their style, the language switch on top, contact and form below.</summary>
    private static string Extend(string page, string footer)
    {
        int nav = footer.IndexOf("</nav>", StringComparison.Ordinal);
        string top = nav > 0 ? footer[..(nav + "</nav>".Length)].Replace("class=\"switch\"", "class=\"switch top\"", StringComparison.Ordinal) : "";
        return page.Replace("</head>", WebStyle + "</head>", StringComparison.Ordinal)
                   .Replace("<body>\n", "<body>\n" + top + "\n", StringComparison.Ordinal)
                   .Replace("</body>", footer + "</body>", StringComparison.Ordinal);
    }

    private const string WebStyle =
        "<style>body{line-height:1.6;color:#1b1f24}h2{margin-top:1.4em}nav.switch{margin:1.2em 0;padding:.5em .9em;background:#eef2f6;border-radius:8px}" +
        "nav.switch.top{margin-top:0;text-align:right}section.contact,section.inquiry{border-top:1px solid #d6dbe1;margin-top:1.4em}" +
        ".inquiry textarea{width:100%;font:inherit;padding:.4em}.inquiry select,.inquiry button{font:inherit;padding:.3em .8em}" +
        ".inquiry button{background:#0b5cad;color:#fff;border:0;border-radius:6px;margin-top:.5em;cursor:pointer}</style>";

    private static string Contact(CameraManifest m, NoticeLanguage l)
    {
        var c = m.Contact;
        var sb = new StringBuilder("<section class=\"contact\" id=\"contact\">");
        sb.Append($"<h2>{(l == NoticeLanguage.Ja ? "問い合わせ窓口" : "Contact")}</h2><p>{H(T(m.Operator, l))}<br>{H(T(c.Desk, l))}");
        if (c.Phone != null) sb.Append($"<br>{(l == NoticeLanguage.Ja ? "電話" : "Phone")}: {H(c.Phone)}");
        if (c.Email != null) sb.Append($"<br>{(l == NoticeLanguage.Ja ? "メール" : "Email")}: {H(c.Email)}");
        if (c.Url != null) sb.Append($"<br><a href=\"{H(c.Url)}\">{H(c.Url)}</a>");
        if (c.Hours != null) sb.Append($"<br>{(l == NoticeLanguage.Ja ? "受付時間" : "Hours")}: {H(T(c.Hours, l))}");
        return sb.Append("</p></section>\n").ToString();
    }

    private static string NoticeFooter(string camera, CameraManifest m, NoticeLanguage l, NoticeKind kind)
    {
        bool ja = l == NoticeLanguage.Ja;
        string cam = Uri.EscapeDataString(camera), k = kind == NoticeKind.Capture ? "capture" : "pre";
        var sb = new StringBuilder("<nav class=\"switch\">");
        sb.Append(ja ? $"<a href=\"/notice/{cam}?lang=en&amp;kind={k}\" hreflang=\"en\">English</a>" : $"<a href=\"/notice/{cam}?lang=ja&amp;kind={k}\" hreflang=\"ja\">日本語</a>");
        sb.Append(kind == NoticeKind.Pre
            ? $" · <a href=\"/notice/{cam}?lang={Code(l)}&amp;kind=capture\">{(ja ? "撮影時のお知らせ" : "At-capture notice")}</a>"
            : $" · <a href=\"/notice/{cam}?lang={Code(l)}&amp;kind=pre\">{(ja ? "事前のお知らせ" : "Pre-notice")}</a>");
        sb.Append($" · <a href=\"/notice/{cam}/sign?lang={Code(l)}\">{(ja ? "掲示用の表示" : "Printable sign")}</a></nav>\n");
        sb.Append(Contact(m, l));
        sb.Append($"<section class=\"inquiry\" id=\"inquiry\"><h2>{(ja ? "お問い合わせ・ご意見" : "Questions and objections")}</h2>");
        sb.Append($"<form method=\"post\" action=\"/notice/{cam}/inquiry\"><input type=\"hidden\" name=\"lang\" value=\"{Code(l)}\">");
        sb.Append($"<label>{(ja ? "種別" : "Category")} <select name=\"category\">");
        string[] labelsJa = ["質問", "異議", "苦情", "要望"], labelsEn = ["Question", "Objection", "Complaint", "Request"];
        for (int i = 0; i < Categories.Length; i++) sb.Append($"<option value=\"{Categories[i]}\">{(ja ? labelsJa[i] : labelsEn[i])}</option>");
        sb.Append($"</select></label><br><label>{(ja ? "内容（" + MaxMessageLength + "字以内。保存されません）" : "Message (up to " + MaxMessageLength + " characters; not stored)")}<br>");
        sb.Append($"<textarea name=\"message\" maxlength=\"{MaxMessageLength}\" rows=\"5\" cols=\"60\"></textarea></label><br>");
        sb.Append($"<button type=\"submit\">{(ja ? "送信" : "Send")}</button></form></section>\n");
        return sb.ToString();
    }

    private static string Page(string title, string body, NoticeLanguage l) =>
        $"<!DOCTYPE html>\n<html lang=\"{Code(l)}\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{H(title)}</title>\n" +
        "<style>body{font-family:sans-serif;max-width:46em;margin:auto;padding:1em}</style></head>\n<body>\n" + body + "</body>\n</html>\n";

    /// <summary>The layered short sign as a printable A4 page, with a QR code (SVG) to the full notice.</summary>
    private static string Sign(NoticeDocument doc, string url, NoticeLanguage l)
    {
        using var gen = new QRCodeGenerator();
        using var data = gen.CreateQrCode(url, QRCodeGenerator.ECCLevel.M);
        string svg = new SvgQRCode(data).GetGraphic(6);
        bool ja = l == NoticeLanguage.Ja;
        string body = $"<main class=\"sign\"><h1>{H(doc.Title)}</h1><p class=\"short\">{H(doc.ShortSign).Replace("\n", "<br>")}</p>" +
                      $"<figure class=\"qr\">{svg}<figcaption>{(ja ? "詳しくはこちら" : "Full notice")}: <a href=\"{H(url)}\">{H(url)}</a></figcaption></figure></main>\n";
        return $"<!DOCTYPE html>\n<html lang=\"{Code(l)}\">\n<head><meta charset=\"utf-8\"><title>{H(doc.Title)}</title>\n" +
               "<style>@page{size:A4;margin:15mm}body{font-family:sans-serif;margin:0}.sign{border:6px solid #222;padding:12mm;max-width:180mm;margin:auto}" +
               "h1{font-size:28pt;margin:0 0 6mm}.short{font-size:16pt;line-height:1.5}.qr svg{width:45mm;height:45mm}figcaption{font-size:11pt;word-break:break-all}</style></head>\n<body>\n" +
               body + "</body>\n</html>\n";
    }
}
