using System.Text.Json;
using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Governance.Tests;

public class NoticeTests
{
    public static IEnumerable<object[]> Combinations =>
        from f in Bundled.Files
        from k in Enum.GetValues<NoticeKind>()
        from l in Enum.GetValues<NoticeLanguage>()
        select new object[] { f, k, l };

    [Theory]
    [MemberData(nameof(Combinations))]
    public void Every_item_is_present_in_every_format_with_the_manifest_values(string file, NoticeKind kind, NoticeLanguage lang)
    {
        var m = Bundled.Load(file);
        var doc = NoticeRenderer.Render(m, kind, lang);
        var json = JsonDocument.Parse(doc.ToJson()).RootElement;
        string md = doc.ToMarkdown(), html = doc.ToHtml();
        foreach (var id in NoticeRenderer.RequiredIds(kind))
        {
            Assert.True(json.TryGetProperty(id, out var v) && v.GetString() is { Length: > 10 }, $"{file} {kind} {lang}: {id} missing or empty");
            Assert.Contains($"({id})", md);
            Assert.Contains($"data-req=\"{id}\"", html);
        }
        string all = string.Join("\n", doc.Items.Select(i => i.Text)) + doc.ShortSign;
        // Values from the manifest, in the notice's language.
        Assert.Contains(m.Operator[lang], all);
        Assert.Contains(m.Contact.Desk[lang], all);
        if (m.Contact.Phone is { } phone) Assert.Contains(phone, all);
        Assert.Contains(m.PreNotice.Url, all);
        Assert.Contains(m.PurposeText[lang], all);
        if (kind != NoticeKind.StaffBrief)
        {
            Assert.Contains(m.Benefit[lang].TrimEnd('。', '.'), all);
            Assert.Contains(m.Location.Place[lang], all);
            Assert.Contains(m.Location.Coverage[lang], all);
            Assert.Contains(m.DerivedData.Explanation[lang].TrimEnd('。', '.'), all);
        }
        foreach (var r in m.Recipients) { Assert.Contains(r.ContractId, all); Assert.Contains(r.Recipient[lang], all); }
        if (kind == NoticeKind.Pre)
        {
            string date = lang == NoticeLanguage.Ja ? $"{m.StartDate.Year}年{m.StartDate.Month}月{m.StartDate.Day}日" : m.StartDate.ToString("d MMMM yyyy", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains(date, doc["PN8"]);
            if (m.Jurisdiction is { } j) Assert.Contains(j.Ordinances[0], doc["BP-e"]);
        }
        if (kind != NoticeKind.Pre)
            foreach (var o in m.Outputs) { Assert.Contains(Durations.Format(o.Retention, lang), doc["AC5"]); Assert.Contains(o.Responsible[lang], doc["AC5"]); }
        if (lang == NoticeLanguage.Ja)
        {
            Assert.Contains("ます。", all); // です・ます style
            Assert.DoesNotContain(" the ", all);
        }
        else Assert.DoesNotContain("ます", string.Join("\n", doc.Items.Where(i => i.Id is "PN6" or "AC6" or "PN8").Select(i => i.Text)));
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("class=\"sign\"", html);
        Assert.Contains("id=\"full\"", html);
    }

    [Fact]
    public void Rendering_fails_naming_a_missing_field()
    {
        var m = Bundled.Load("case3-outdoor-counts.yaml");
        var broken = new CameraManifest
        {
            SourcePath = m.SourcePath, CameraId = m.CameraId, Version = m.Version, Kind = m.Kind, SpaceType = m.SpaceType,
            Operator = m.Operator, Contact = m.Contact, Jurisdiction = m.Jurisdiction, Captured = m.Captured, PurposeText = m.PurposeText,
            Benefit = new LocalizedText("メリット", ""), Rationale = m.Rationale, Location = m.Location, Outputs = m.Outputs,
            DerivedData = m.DerivedData, Recipients = m.Recipients, StartDate = m.StartDate, PreNotice = m.PreNotice, AtCapture = m.AtCapture, Privacy = m.Privacy,
        };
        Assert.NotNull(NoticeRenderer.Render(broken, NoticeKind.Pre, NoticeLanguage.Ja));
        var e = Assert.Throws<NoticeRenderException>(() => NoticeRenderer.Render(broken, NoticeKind.Capture, NoticeLanguage.En));
        Assert.Contains("AC2", e.Message);
        Assert.Contains("purpose.benefit", e.Message);
    }

    [Fact]
    public void Html_escapes_manifest_text()
    {
        string text = Bundled.Text("case1-store-attributes.yaml").Replace("en: shorter waits at the checkout", "en: <script>x</script> shorter waits at the checkout");
        var m = ManifestLoader.Parse(text, "x");
        string html = NoticeRenderer.Render(m, NoticeKind.Capture, NoticeLanguage.En).ToHtml();
        Assert.DoesNotContain("<script>", html);
        Assert.Contains("&lt;script&gt;", html);
    }
}
