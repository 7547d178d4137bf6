using System.Text.RegularExpressions;
using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Governance.Tests;

public class ManifestValidationTests
{
    [Theory]
    [MemberData(nameof(Bundled.All), MemberType = typeof(Bundled))]
    public void Bundled_manifests_are_valid_and_may_start_today(string file)
    {
        var m = Bundled.Load(file);
        Assert.Equal(64, m.VersionHash.Length);
        var gate = ManifestGate.CanStart(m, Bundled.Today);
        Assert.True(gate.Allowed, gate.ToString());
        Assert.True(m.PreNotice.Published + m.PreNotice.LeadTime <= m.StartDate);
        foreach (var req in PurposeCatalog.Required(m.Kind)) Assert.True(m.Declares(req), $"{file} lacks {req}");
    }

    // Each mutation of the valid case-3 manifest breaks one field; the loader must report exactly that
    // field, with its requirement id, as its own problem.
    public static IEnumerable<object[]> Mutations => new (string Name, string Pattern, string Replacement, string Req, string Path, int Count)[]
    {
        ("camera id missing", @"camera_id: case3-street-counts\n", "", "BP-a", "camera_id", 1),
        ("camera id malformed", "camera_id: case3-street-counts", "camera_id: 'bad id!'", "BP-a", "camera_id", 1),
        ("version missing", @"\nversion: 1\n", "\n", "M4", "version", 1),
        ("version malformed", @"\nversion: 1\n", "\nversion: one\n", "M4", "version", 1),
        ("space type unknown", "space_type: public-facing", "space_type: garden", "G4", "space_type", 1),
        ("operator name missing", @"  name: \{ja: みなと中央商店街振興組合, en: Minato Chuo Shopping Street Association\}\n", "", "BP-b", "operator.name", 1),
        ("contact has no channel", @"    phone: 045-000-0303\n    email: counts@minato-chuo.example\n    url: https://www.minato-chuo.example/counts\n", "", "BP-b", "operator.contact", 1),
        ("contact email malformed", "email: counts@minato-chuo.example", "email: counts-at-minato", "BP-b", "operator.contact.email", 1),
        ("jurisdiction missing for public-facing", @"jurisdiction:\n(  .*\n)+", "", "BP-e", "jurisdiction", 1),
        ("ordinances missing", @"  ordinances:\n(    - .*\n)+", "", "BP-e", "jurisdiction.ordinances", 1),
        ("security purpose kind", "kind: case3-outdoor-counts", "kind: security", "G3", "purpose.kind", 1),
        ("repeat-visitor purpose kind", "kind: case3-outdoor-counts", "kind: repeat-visitor", "G2", "purpose.kind", 1),
        ("unknown purpose kind", "kind: case3-outdoor-counts", "kind: case9", "G2", "purpose.kind", 1),
        ("security keyword ja", "ja: 通りを通行する人・自転車・自動車の数を", "ja: 防犯のため、通りを通行する人・自転車・自動車の数を", "G3", "purpose.text.ja", 1),
        ("face recognition keyword en", "en: to count people, bicycles", "en: to run face recognition and count people, bicycles", "G3", "purpose.text.en", 1),
        ("repeat visitor keyword en", "en: to count people, bicycles", "en: to find each repeat visitor and count people, bicycles", "G2", "purpose.text.en", 1),
        ("captured missing", @"  captured: .*\n", "", "PN1", "purpose.captured", 1),
        ("benefit ja missing", @"    ja: 歩きやすく安全な通りづくりと、混雑を避けた催しの開催につながります\n", "", "PN3", "purpose.benefit.ja", 1),
        ("rationale necessity missing", @"    necessity:\n      ja: .*\n      en: .*\n", "", "ver3.0", "purpose.rationale.necessity", 1),
        ("polygon too short", @"  polygon: .*\n", "  polygon: [[0, 0], [40, 0]]\n", "PN4", "location.polygon", 1),
        ("coverage missing", @"  coverage: .*\n", "", "PN4", "location.coverage", 1),
        ("Count retention missing", @"(class: Count, .*), retention: 1y\}", "$1}", "AC5", "outputs[2].retention", 1),
        ("Count retention malformed", @"(class: Count, .*), retention: 1y\}", "$1, retention: 1 year}", "AC5", "outputs[2].retention", 1),
        ("Count responsible missing", @"(class: Count, .*), responsible: \{[^}]*\}", "$1", "BP-a", "outputs[2].responsible", 1),
        ("RawFrame kept", @"(class: RawFrame, .*), retention: 0\}", "$1, retention: 5m}", "H1", "outputs[0].retention", 2),
        ("RawFrame stored", @"class: RawFrame, storage: memory", "class: RawFrame, storage: store", "H1", "outputs[0].storage", 2),
        ("Count undeclared", @"  - \{class: Count, .*\n", "", "M2", "outputs", 2),
        ("class not in case 3 pipeline", @"(  - \{class: AuditRecord.*\n)", "$1  - {class: FeatureVector, storage: memory, location: x, responsible: y, retention: 0}\n", "M2", "outputs[4].class", 1),
        ("class unknown", "class: Count,", "class: Countz,", "M2", "outputs[2].class", 2),
        ("identifiable", "identifiable: false", "identifiable: true", "H3", "derived_data.identifiable", 1),
        ("derived summary missing", @"  summary:\n    ja: .*\n    en: .*\n", "", "PN5", "derived_data.summary", 1),
        ("recipients missing", @"recipients:\n(  .*\n)+", "", "PN7", "recipients", 1),
        ("contract allows re-identification", "no_reidentification: true", "no_reidentification: false", "M3", "recipients[0].no_reidentification", 1),
        ("contract finer than bins", "granularity_floor: 1h", "granularity_floor: 5m", "M3", "recipients[0].granularity_floor", 1),
        ("contract exports raw frames", @"classes: \[Count\]", "classes: [Count, RawFrame]", "H1", "recipients[0].classes", 1),
        ("contract id missing", @"    contract_id: .*\n", "", "M3", "recipients[0].contract_id", 1),
        ("start date missing", @"start_date: .*\n", "", "PN8", "start_date", 1),
        ("start date malformed", "start_date: 2026-11-20", "start_date: 20-11-2026", "PN8", "start_date", 1),
        ("lead time too long for start", "lead_time: 28d", "lead_time: 60d", "PN-T1", "pre_notice.published", 1),
        ("lead time zero", "lead_time: 28d", "lead_time: 0", "PN-T1", "pre_notice.lead_time", 1),
        ("publication missing", @"  published: .*\n", "", "PN-T1", "pre_notice.published", 1),
        ("notice url not http", "url: https://www.minato-chuo.example/counts/notice", "url: ftp://minato/notice", "PN-T1", "pre_notice.url", 1),
        ("at-capture variant unknown", "variant: layered-sign", "variant: whisper", "AC", "at_capture.variant", 1),
        ("installation attestation missing", @"  installed_by: .*\n", "", "AC", "at_capture.installed_by", 1),
        ("sign installed after start", "installed_on: 2026-11-13", "installed_on: 2026-11-25", "AC", "at_capture.installed_on", 1),
        ("k below 2", "  k: 5", "  k: 1", "H3", "privacy.k", 1),
        ("time bin too fine", "time_bin: 15m", "time_bin: 30s", "H3", "privacy.time_bin", 1),
        ("unknown top-level field", @"start_date: 2026-11-20\n", "start_date: 2026-11-20\nretension: 5d\n", "BP-a", "retension", 1),
    }.Select(t => new object[] { t.Name, t.Pattern, t.Replacement, t.Req, t.Path, t.Count });

