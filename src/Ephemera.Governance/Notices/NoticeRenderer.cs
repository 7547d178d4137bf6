using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Governance;

public enum NoticeKind { Pre, Capture, StaffBrief }
public enum NoticeLanguage { Ja, En }

/// <summary>A notice item is incomplete; names the item and the manifest field.</summary>
public sealed class NoticeRenderException(string message) : EphemeraException(message);

/// <summary>One numbered item of a notice, keyed by requirement id (PN1…PN8, AC1…AC7, …).</summary>
public sealed record NoticeItem(string Id, string Heading, string Text);

/// <summary>
/// A rendered notice: the short sign text (first layer) and the full items (second layer), with the URL
/// of the full text. Formats: Markdown, a layered HTML page, and JSON keyed by requirement id.
/// </summary>
public sealed record NoticeDocument(NoticeKind Kind, NoticeLanguage Language, string CameraId, string Title, string ShortSign, string Url,
    IReadOnlyList<NoticeItem> Items)
{
    public string this[string id] => Items.First(i => i.Id == id).Text;

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.Append("# ").Append(Title).Append("\n\n");
        foreach (var line in ShortSign.Split('\n')) sb.Append("> ").Append(line).Append('\n');
        sb.Append('\n');
        foreach (var i in Items) sb.Append("## ").Append(i.Heading).Append(" (").Append(i.Id).Append(")\n\n").Append(i.Text).Append("\n\n");
        sb.Append(Language == NoticeLanguage.Ja ? "全文：" : "Full text: ").Append(Url).Append('\n');
        return sb.ToString();
    }

    /// <summary>Layered page (EDPB 3/2019, guidebook 4.3): short sign first, full text below, link to the published full text.</summary>
    public string ToHtml()
    {
        static string H(string s) => WebUtility.HtmlEncode(s).Replace("\n", "<br>");
        var sb = new StringBuilder();
        string lang = Language == NoticeLanguage.Ja ? "ja" : "en";
        sb.Append($"<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{H(Title)}</title>\n");
        sb.Append("<style>body{font-family:sans-serif;max-width:46em;margin:auto;padding:1em}.sign{border:3px solid #333;padding:1em;font-size:1.2em}.req{color:#666;font-size:.8em}</style></head>\n<body>\n");
        sb.Append($"<section class=\"sign\" id=\"sign\">\n<h1>{H(Title)}</h1>\n<p>{H(ShortSign)}</p>\n");
        sb.Append($"<p class=\"full-link\"><a href=\"{H(Url)}\">{H(Url)}</a> · <a href=\"#full\">{(lang == "ja" ? "詳しい説明" : "Full notice")}</a></p>\n");
        sb.Append($"<p class=\"qr\" data-qr=\"{H(Url)}\">{(lang == "ja" ? "QRコード／URL" : "QR code / URL")}: {H(Url)}</p>\n</section>\n");
        sb.Append("<section class=\"full\" id=\"full\">\n");
        foreach (var i in Items)
            sb.Append($"<h2 id=\"{H(i.Id)}\">{H(i.Heading)} <span class=\"req\">{H(i.Id)}</span></h2>\n<p data-req=\"{H(i.Id)}\">{H(i.Text)}</p>\n");
        sb.Append("</section>\n</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>One object keyed by requirement id holding each item's text (in item order).</summary>
    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            foreach (var i in Items) w.WriteString(i.Id, i.Text);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}

/// <summary>
/// Renders the pre-notice (PN1–PN8, 4.2), the at-capture notice (AC1–AC7, 4.3) and the staff brief
/// (BP-c) from one manifest, in natural Japanese (です・ます) and English. Every value comes from the
/// manifest; AC5 prints each declared class's <see cref="DeclaredOutput.Retention"/>, the very value
/// <see cref="EphemeraStore.ApplyRetention"/> enforces. A missing item fails, naming item and field.
/// </summary>
public static class NoticeRenderer
{
    public static NoticeDocument Render(CameraManifest m, NoticeKind kind, NoticeLanguage lang)
    {
        var r = new Ctx(m, lang);
        return kind switch
        {
            NoticeKind.Pre => r.Pre(),
            NoticeKind.Capture => r.Capture(),
            NoticeKind.StaffBrief => r.Staff(),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    /// <summary>The requirement ids each kind must contain (its own required set, REQUIREMENTS.md 4.2/4.3).</summary>
    public static IReadOnlyList<string> RequiredIds(NoticeKind kind) => kind switch
    {
        NoticeKind.Pre => ["PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7", "PN8"],
        NoticeKind.Capture => ["AC1", "AC2", "AC3", "AC4", "AC5", "AC6", "AC7"],
        _ => ["PN1", "H1", "PN6", "AC5", "PN7", "BP-b", "BP-c", "G3"],
    };

    private sealed class Ctx(CameraManifest m, NoticeLanguage lang)
    {
        private readonly bool _ja = lang == NoticeLanguage.Ja;

        private string T(LocalizedText? t, string field, string item)
        {
            string? v = t?[lang];
            if (string.IsNullOrWhiteSpace(v)) throw new NoticeRenderException($"{item}: cannot render the {(lang == NoticeLanguage.Ja ? "Japanese" : "English")} notice for camera {m.CameraId}: {field} is missing");
            return v.Trim();
        }

        private static string S(string? v, string field, string item, string camera) =>
            string.IsNullOrWhiteSpace(v) ? throw new NoticeRenderException($"{item}: cannot render the notice for camera {camera}: {field} is missing") : v.Trim();

        private string Date(DateTimeOffset d)
        {
            var j = d.ToOffset(TimeSpan.FromHours(9));
            return _ja ? $"{j.Year}年{j.Month}月{j.Day}日" : j.ToString("d MMMM yyyy", CultureInfo.InvariantCulture);
        }

        private string List(IEnumerable<string> items)
        {
            var l = items.ToList();
            if (_ja || l.Count < 2) return string.Join("、", l);
            return string.Join(", ", l.Take(l.Count - 1)) + " and " + l[^1];
        }

        private static string EndJa(string s) => s.EndsWith('。') || s.EndsWith('）') || s.EndsWith('」') ? s : s + "。";
        private static string EndEn(string s) => s.EndsWith('.') || s.EndsWith(')') ? s : s + ".";
        private string End(string s) => _ja ? EndJa(s) : EndEn(s);

        private string Operator() => T(m.Operator, "operator.name", "PN2");

        private string Contact(string item)
        {
            var c = m.Contact ?? throw new NoticeRenderException($"{item}: cannot render the notice for camera {m.CameraId}: operator.contact is missing");
            string desk = T(c.Desk, "operator.contact.desk", item);
            var parts = new List<string>();
            if (c.Phone is { Length: > 0 } p) parts.Add(_ja ? $"電話 {p}" : $"phone {p}");
            if (c.Email is { Length: > 0 } e) parts.Add(_ja ? $"メール {e}" : $"email {e}");
            if (c.Url is { Length: > 0 } u) parts.Add(_ja ? $"ウェブ {u}" : $"web {u}");
            if (parts.Count == 0) throw new NoticeRenderException($"{item}: cannot render the notice for camera {m.CameraId}: operator.contact needs a phone, email or url");
            if (c.Hours is { } h) parts.Add(_ja ? $"受付時間 {h.Ja}" : $"hours {h.En}");
            return _ja
                ? $"このカメラは{Operator()}が運営しています。ご質問・ご意見・苦情は、{desk}（{List(parts)}）までお寄せください。"
                : $"This camera is operated by {EndEn(Operator())} Please send questions, comments or complaints to {desk} ({List(parts)}).";
        }

        private string Purpose()
        {
            string captured = T(m.Captured, "purpose.captured", "PN1"), purpose = T(m.PurposeText, "purpose.text", "PN1");
            return _ja ? $"このカメラでは、{captured}を撮影します。利用目的：{EndJa(purpose)}"
                       : $"This camera captures {captured}. Purpose: {EndEn(purpose)}";
        }

        private string Benefit(string item) => _ja ? EndJa(T(m.Benefit, "purpose.benefit", item)) : $"How this helps you: {EndEn(T(m.Benefit, "purpose.benefit", item))}";

        private string Location(string item)
        {
            string place = T(m.Location?.Place, "location.place", item), cov = T(m.Location?.Coverage, "location.coverage", item);
            return _ja ? $"設置場所は{place}です。撮影範囲は{cov}です。" : $"The camera is installed at {place}. It covers {cov}.";
        }

        private IEnumerable<DeclaredOutput> Stored => (m.Outputs ?? []).Where(o => o.Storage != StorageKind.Memory);
        private IEnumerable<DeclaredOutput> Destroyed => (m.Outputs ?? []).Where(o => o.Storage == StorageKind.Memory);

        private string Derived(string item)
        {
            if (m.Outputs is not { Count: > 0 }) throw new NoticeRenderException($"{item}: cannot render the notice for camera {m.CameraId}: outputs are missing");
            string summary = T(m.DerivedData?.Summary, "derived_data.summary", item);
            string stored = List(Stored.Select(o => PurposeCatalog.Name(o.Class, lang)));
            string destroyed = List(Destroyed.Select(o => PurposeCatalog.Name(o.Class, lang)));
            return (_ja
                ? $"{EndJa(summary)}保存するデータは、{stored}です。{destroyed}は、必要なデータを取り出した後ただちに消去し、保存しません。"
                : $"{EndEn(summary)} We keep only: {stored}. The {destroyed} are erased immediately after the needed data is extracted and are never stored.")
                + Anonymised();
        }

        /// <summary>Case 4: what the kept images contain, from the manifest's anonymise rules (the ones the anonymiser runs).</summary>
        private string Anonymised()
        {
            if (m.Kind != PurposeKind.Case4) return "";
            var a = m.Anonymise ?? AnonymiseSettings.Default;
            bool solid = a.Mask == "solid_fill";
            return _ja
                ? $"画像では、顔とナンバープレートを必ず{(solid ? "塗りつぶし" : "粗いモザイク")}で隠します。表札や番地などの小さな文字は{(a.MaskSmallText ? "隠します" : "隠しません")}。" +
                  $"看板や道路標識などの大きな文字は{(a.MaskLargeText ? "隠します" : "残します")}。顔が検出できなかった人の頭部は{(a.MaskHeadBands ? "隠します" : "隠しません")}。" +
                  "保存する前に、隠した画像をもう一度検出にかけ、顔やナンバープレートが残っていれば保存しません。"
                : $" In the images, faces and licence plates are always {(solid ? "filled solid" : "covered by a coarse mosaic")}; small text such as nameplates and house numbers is " +
                  $"{(a.MaskSmallText ? "masked" : "kept")}; large text such as shop and road signs is {(a.MaskLargeText ? "masked" : "kept")}; the head of a person whose face was not found is " +
                  $"{(a.MaskHeadBands ? "masked" : "not masked")}. Before an image is kept, it is checked by detecting again, and an image in which a face or a plate remains is not kept.";
        }

        private string Identifiability(string item)
        {
            var d = m.DerivedData ?? throw new NoticeRenderException($"{item}: cannot render the notice for camera {m.CameraId}: derived_data is missing");
            string ex = T(d.Explanation, "derived_data.explanation", item);
            return d.Identifiable
                ? (_ja ? $"保存するデータから特定の個人を識別できる可能性があります。{EndJa(ex)}" : $"Individuals may be identifiable from the stored data. {EndEn(ex)}")
                : (_ja ? $"保存するデータから特定の個人を識別することはできません。{EndJa(ex)}" : $"No individual can be identified from the stored data. {EndEn(ex)}");
        }

        private string Recipients(string item)
        {
            if (m.Recipients is null) throw new NoticeRenderException($"{item}: cannot render the notice for camera {m.CameraId}: recipients are missing");
            if (m.Recipients.Count == 0) return _ja ? "第三者への提供は行いません。" : "We do not provide the data to any third party.";
            return string.Join(_ja ? "" : " ", m.Recipients.Select(r =>
            {
                string who = T(r.Recipient, "recipients[].recipient", item);
                string id = S(r.ContractId, "recipients[].contract_id", item, m.CameraId);
                string classes = List(r.Classes.Select(c => PurposeCatalog.Name(c, lang)));
                string purposes = List(r.Purposes.Select(p => p[lang]));
                return _ja
                    ? $"{who}に、契約（契約番号 {id}）に基づき{classes}を提供します。提供先での利用目的は{purposes}に限ります。提供するのは{Durations.Format(r.GranularityFloor, lang).Replace("日間", "日").Replace("年間", "年").Replace("分間", "分").Replace("秒間", "秒")}単位以上の集計のみで、提供先での保存期間は{Durations.Format(r.RetentionAtRecipient, lang)}です。個人の再識別は契約で禁止しています。"
                    : $"We provide {classes} to {who} under contract {id}, only for: {purposes}. Data is provided in bins of at least {Durations.Format(r.GranularityFloor, lang)}, the recipient keeps it for at most {Durations.Format(r.RetentionAtRecipient, lang)}, and the contract forbids re-identifying anyone.";
            }));
        }

        private string Retention()
        {
            if (m.Outputs is not { Count: > 0 }) throw new NoticeRenderException($"AC5: cannot render the notice for camera {m.CameraId}: outputs are missing");
            var lines = m.Outputs.Select(o =>
            {
                string name = PurposeCatalog.Name(o.Class, lang);
                string where = T(o.Location, $"outputs[{o.Class}].location", "AC5"), who = T(o.Responsible, $"outputs[{o.Class}].responsible", "AC5");
                string keep = Durations.Format(o.Retention, lang);
                return o.Storage == StorageKind.Memory
                    ? (_ja ? $"・{name}：{keep}。処理場所：{where}、管理責任者：{who}" : $"- {name}: {keep}; processed in {where}; responsible: {who}")
                    : o.Storage == StorageKind.Latest
                        ? (_ja ? $"・{name}：最新の1件のみ保持し、新しいものに置き換えます（最長{keep}。保存場所：{where}、管理責任者：{who}）"
                               : $"- {name}: only the latest one is kept, each new one replaces it (at most {keep}; stored at {where}; responsible: {who})")
                        : (_ja ? $"・{name}：{keep}保存した後、自動的に削除します（保存場所：{where}、管理責任者：{who}）"
                               : $"- {name}: kept for {keep}, then deleted automatically (stored at {where}; responsible: {who})");
            });
            return (_ja ? "データの保存期間は次のとおりです。\n" : "How long data is kept:\n") + string.Join("\n", lines);
        }

        private string StartDate() => _ja ? $"{Date(m.StartDate)}から撮影を開始します。" : $"Capture starts on {Date(m.StartDate)}.";

        private string Reuse() => _ja
            ? $"撮影した画像や生成したデータを、ここに記載した目的以外に利用することはありません。目的や取り扱いを変更する場合は、改めて事前にお知らせします（お知らせ第{m.Version}版、{m.VersionHash[..12]}）。"
            : $"Images and data are never used for any purpose other than the one stated here. Any change of purpose or handling will be announced in advance with a new notice (notice version {m.Version}, {m.VersionHash[..12]}).";

        private string Feedback() => _ja
            ? $"このカメラについてのご意見・苦情は、{T(m.Contact?.Desk, "operator.contact.desk", "BP-d")}{(m.Contact?.Url is { } u ? $"（{u}）" : "")}で受け付けています。いただいたご意見は運用の見直しに役立てます。"
            : $"Comments and complaints about this camera are welcome at {T(m.Contact?.Desk, "operator.contact.desk", "BP-d")}{(m.Contact?.Url is { } link ? $" ({link})" : "")}; we use them to review how the camera is run.";

        private NoticeItem? Ordinances()
        {
            if (m.Jurisdiction is not { } j) return null;
            string area = T(j.Area, "jurisdiction.area", "BP-e");
            return _ja
                ? new NoticeItem("BP-e", "関係する条例", $"{area}の次の条例に従って運用しています：{List(j.Ordinances)}。")
                : new NoticeItem("BP-e", "Local ordinances", $"Operated in accordance with the following ordinances of {area}: {List(j.Ordinances)}.");
        }

        private string Rationale()
        {
            var r = m.Rationale ?? throw new NoticeRenderException($"ver3.0: cannot render the notice for camera {m.CameraId}: purpose.rationale is missing");
            return _ja
                ? $"目的の正当性：{EndJa(T(r.Legitimacy, "purpose.rationale.legitimacy", "ver3.0"))}\n撮影の必要性：{EndJa(T(r.Necessity, "purpose.rationale.necessity", "ver3.0"))}\n方法の相当性：{EndJa(T(r.Method, "purpose.rationale.method", "ver3.0"))}"
                : $"Legitimacy of the purpose: {EndEn(T(r.Legitimacy, "purpose.rationale.legitimacy", "ver3.0"))}\nNecessity of filming: {EndEn(T(r.Necessity, "purpose.rationale.necessity", "ver3.0"))}\nAppropriateness of the method: {EndEn(T(r.Method, "purpose.rationale.method", "ver3.0"))}";
        }

        private string Url() => S(m.PreNotice?.Url, "pre_notice.url", "PN-T1", m.CameraId);

        private string ShortSign(bool capture)
        {
            string purpose = T(m.PurposeText, "purpose.text", "PN1");
            string desk = T(m.Contact?.Desk, "operator.contact.desk", "AC1");
            string reach = m.Contact?.Phone ?? m.Contact?.Email ?? m.Contact?.Url ?? "";
            string destroyedNote = _ja ? "撮影した画像は必要なデータを取り出した後ただちに消去し、個人を特定することはありません。" : "Images are erased right after the needed data is extracted; no one is identified.";
            string head = capture ? (_ja ? "カメラ作動中" : "Camera in operation") : (_ja ? $"{Date(m.StartDate)}からカメラの運用を開始します" : $"Camera operation starts on {Date(m.StartDate)}");
            return _ja
                ? $"{head}\n{Operator()}：{EndJa(purpose)}\n{destroyedNote}\n詳しくは {Url()}　お問い合わせ：{desk} {reach}"
                : $"{head}\n{Operator()}: {EndEn(purpose)}\n{destroyedNote}\nDetails: {Url()}  Contact: {desk} {reach}";
        }

        public NoticeDocument Pre()
        {
            var items = new List<NoticeItem>
            {
                new("PN1", _ja ? "撮影する内容と利用目的" : "What we capture and why", Purpose()),
                new("PN2", _ja ? "運営主体と連絡先" : "Operator and contact", Contact("PN2")),
                new("PN3", _ja ? "皆さまへのメリット" : "Benefit to you", Benefit("PN3")),
                new("PN4", _ja ? "設置場所と撮影範囲" : "Camera location and field of view", Location("PN4")),
                new("PN5", _ja ? "生成・抽出するデータ" : "Data generated or extracted", Derived("PN5")),
                new("PN6", _ja ? "個人の識別について" : "Can anyone be identified?", Identifiability("PN6")),
                new("PN7", _ja ? "第三者への提供" : "Third-party recipients", Recipients("PN7")),
                new("PN8", _ja ? "撮影開始日" : "Start date", StartDate()),
                new("PN-R", _ja ? "目的外の利用について" : "No reuse for other purposes", Reuse()),
                new("ver3.0", _ja ? "目的・必要性・方法の説明" : "Why this purpose, why filming, why this method", Rationale()),
                new("BP-d", _ja ? "ご意見・苦情の受付" : "Comments and complaints", Feedback()),
            };
            if (Ordinances() is { } o) items.Add(o);
            return new NoticeDocument(NoticeKind.Pre, lang, m.CameraId, _ja ? "カメラ画像の利用に関する事前のお知らせ" : "Advance notice: use of camera images",
                ShortSign(capture: false), Url(), items);
        }

        public NoticeDocument Capture()
        {
            var items = new List<NoticeItem>
            {
                new("AC1", _ja ? "運営主体と連絡先" : "Operator and contact", Contact("AC1")),
                new("AC2", _ja ? "皆さまへのメリット" : "Benefit to you", Benefit("AC2")),
                new("AC3", _ja ? "設置場所と撮影範囲" : "Camera location and field of view", Location("AC3")),
                new("AC4", _ja ? "生成・抽出するデータ" : "Data generated or extracted", Derived("AC4")),
                new("AC5", _ja ? "データの保存期間" : "How long data is kept", Retention()),
                new("AC6", _ja ? "個人の識別について" : "Can anyone be identified?", Identifiability("AC6")),
                new("AC7", _ja ? "第三者への提供" : "Third-party recipients", Recipients("AC7")),
                new("BP-d", _ja ? "ご意見・苦情の受付" : "Comments and complaints", Feedback()),
            };
            if (Ordinances() is { } o) items.Add(o);
            return new NoticeDocument(NoticeKind.Capture, lang, m.CameraId, _ja ? "カメラ作動中のお知らせ" : "Camera in operation",
                ShortSign(capture: true), Url(), items);
        }

        public NoticeDocument Staff()
        {
            string desk = T(m.Contact?.Desk, "operator.contact.desk", "BP-b");
            string destroyed = List(Destroyed.Select(o => PurposeCatalog.Name(o.Class, lang)));
            var items = new List<NoticeItem>
            {
                new("PN1", _ja ? "このカメラの目的" : "What this camera is for", Purpose()),
                new("H1", _ja ? "画像の扱い" : "What happens to the images",
                    _ja ? $"{destroyed}は、必要なデータを取り出した直後に機器の中で消去され、どこにも保存されません。録画はしていません。消去の記録は改ざんできない監査ログに残ります。"
                        : $"The {destroyed} are erased inside the device right after the needed data is extracted and are stored nowhere; nothing is recorded. Each erasure is logged in a tamper-evident audit log."),
                new("PN6", _ja ? "個人を特定しないこと" : "No one is identified", Identifiability("PN6")),
                new("AC5", _ja ? "保存するデータと期間" : "What is kept, and for how long", Retention()),
                new("PN7", _ja ? "第三者への提供" : "Third-party recipients", Recipients("PN7")),
                new("BP-b", _ja ? "問い合わせ先" : "Contact point", Contact("BP-b")),
                new("BP-c", _ja ? "お客様への説明のしかた" : "How to answer people",
                    _ja ? $"カメラについて尋ねられたら、掲示している案内と {Url()} をご案内し、上の内容のとおり説明してください。撮影を望まれない方からの申し出、ご意見や苦情は、内容と日時を記録し、{desk}に取り次いでください。分からないことは推測で答えず、{desk}に確認してください。"
                        : $"When asked about the camera, point to the sign and {Url()} and explain as above. Record any objection, comment or complaint with date and time and pass it to {desk}. Do not guess: if unsure, check with {desk}."),
                new("G3", _ja ? "この目的以外には使いません" : "Not used for anything else",
                    _ja ? "このカメラは防犯・監視、顔認証、個人の特定、再来店の分析には使いません。画像を確認したり取り出したりすることは、どのスタッフにもできません。"
                        : "This camera is not used for security or surveillance, face recognition, identifying anyone, or tracking repeat visits. No staff member can view or retrieve images."),
            };
            return new NoticeDocument(NoticeKind.StaffBrief, lang, m.CameraId, _ja ? "スタッフ向け説明資料（カメラ画像の利用）" : "Staff brief: use of camera images",
                ShortSign(capture: true), Url(), items);
        }
    }
}
