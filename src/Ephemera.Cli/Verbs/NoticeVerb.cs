using Ephemera.Governance;

namespace Ephemera.Cli;

/// <summary><c>./ephemera notice</c>: the pre-notice, at-capture notice or staff brief rendered from a manifest.</summary>
public sealed class NoticeVerb : IVerb
{
    public string Name => "notice";
    public string Summary => "render a camera's pre-notice, at-capture notice or staff brief (ja/en; md, html, json)";
    public string Usage => """
        usage: ephemera notice --manifest FILE [--kind pre|capture|staff] [--lang ja|en] [--format md|html|json]
          --kind    pre: pre-notice PN1–PN8 (default); capture: at-capture notice AC1–AC7; staff: staff brief (BP-c)
          --lang    ja (default) or en
          --format  md (default), html (layered page: short sign + full text), json (object keyed by requirement id)
        The notice goes to stdout; a one-line summary to stderr.
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["manifest", "kind", "lang", "format"], []);
        var m = ManifestLoader.Load(a.Require("manifest"));
        var kind = (a.Get("kind") ?? "pre") switch
        {
            "pre" => NoticeKind.Pre, "capture" => NoticeKind.Capture, "staff" => NoticeKind.StaffBrief,
            var k => throw new UsageException($"--kind must be pre, capture or staff, got '{k}'"),
        };
        var lang = (a.Get("lang") ?? "ja") switch
        {
            "ja" => NoticeLanguage.Ja, "en" => NoticeLanguage.En,
            var l => throw new UsageException($"--lang must be ja or en, got '{l}'"),
        };
        var doc = NoticeRenderer.Render(m, kind, lang);
        string text = (a.Get("format") ?? "md") switch
        {
            "md" => doc.ToMarkdown(), "html" => doc.ToHtml(), "json" => doc.ToJson(),
            var f => throw new UsageException($"--format must be md, html or json, got '{f}'"),
        };
        Console.OutputEncoding = System.Text.Encoding.UTF8;
        Console.Out.Write(text);
        if (!text.EndsWith('\n')) Console.Out.WriteLine();
        Console.Error.WriteLine($"notice: {kind} ({lang}) for camera {m.CameraId} v{m.Version} ({m.VersionHash[..12]}), {doc.Items.Count} items");
        return 0;
    }
}