    [Theory]
    [MemberData(nameof(Mutations))]
    public void Each_broken_field_is_its_own_problem(string name, string pattern, string replacement, string req, string path, int expectedCount)
    {
        string text = Bundled.Text("case3-outdoor-counts.yaml");
        string broken = Regex.Replace(text, pattern, replacement);
        Assert.True(broken != text, $"mutation '{name}' did not apply");
        var e = Assert.Throws<ManifestValidationException>(() => ManifestLoader.Parse(broken, "case3-mutated.yaml"));
        Assert.Contains(e.Problems, p => p.RequirementId == req && p.Path == path);
        Assert.True(e.Problems.Count == expectedCount, $"{name}: expected {expectedCount} problem(s), got:\n{e.Message}");
        Assert.Contains($"{req}: ", e.Message);
        Assert.Contains($"({path})", e.Message);
    }

    [Fact]
    public void Retention_missing_reads_like_the_requirement()
    {
        string broken = Regex.Replace(Bundled.Text("case3-outdoor-counts.yaml"), @"(class: Count, .*), retention: 1y\}", "$1}");
        var e = Assert.Throws<ManifestValidationException>(() => ManifestLoader.Parse(broken, "x.yaml"));
        Assert.Equal("AC5: retention missing for data class Count (outputs[2].retention)", e.Problems.Single().ToString());
    }

