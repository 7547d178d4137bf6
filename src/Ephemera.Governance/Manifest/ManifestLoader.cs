using System.Globalization;
using System.Text.RegularExpressions;
using Ephemera.Core;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ephemera.Governance;

/// <summary>
/// Reads a camera manifest (YAML) and checks it against the guidebook. Every missing or malformed field
/// is its own <see cref="ManifestProblem"/> naming the field path and requirement id; all are reported
/// together in one <see cref="ManifestValidationException"/>. YAML syntax errors name file, line, column.
/// Date-only values (<c>2026-11-20</c>) mean 00:00 Japan Standard Time (+09:00).
/// </summary>
/// <summary>One file of <see cref="ManifestLoader.LoadDirectory"/>: the manifest, or why it cannot run its camera.</summary>
public sealed record ManifestLoadResult(string Path, CameraManifest? Manifest, EphemeraException? Error)
{
    public bool Ok => Manifest is not null;
}

public static partial class ManifestLoader
{
    public static CameraManifest Load(string path)
    {
        if (!File.Exists(path)) throw new EphemeraException($"manifest not found: {path}");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Loads every <c>*.yaml</c> manifest of a directory, each on its own: a bad manifest yields its error
    /// and stops only its camera, the others load (ordered by file name).
    /// </summary>
    public static IReadOnlyList<ManifestLoadResult> LoadDirectory(string directory)
    {
        if (!Directory.Exists(directory)) throw new EphemeraException($"manifest directory not found: {directory}");
        return Directory.GetFiles(directory, "*.yaml").Concat(Directory.GetFiles(directory, "*.yml")).Order(StringComparer.Ordinal)
            .Select(path =>
            {
                try { return new ManifestLoadResult(path, Load(path), null); }
                catch (EphemeraException e) { return new ManifestLoadResult(path, null, e); }
            }).ToList();
    }

    /// <summary>Parses manifest text; <paramref name="sourceName"/> names it in messages.</summary>
    public static CameraManifest Parse(string yaml, string sourceName)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlException e)
        {
            throw new EphemeraException($"{sourceName}:{e.Start.Line}:{e.Start.Column}: YAML syntax error: {e.InnerException?.Message ?? e.Message}");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException) // YamlDotNet's scanner/parser on some malformed input
        {
            throw new EphemeraException($"{sourceName}: YAML syntax error (unbalanced bracket or brace?): {e.Message}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ManifestValidationException(sourceName, [new ManifestProblem("BP-a", "(root)", "manifest must be a YAML mapping of fields", 1, 1)]);
        var reader = new Reader(sourceName);
        var manifest = reader.Read(new Section(root, ""));
        if (reader.Problems.Count > 0 || manifest is null) throw new ManifestValidationException(sourceName, reader.Problems);
        return manifest;
    }

    /// <summary>A mapping node with its path; remembers which keys were read so unknown ones are reported.</summary>
    private sealed class Section(YamlMappingNode node, string path)
    {
        public YamlMappingNode Node { get; } = node;
        public string Path { get; } = path;
        private readonly HashSet<string> _read = new(StringComparer.Ordinal);

        public YamlNode? Get(string key)
        {
            _read.Add(key);
            foreach (var kv in Node.Children)
                if (kv.Key is YamlScalarNode s && s.Value == key) return IsNull(kv.Value) ? null : kv.Value;
            return null;
        }

        public string Sub(string key) => Path.Length == 0 ? key : $"{Path}.{key}";
        public IEnumerable<(string Key, YamlNode Node)> Unread() =>
            Node.Children.Where(kv => kv.Key is YamlScalarNode s && !_read.Contains(s.Value ?? "")).Select(kv => (((YamlScalarNode)kv.Key).Value ?? "", kv.Key));

        private static bool IsNull(YamlNode n) => n is YamlScalarNode { Style: ScalarStyle.Plain } s && (s.Value is null or "" or "~" or "null");
    }

    private sealed partial class Reader(string source)
    {
        public List<ManifestProblem> Problems { get; } = new();
        private readonly string _source = source;

        private void Error(string req, string path, string message, YamlNode? at) =>
            Problems.Add(new ManifestProblem(req, path, message, (int)(at?.Start.Line ?? 0), (int)(at?.Start.Column ?? 0)));

        /// <summary>"retention|for data class Count" reads "retention missing for data class Count".</summary>
        private void Missing(Section s, string key, string req, string? what = null)
        {
            var parts = (what ?? key.Replace('_', ' ')).Split('|');
            Error(req, s.Sub(key), parts.Length == 2 ? $"{parts[0]} missing {parts[1]}" : $"{parts[0]} missing", s.Node);
        }

        private static string W(string? what, string key) => (what ?? key).Replace('|', ' ');

        private void UnknownKeys(Section s, string req)
        {
            foreach (var (key, node) in s.Unread()) Error(req, s.Sub(key), $"unknown field '{key}' (misspelt?)", node);
        }

        // ---------- typed field readers: each returns null after recording its own problem ----------

        private Section? Map(Section s, string key, string req, bool required = true)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req); return null; }
            if (n is YamlMappingNode m) return new Section(m, s.Sub(key));
            Error(req, s.Sub(key), $"{key} must be a mapping of fields", n);
            return null;
        }

        private string? Str(Section s, string key, string req, bool required = true, string? what = null)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req, what); return null; }
            if (n is YamlScalarNode { Value: { } v } && v.Trim().Length > 0) return v.Trim();
            Error(req, s.Sub(key), $"{W(what, key)} must be non-empty text", n);
            return null;
        }

        /// <summary>Text in both languages: <c>{ja: …, en: …}</c>; a plain scalar counts for both only where <paramref name="plainOk"/>.</summary>
        private LocalizedText? Text(Section s, string key, string req, bool required = true, bool plainOk = false, string? what = null)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req, what); return null; }
            if (plainOk && n is YamlScalarNode { Value: { } v } && v.Trim().Length > 0) return new LocalizedText(v.Trim(), v.Trim());
            if (n is not YamlMappingNode m)
            {
                Error(req, s.Sub(key), $"{W(what, key)} must have Japanese and English text ({{ja: …, en: …}})", n);
                return null;
            }
            var sec = new Section(m, s.Sub(key));
            string? ja = Str(sec, "ja", req, what: $"Japanese text of {W(what, key)}");
            string? en = Str(sec, "en", req, what: $"English text of {W(what, key)}");
            UnknownKeys(sec, req);
            return ja is null || en is null ? null : new LocalizedText(ja, en);
        }

        private long? Integer(Section s, string key, string req, bool required = true)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req); return null; }
            if (n is YamlScalarNode { Value: { } v } && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long x)) return x;
            Error(req, s.Sub(key), $"{key} must be an integer, got '{Scalar(n)}'", n);
            return null;
        }

        private double? Number(Section s, string key, string req, bool required = true)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req); return null; }
            if (n is YamlScalarNode { Value: { } v } && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x)) return x;
            Error(req, s.Sub(key), $"{key} must be a number, got '{Scalar(n)}'", n);
            return null;
        }

        private bool? Bool(Section s, string key, string req, bool required = true)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req); return null; }
            if (n is YamlScalarNode { Value: { } v } && bool.TryParse(v, out bool b)) return b;
            Error(req, s.Sub(key), $"{key} must be true or false, got '{Scalar(n)}'", n);
            return null;
        }

        private TimeSpan? Duration(Section s, string key, string req, bool required = true, string? what = null)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req, what); return null; }
            if (n is YamlScalarNode { Value: { } v } && Durations.TryParse(v, out var t)) return t;
            Error(req, s.Sub(key), $"{W(what, key)} must be a duration like 0, 30s, 15m, 1h, 90d, 1y; got '{Scalar(n)}'", n);
            return null;
        }

        [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}$")]
        private static partial Regex DateOnly();

        private static readonly TimeSpan Jst = TimeSpan.FromHours(9);

        private DateTimeOffset? Date(Section s, string key, string req, bool required = true)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req); return null; }
            string v = Scalar(n);
            if (DateOnly().IsMatch(v) && DateTime.TryParseExact(v, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
                return new DateTimeOffset(d, Jst);
            if (v.Contains('T') && (v.EndsWith('Z') || Regex.IsMatch(v, @"[+-]\d{2}:\d{2}$")) &&
                DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.None, out var dto)) return dto;
            Error(req, s.Sub(key), $"{key} must be a date (2026-11-20, meaning 00:00 JST) or a time with offset (2026-11-20T09:00:00+09:00); got '{v}'", n);
            return null;
        }

        private TEnum? Enum<TEnum>(Section s, string key, string req, IReadOnlyDictionary<string, TEnum> names) where TEnum : struct
        {
            var n = s.Get(key);
            if (n is null) { Missing(s, key, req); return null; }
            if (names.TryGetValue(Scalar(n), out var e)) return e;
            Error(req, s.Sub(key), $"{key} must be one of {string.Join(", ", names.Keys)}; got '{Scalar(n)}'", n);
            return null;
        }

        private IReadOnlyList<string>? StringList(Section s, string key, string req, bool required = true, bool nonEmpty = true)
        {
            var n = s.Get(key);
            if (n is null) { if (required) Missing(s, key, req); return null; }
            if (n is YamlSequenceNode seq && seq.Children.All(c => c is YamlScalarNode { Value.Length: > 0 }))
            {
                var list = seq.Children.Select(c => ((YamlScalarNode)c).Value!.Trim()).ToList();
                if (nonEmpty && list.Count == 0) { Error(req, s.Sub(key), $"{key} must list at least one entry", n); return null; }
                return list;
            }
            Error(req, s.Sub(key), $"{key} must be a list of non-empty text entries", n);
            return null;
        }

        /// <summary>A non-empty list whose items are text in both languages ({ja, en}) or one plain text for both.</summary>
        private IReadOnlyList<LocalizedText>? TextList(Section s, string key, string req)
        {
            var n = s.Get(key);
            if (n is null) { Missing(s, key, req); return null; }
            if (n is not YamlSequenceNode seq || seq.Children.Count == 0) { Error(req, s.Sub(key), $"{key} must list at least one entry", n); return null; }
            var list = new List<LocalizedText>();
            for (int i = 0; i < seq.Children.Count; i++)
            {
                var item = seq.Children[i];
                if (item is YamlScalarNode { Value: { Length: > 0 } v }) list.Add(new LocalizedText(v.Trim(), v.Trim()));
                else if (item is YamlMappingNode m)
                {
                    var sec = new Section(m, $"{s.Sub(key)}[{i}]");
                    string? ja = Str(sec, "ja", req), en = Str(sec, "en", req);
                    UnknownKeys(sec, req);
                    if (ja is null || en is null) return null;
                    list.Add(new LocalizedText(ja, en));
                }
                else { Error(req, $"{s.Sub(key)}[{i}]", $"each entry of {key} must be text or {{ja: …, en: …}}", item); return null; }
            }
            return list;
        }

        private static string Scalar(YamlNode n) => n is YamlScalarNode s ? s.Value ?? "" : $"<{n.NodeType}>";

        private static readonly Dictionary<string, SpaceType> SpaceNames = new(StringComparer.OrdinalIgnoreCase)
        {
            ["store"] = SpaceType.Store, ["public-facing"] = SpaceType.PublicFacing, ["semi-public"] = SpaceType.SemiPublic, ["vehicle"] = SpaceType.Vehicle,
        };
        private static readonly Dictionary<string, StorageKind> StorageNames = new(StringComparer.OrdinalIgnoreCase)
        {
            ["memory"] = StorageKind.Memory, ["store"] = StorageKind.Store, ["latest"] = StorageKind.Latest,
        };
        private static readonly Dictionary<string, DataClass> ClassNames =
            System.Enum.GetValues<DataClass>().ToDictionary(c => c.ToString(), c => c, StringComparer.OrdinalIgnoreCase);
        private static readonly Dictionary<string, PurposeKind> KindNames = new(StringComparer.OrdinalIgnoreCase)
        {
            ["case1"] = PurposeKind.Case1, ["case1-store-attributes"] = PurposeKind.Case1,
            ["case2"] = PurposeKind.Case2, ["case2-store-flow"] = PurposeKind.Case2,
            ["case3"] = PurposeKind.Case3, ["case3-outdoor-counts"] = PurposeKind.Case3,
            ["case4"] = PurposeKind.Case4, ["case4-vehicle-streetscape"] = PurposeKind.Case4,
            ["case5"] = PurposeKind.Case5, ["case5-station-crowd"] = PurposeKind.Case5,
        };
        public static readonly string[] AtCaptureVariants = ["sign", "layered-sign", "display", "vehicle-sticker"];

        // ---------------------------------- the manifest ----------------------------------

        public CameraManifest? Read(Section root)
        {
            string? cameraId = Str(root, "camera_id", "BP-a");
            if (cameraId is not null && !Regex.IsMatch(cameraId, "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
                Error("BP-a", "camera_id", $"camera_id must be 1–64 letters, digits, '.', '_' or '-'; got '{cameraId}'", root.Get("camera_id"));
            // Optional: further cameras of the same installation covered by this notice (ids, or prefixes ending in '*').
            var covered = new List<string>();
            if (root.Get("cameras") is { } coveredNode)
            {
                if (coveredNode is YamlSequenceNode seq)
                    foreach (var item in seq.Children)
                    {
                        if (item is YamlScalarNode { Value: { } v } && Regex.IsMatch(v.Trim(), "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\*?$")) covered.Add(v.Trim());
                        else Error("BP-a", "cameras", $"cameras lists camera ids (letters, digits, '.', '_', '-', optionally ending in '*'); got '{(item as YamlScalarNode)?.Value}'", item);
                    }
                else Error("BP-a", "cameras", "cameras must be a list of camera ids", coveredNode);
            }
            long? version = Integer(root, "version", "M4");
            if (version is < 1) Error("M4", "version", $"version must be 1 or more, got {version}", root.Get("version"));
            var space = Enum(root, "space_type", "G4", SpaceNames);

            // Operator and the single contact point (BP-b, BP-d).
            LocalizedText? op = null; ContactPoint? contact = null;
            if (Map(root, "operator", "BP-b") is { } opSec)
            {
                op = Text(opSec, "name", "BP-b", what: "operator name");
                if (Map(opSec, "contact", "BP-b") is { } c)
                {
                    var desk = Text(c, "desk", "BP-b", plainOk: false, what: "contact desk");
                    string? phone = Str(c, "phone", "BP-b", required: false), email = Str(c, "email", "BP-b", required: false), url = Str(c, "url", "BP-d", required: false);
                    var hours = Text(c, "hours", "BP-b", required: false);
                    if (phone is null && email is null && url is null)
                        Error("BP-b", c.Path, "contact needs at least one of phone, email or url", c.Node);
                    if (email is not null && !email.Contains('@')) Error("BP-b", c.Sub("email"), $"email '{email}' has no '@'", c.Node);
                    if (url is not null && !IsHttpUrl(url)) Error("BP-d", c.Sub("url"), $"url must start with https:// or http://, got '{url}'", c.Node);
                    UnknownKeys(c, "BP-b");
                    if (desk is not null) contact = new ContactPoint(desk, phone, email, url, hours);
                }
                UnknownKeys(opSec, "BP-b");
            }

            // Local ordinances (BP-e): required where the camera films public space.
            Jurisdiction? jurisdiction = null;
            bool needsJurisdiction = space is SpaceType.PublicFacing or SpaceType.Vehicle;
            if (Map(root, "jurisdiction", "BP-e", required: needsJurisdiction) is { } j)
            {
                var area = Text(j, "area", "BP-e", what: "jurisdiction area");
                var ords = StringList(j, "ordinances", "BP-e");
                UnknownKeys(j, "BP-e");
                if (area is not null && ords is not null) jurisdiction = new Jurisdiction(area, ords);
            }

            // Purpose (PN1, PN3, G2/G3, ver3.0 rationale).
            PurposeKind? kind = null; LocalizedText? captured = null, purposeText = null, benefit = null; PurposeRationale? rationale = null;
            if (Map(root, "purpose", "PN1") is { } p)
            {
                var kindNode = p.Get("kind");
                if (kindNode is null) Missing(p, "kind", "G2", "purpose kind");
                else if (PurposeCatalog.RefusedKinds.TryGetValue(Scalar(kindNode), out var refusedReq))
                    Error(refusedReq, p.Sub("kind"), $"purpose kind '{Scalar(kindNode)}' is refused: the engine serves only purposes other than security and identifying individuals (cases 1–5)", kindNode);
                else if (KindNames.TryGetValue(Scalar(kindNode), out var k)) kind = k;
                else Error("G2", p.Sub("kind"), $"purpose kind must be one of case1…case5 (e.g. case3-outdoor-counts); got '{Scalar(kindNode)}'", kindNode);
                captured = Text(p, "captured", "PN1", what: "what is captured");
                purposeText = Text(p, "text", "PN1", what: "purpose text");
                benefit = Text(p, "benefit", "PN3", what: "benefit to people");
                foreach (var (field, text) in new[] { ("text", purposeText), ("benefit", benefit), ("captured", captured) })
                {
                    if (text is null) continue;
                    foreach (var (lang, t) in new[] { ("ja", text.Ja), ("en", text.En) })
                        foreach (var (req, reason, word) in PurposeCatalog.FindRefusedWords(t))
                            Error(req, $"{p.Sub(field)}.{lang}", $"purpose refused: '{word}' indicates {reason}, which this engine does not serve", p.Get(field));
                }
                if (Map(p, "rationale", "ver3.0") is { } r)
                {
                    var leg = Text(r, "legitimacy", "ver3.0", what: "legitimacy of the purpose");
                    var nec = Text(r, "necessity", "ver3.0", what: "necessity of filming");
                    var met = Text(r, "method", "ver3.0", what: "appropriateness of the method");
                    UnknownKeys(r, "ver3.0");
                    if (leg is not null && nec is not null && met is not null) rationale = new PurposeRationale(leg, nec, met);
                }
                UnknownKeys(p, "PN1");
            }

            // Location and field of view (PN4/AC3).
            CameraLocation? location = null;
            if (Map(root, "location", "PN4") is { } l)
            {
                var place = Text(l, "place", "PN4", what: "camera location");
                var coverage = Text(l, "coverage", "PN4", what: "field of view");
                var polygon = Polygon(l);
                UnknownKeys(l, "PN4");
                if (place is not null && coverage is not null && polygon is not null) location = new CameraLocation(place, coverage, polygon);
            }

            // Outputs: every data class the pipeline produces (BP-a, M2, AC5, H1).
            var outputs = ReadOutputs(root, kind);

            // Derived data and identifiability (PN5, PN6, H3).
            DerivedDataStatement? derived = null;
            if (Map(root, "derived_data", "PN5") is { } dd)
            {
                var summary = Text(dd, "summary", "PN5", what: "derived-data summary");
                bool? identifiable = Bool(dd, "identifiable", "PN6");
                var explanation = Text(dd, "explanation", "PN6", what: "identifiability explanation");
                if (identifiable == true)
                    Error("H3", dd.Sub("identifiable"), "stored data must not identify individuals; the engine only runs manifests with identifiable: false", dd.Get("identifiable"));
                UnknownKeys(dd, "PN5");
                if (summary is not null && identifiable is not null && explanation is not null) derived = new DerivedDataStatement(summary, identifiable.Value, explanation);
            }

            // Privacy settings (H2/H3); read before recipients, whose granularity floor is checked against the bin.
            var privacy = ReadPrivacy(root, kind, outputs);
            var recipients = ReadRecipients(root, outputs, privacy);

            // Dates (PN8, PN-T1, AC).
            DateTimeOffset? start = Date(root, "start_date", "PN8");
            PreNotice? pre = null;
            if (Map(root, "pre_notice", "PN-T1") is { } pn)
            {
                var published = Date(pn, "published", "PN-T1");
                var lead = Duration(pn, "lead_time", "PN-T1", what: "pre-notice lead time");
                string? url = Str(pn, "url", "PN-T1", what: "full notice url");
                var channels = StringList(pn, "channels", "PN-T1");
                if (lead is { } lt && lt <= TimeSpan.Zero) Error("PN-T1", pn.Sub("lead_time"), "lead time must be more than 0 (notice before capture)", pn.Get("lead_time"));
                if (url is not null && !IsHttpUrl(url)) Error("PN-T1", pn.Sub("url"), $"url must start with https:// or http://, got '{url}'", pn.Get("url"));
                if (channels is not null)
                    foreach (var ch in channels.Where(c => c is not ("poster" or "website" or "signage" or "leaflet")))
                        Error("PN-T1", pn.Sub("channels"), $"channel '{ch}' must be poster, website, signage or leaflet", pn.Get("channels"));
                if (published is { } pu && lead is { } le && start is { } st && pu + le > st)
                    Error("PN-T1", pn.Sub("published"), $"pre-notice published {pu:yyyy-MM-dd} + lead time {Durations.Short(le)} is after the start date {st:yyyy-MM-dd}", pn.Get("published"));
                UnknownKeys(pn, "PN-T1");
                if (published is not null && lead is not null && url is not null && channels is not null) pre = new PreNotice(published.Value, lead.Value, url, channels);
            }

            AtCaptureNotice? ac = null;
            if (Map(root, "at_capture", "AC") is { } a)
            {
                string? variant = Str(a, "variant", "AC", what: "at-capture notice variant");
                if (variant is not null && !AtCaptureVariants.Contains(variant))
                    Error("AC", a.Sub("variant"), $"variant must be one of {string.Join(", ", AtCaptureVariants)}; got '{variant}'", a.Get("variant"));
                string? by = Str(a, "installed_by", "AC", what: "installation attestation (installed_by)");
                var on = Date(a, "installed_on", "AC");
                var placement = Text(a, "placement", "AC", what: "sign placement");
                if (on is { } o && start is { } st && o > st)
                    Error("AC", a.Sub("installed_on"), $"the at-capture sign is installed {o:yyyy-MM-dd}, after capture starts {st:yyyy-MM-dd}", a.Get("installed_on"));
                UnknownKeys(a, "AC");
                if (variant is not null && by is not null && on is not null && placement is not null) ac = new AtCaptureNotice(variant, by, on.Value, placement);
            }

            var anonymise = ReadAnonymise(root, kind);

            UnknownKeys(root, "BP-a");
            if (Problems.Count > 0) return null;
            return new CameraManifest
            {
                SourcePath = _source, CameraId = cameraId!, CoveredCameras = covered, Version = (int)version!.Value, Kind = kind!.Value, SpaceType = space!.Value,
                Operator = op!, Contact = contact!, Jurisdiction = jurisdiction, Captured = captured!, PurposeText = purposeText!,
                Benefit = benefit!, Rationale = rationale!, Location = location!, Outputs = outputs!, DerivedData = derived!,
                Recipients = recipients!, StartDate = start!.Value, PreNotice = pre!, AtCapture = ac!, Privacy = privacy!,
                Anonymise = anonymise,
            };
        }

        /// <summary>
        /// Case 4's <c>anonymise:</c> section (H3): mask style, small text, large text, head bands, every, carry_frames.
        /// Faces and plates are always masked: a key that tries to keep them is refused.
        /// </summary>
        private AnonymiseSettings? ReadAnonymise(Section root, PurposeKind? kind)
        {
            var a = Map(root, "anonymise", "H3", required: false);
            if (a is null) return null;
            if (kind is { } k && k != PurposeKind.Case4)
            {
                Error("H3", a.Path, $"an anonymise section belongs to Case4 (anonymised images), not {k}", a.Node);
                return null;
            }
            var d = AnonymiseSettings.Default;
            string mask = Str(a, "mask", "H3", required: false) ?? d.Mask;
            if (mask is not ("mosaic" or "solid_fill"))
                Error("H3", a.Sub("mask"), $"mask must be mosaic or solid_fill (never a blur: it can be undone), got '{mask}'", a.Get("mask"));
            bool? Choice(string key, bool dflt)
            {
                string? v = Str(a, key, "H3", required: false);
                if (v is null) return dflt;
                if (v is "mask" or "keep") return v == "mask";
                Error("H3", a.Sub(key), $"{key} must be mask or keep, got '{v}'", a.Get(key));
                return null;
            }
            var small = Choice("small_text", d.MaskSmallText);
            var large = Choice("large_text", d.MaskLargeText);
            var heads = Choice("head_bands", d.MaskHeadBands);
            foreach (var always in new[] { "faces", "plates" })
                if (a.Get(always) is { } n)
                    Error("H3", a.Sub(always), $"{always} are always masked; the manifest cannot change that", n);
            long every = Integer(a, "every", "H3", required: false) ?? d.Every;
            if (every is < 1 or > 10000) Error("H3", a.Sub("every"), $"every must be 1..10000 (anonymise every N-th detected frame), got {every}", a.Get("every"));
            long carry = Integer(a, "carry_frames", "H3", required: false) ?? d.CarryFrames;
            if (carry is < 0 or > 300) Error("H3", a.Sub("carry_frames"), $"carry_frames must be 0..300 (frames a lost face or plate track stays masked), got {carry}", a.Get("carry_frames"));
            UnknownKeys(a, "H3");
            if (small is null || large is null || heads is null || Problems.Count > 0) return null;
            return new AnonymiseSettings(mask, small.Value, large.Value, heads.Value, (int)every, (int)carry);
        }

        private static bool IsHttpUrl(string u) => u.StartsWith("https://", StringComparison.Ordinal) || u.StartsWith("http://", StringComparison.Ordinal);

        private IReadOnlyList<(double, double)>? Polygon(Section l)
        {
            var n = l.Get("polygon");
            if (n is null) { Missing(l, "polygon", "PN4", "coverage polygon"); return null; }
            var pts = new List<(double, double)>();
            if (n is YamlSequenceNode seq)
            {
                foreach (var pt in seq.Children)
                {
                    if (pt is YamlSequenceNode { Children.Count: 2 } xy &&
                        xy.Children[0] is YamlScalarNode { Value: { } xs } && double.TryParse(xs, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) &&
                        xy.Children[1] is YamlScalarNode { Value: { } ys } && double.TryParse(ys, NumberStyles.Float, CultureInfo.InvariantCulture, out double y))
                        pts.Add((x, y));
                    else { Error("PN4", l.Sub("polygon"), "every polygon point must be [x, y] with two numbers", pt); return null; }
                }
                if (pts.Count >= 3) return pts;
            }
            Error("PN4", l.Sub("polygon"), "coverage polygon must be a list of at least 3 [x, y] points", n);
            return null;
        }

        private List<DeclaredOutput>? ReadOutputs(Section root, PurposeKind? kind)
        {
            var n = root.Get("outputs");
            if (n is null) { Missing(root, "outputs", "M2", "declared outputs"); return null; }
            if (n is not YamlSequenceNode seq || seq.Children.Count == 0) { Error("M2", "outputs", "outputs must be a non-empty list of declared data classes", n); return null; }
            var list = new List<DeclaredOutput>();
            bool complete = true;
            for (int i = 0; i < seq.Children.Count; i++)
            {
                string path = $"outputs[{i}]";
                if (seq.Children[i] is not YamlMappingNode m) { Error("M2", path, "each output must be a mapping (class, storage, location, responsible, retention)", seq.Children[i]); complete = false; continue; }
                var o = new Section(m, path);
                var cls = Enum(o, "class", "M2", ClassNames);
                string clsName = cls?.ToString() ?? "(unknown)";
                var storage = Enum(o, "storage", "BP-a", StorageNames);
                var loc = Text(o, "location", "BP-a", plainOk: true, what: $"storage location|for data class {clsName}");
                var resp = Text(o, "responsible", "BP-a", plainOk: true, what: $"responsible party|for data class {clsName}");
                var retention = Duration(o, "retention", "AC5", what: $"retention|for data class {clsName}");
                UnknownKeys(o, "M2");
                if (cls is { } c)
                {
                    if (list.Any(d => d.Class == c)) Error("M2", o.Sub("class"), $"data class {c} is declared twice", o.Get("class"));
                    if (PurposeCatalog.IsMemoryOnly(c))
                    {
                        if (storage is not null and not StorageKind.Memory) Error("H1", o.Sub("storage"), $"{c} holds pixels, features or per-person ids and must stay in memory (storage: memory)", o.Get("storage"));
                        if (retention is { } rt && rt != TimeSpan.Zero) Error("H1", o.Sub("retention"), $"{c} must be destroyed promptly (retention: 0), got {Durations.Short(rt)}", o.Get("retention"));
                    }
                    if (PurposeCatalog.IsLatestOnly(c) && storage is not null and not StorageKind.Latest)
                        Error("H3", o.Sub("storage"), $"{c} must be kept latest-only (storage: latest): each new one overwrites the last", o.Get("storage"));
                    if (!PurposeCatalog.IsLatestOnly(c) && storage == StorageKind.Latest)
                        Error("BP-a", o.Sub("storage"), $"storage: latest is only for IconImage, not {c}", o.Get("storage"));
                    if (storage == StorageKind.Memory && retention is { } mr && mr != TimeSpan.Zero)
                        Error("AC5", o.Sub("retention"), $"{c} is memory-only, so its retention must be 0, got {Durations.Short(mr)}", o.Get("retention"));
                    if (storage is StorageKind.Store or StorageKind.Latest && retention == TimeSpan.Zero)
                        Error("AC5", o.Sub("retention"), $"{c} is stored, so it needs a retention above 0 (or storage: memory)", o.Get("retention"));
                    if (c == DataClass.AuditRecord && storage is not null and not StorageKind.Store)
                        Error("BP-a", o.Sub("storage"), "AuditRecord must be kept in the store (storage: store)", o.Get("storage"));
                    if (kind is { } k && !PurposeCatalog.Required(k).Contains(c) && !PurposeCatalog.Optional(k).Contains(c))
                        Error("M2", o.Sub("class"), $"data class {c} is not produced by a {k} pipeline", o.Get("class"));
                }
                if (cls is null || storage is null || loc is null || resp is null || retention is null) { complete = false; continue; }
                list.Add(new DeclaredOutput(cls.Value, storage.Value, loc, resp, retention.Value));
            }
            if (kind is { } kk)
            {
                var declared = seq.Children.OfType<YamlMappingNode>()
                    .Select(m => m.Children.FirstOrDefault(kv => kv.Key is YamlScalarNode { Value: "class" }).Value)
                    .OfType<YamlScalarNode>().Select(s => ClassNames.TryGetValue(s.Value ?? "", out var c) ? c : (DataClass?)null).ToHashSet();
                foreach (var req in PurposeCatalog.Required(kk).Where(r => !declared.Contains(r)))
                    Error("M2", "outputs", $"a {kk} pipeline produces {req}, but outputs do not declare it", n);
                if (kk == PurposeKind.Case2 && !PurposeCatalog.Case2FlowOutputs.Any(c => declared.Contains(c)))
                    Error("M2", "outputs", "a Case2 pipeline must declare at least one flow output (ZoneOccupancy, DwellHistogram, TransitionMatrix, HeatMap or Trajectory)", n);
            }
            return complete ? list : null;
        }

        private PrivacySettings? ReadPrivacy(Section root, PurposeKind? kind, List<DeclaredOutput>? outputs)
        {
            var p = Map(root, "privacy", "H3");
            if (p is null) return null;
            long? k = Integer(p, "k", "H3");
            if (k is < 2) Error("H3", p.Sub("k"), $"k (minimum cell count) must be 2 or more, got {k}", p.Get("k"));
            var bin = Duration(p, "time_bin", "H3", what: "time bin");
            if (bin is { } b && b < TimeSpan.FromMinutes(1)) Error("H3", p.Sub("time_bin"), $"time bin must be at least 1m, got {Durations.Short(b)}", p.Get("time_bin"));
            long? band = Integer(p, "age_band_years", "H3", required: false);
            if (band is < 5) Error("H3", p.Sub("age_band_years"), $"age bands must be at least 5 years wide, got {band}", p.Get("age_band_years"));
            bool storeTraj = Bool(p, "store_trajectories", "H2", required: kind == PurposeKind.Case2) ?? false;
            double? unicity = Number(p, "unicity_threshold", "H2", required: storeTraj);
            double? grid = Number(p, "trajectory_grid_m", "H2", required: storeTraj);
            var trajBin = Duration(p, "trajectory_time_bin", "H2", required: storeTraj);
            var trim = Duration(p, "trajectory_trim", "H2", required: storeTraj);
            if (unicity is { } u && (u <= 0 || u >= 1)) Error("H2", p.Sub("unicity_threshold"), $"unicity threshold must be between 0 and 1 (exclusive), got {u}", p.Get("unicity_threshold"));
            if (grid is { } g && g < 0.5) Error("H2", p.Sub("trajectory_grid_m"), $"trajectory grid must be at least 0.5 m, got {g}", p.Get("trajectory_grid_m"));
            if (trajBin is { } tb && tb < TimeSpan.FromSeconds(10)) Error("H2", p.Sub("trajectory_time_bin"), $"trajectory time bin must be at least 10s, got {Durations.Short(tb)}", p.Get("trajectory_time_bin"));
            var trajOut = outputs?.FirstOrDefault(o => o.Class == DataClass.Trajectory);
            if (storeTraj && kind is not null and not PurposeKind.Case2)
                Error("H2", p.Sub("store_trajectories"), $"per-trajectory storage is only offered for Case2, not {kind}", p.Get("store_trajectories"));
            if (storeTraj && outputs is not null && trajOut is not { Storage: StorageKind.Store })
                Error("H2", p.Sub("store_trajectories"), "store_trajectories: true needs a Trajectory output with storage: store", p.Get("store_trajectories"));
            if (!storeTraj && trajOut is { Storage: StorageKind.Store })
                Error("H3", p.Sub("store_trajectories"), "outputs store Trajectory per person, which needs the explicit opt-in store_trajectories: true (and a unicity test)", p.Node);
            UnknownKeys(p, "H3");
            if (k is null || bin is null || (storeTraj && (unicity is null || grid is null || trajBin is null || trim is null))) return null;
            return new PrivacySettings((int)k.Value, bin.Value, (int)(band ?? 10), storeTraj, unicity, grid, trajBin, trim);
        }

        private List<ExportContract>? ReadRecipients(Section root, List<DeclaredOutput>? outputs, PrivacySettings? privacy)
        {
            var n = root.Get("recipients");
            if (n is null)
            {
                Missing(root, "recipients", "PN7", "recipients (write recipients: [] when there are none)");
                return null;
            }
            if (n is not YamlSequenceNode seq) { Error("PN7", "recipients", "recipients must be a list (recipients: [] when there are none)", n); return null; }
            var list = new List<ExportContract>();
            bool complete = true;
            for (int i = 0; i < seq.Children.Count; i++)
            {
                string path = $"recipients[{i}]";
                if (seq.Children[i] is not YamlMappingNode m) { Error("M3", path, "each recipient must be a mapping backed by an export contract", seq.Children[i]); complete = false; continue; }
                var r = new Section(m, path);
                var who = Text(r, "recipient", "PN7", what: "recipient name");
                string? id = Str(r, "contract_id", "M3", what: "export contract id");
                var classNames = StringList(r, "classes", "M3");
                var fields = StringList(r, "fields", "M3");
                var purposes = TextList(r, "purposes", "M3");
                var floor = Duration(r, "granularity_floor", "M3", what: "granularity floor");
                var keep = Duration(r, "retention_at_recipient", "M3", what: "retention at the recipient");
                bool? noReid = Bool(r, "no_reidentification", "M3");
                UnknownKeys(r, "M3");
                var classes = new List<DataClass>();
                foreach (var cn in classNames ?? [])
                {
                    if (!ClassNames.TryGetValue(cn, out var c)) { Error("M3", r.Sub("classes"), $"unknown data class '{cn}'", r.Get("classes")); continue; }
                    var decl = outputs?.FirstOrDefault(o => o.Class == c);
                    if (outputs is not null && decl is null) Error("M3", r.Sub("classes"), $"{c} is exported but not declared in outputs", r.Get("classes"));
                    else if (decl is { Storage: StorageKind.Memory }) Error("H1", r.Sub("classes"), $"{c} is memory-only and can never be exported", r.Get("classes"));
                    else if (c == DataClass.AuditRecord) Error("M3", r.Sub("classes"), "audit records are not exported to third parties", r.Get("classes"));
                    classes.Add(c);
                }
                if (noReid == false) Error("M3", r.Sub("no_reidentification"), "the export contract must forbid re-identification (no_reidentification: true)", r.Get("no_reidentification"));
                if (floor is { } f && privacy is not null && f < privacy.TimeBin)
                    Error("M3", r.Sub("granularity_floor"), $"granularity floor {Durations.Short(f)} is finer than the stored time bin {Durations.Short(privacy.TimeBin)}", r.Get("granularity_floor"));
                if (id is not null && list.Any(x => x.ContractId == id)) Error("M3", r.Sub("contract_id"), $"contract id '{id}' is used twice", r.Get("contract_id"));
                if (who is null || id is null || classNames is null || fields is null || purposes is null || floor is null || keep is null || noReid is null) { complete = false; continue; }
                list.Add(new ExportContract(id, who, classes, fields, purposes, floor.Value, keep.Value, noReid.Value));
            }
            return complete ? list : null;
        }
    }
}