    [Fact]
    public void Several_broken_fields_are_all_reported_together()
    {
        string text = Bundled.Text("case3-outdoor-counts.yaml")
            .Replace("space_type: public-facing", "space_type: garden")
            .Replace("  k: 5", "  k: 1")
            .Replace("variant: layered-sign", "variant: whisper");
        var e = Assert.Throws<ManifestValidationException>(() => ManifestLoader.Parse(text, "x.yaml"));
        Assert.Equal(["AC", "G4", "H3"], e.Problems.Select(p => p.RequirementId).Order().ToArray());
        Assert.All(e.Problems, p => Assert.True(p.Line > 0, $"{p} has no line"));
    }

    [Fact]
    public void Yaml_syntax_error_names_file_line_and_column()
    {
        string text = Bundled.Text("case3-outdoor-counts.yaml").Replace("camera_id: case3-street-counts", "camera_id: \"unterminated");
        var e = Assert.Throws<EphemeraException>(() => ManifestLoader.Parse(text, "broken.yaml"));
        Assert.Matches(@"broken\.yaml:\d+:\d+: YAML syntax error", e.Message);
    }

    [Fact]
    public void The_bad_example_manifest_reports_many_problems_with_paths()
    {
        var e = Assert.Throws<ManifestValidationException>(() => ManifestLoader.Load(Path.Combine(AppContext.BaseDirectory, "bad-manifest.yaml")));
        Assert.True(e.Problems.Count >= 6, e.Message);
        Assert.Contains(e.Problems, p => p.RequirementId == "G3" && p.Path == "purpose.kind");
        Assert.Contains(e.Problems, p => p.RequirementId == "AC5" && p.Path == "outputs[1].retention");
        Assert.Contains(e.Problems, p => p.RequirementId == "BP-b" && p.Path == "operator.contact");
    }

    [Fact]
    public void A_bad_manifest_stops_only_its_own_camera()
    {
        using var dir = new Ephemera.TestSupport.TempDir();
        foreach (var f in Bundled.Files) File.Copy(Bundled.PathOf(f), dir.File(f));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "bad-manifest.yaml"), dir.File("case9-bad.yaml"));
        var results = ManifestLoader.LoadDirectory(dir.Path);
        Assert.Equal(6, results.Count);
        Assert.Equal(5, results.Count(r => r.Ok && ManifestGate.CanStart(r.Manifest!, Bundled.Today).Allowed));
        var bad = Assert.Single(results, r => !r.Ok);
        Assert.EndsWith("case9-bad.yaml", bad.Path);
        Assert.Contains("purpose.kind", bad.Error!.Message);
    }

    [Fact]
    public void Missing_file_is_a_clear_error()
    {
        var e = Assert.Throws<EphemeraException>(() => ManifestLoader.Load("/nonexistent/m.yaml"));
        Assert.Contains("/nonexistent/m.yaml", e.Message);
    }

    [Fact]
    public void Version_hash_changes_with_a_notified_field_only()
    {
        string text = Bundled.Text("case3-outdoor-counts.yaml");
        var a = ManifestLoader.Parse(text, "a");
        var sameNotice = ManifestLoader.Parse(text.Replace("version: 1", "version: 2").Replace("installed_by: みなと中央商店街振興組合 事務局 田中", "installed_by: 別の担当者"), "b");
        var changedRetention = ManifestLoader.Parse(text.Replace("retention: 1y}", "retention: 2y}"), "c");
        Assert.Equal(a.VersionHash, sameNotice.VersionHash);
        Assert.NotEqual(a.VersionHash, changedRetention.VersionHash);
    }
}
