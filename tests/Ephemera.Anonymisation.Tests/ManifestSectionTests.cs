using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Anonymisation.Tests;

/// <summary>The manifest's <c>anonymise:</c> section: validated, hashed, and turned into the anonymiser's rules.</summary>
public class ManifestSectionTests
{
    private static string Case4Yaml => Inputs.Case4YamlWithoutSection;
    private static CameraManifest WithSection(string section) => ManifestLoader.Parse(Case4Yaml.TrimEnd() + "\n" + section + "\n", "case4-test.yaml");

    [Fact]
    public void A_valid_section_sets_the_rules_and_changes_the_version_hash()
    {
        var plain = Inputs.Case4;
        Assert.Null(plain.Anonymise);
        var m = WithSection("anonymise: {mask: solid_fill, small_text: keep, large_text: mask, head_bands: keep, every: 5, carry_frames: 12}");
        Assert.Equal(new AnonymiseSettings("solid_fill", false, true, false, 5, 12), m.Anonymise);
        Assert.NotEqual(plain.VersionHash, m.VersionHash);
        // carry_frames is hashed too (when set away from its default of 5, so older manifests keep their hash).
        var m5 = WithSection("anonymise: {mask: solid_fill, small_text: keep, large_text: mask, head_bands: keep, every: 5, carry_frames: 5}");
        var m5Implicit = WithSection("anonymise: {mask: solid_fill, small_text: keep, large_text: mask, head_bands: keep, every: 5}");
        Assert.Equal(m5Implicit.VersionHash, m5.VersionHash);
        Assert.NotEqual(m5.VersionHash, m.VersionHash);
        var o = AnonymiseOptions.FromManifest(m);
        Assert.Equal(MaskStyle.SolidFill, o.Mask.Style);
        Assert.False(o.MaskSmallText); Assert.True(o.MaskLargeText); Assert.False(o.MaskHeadBands);
        Assert.Equal(12, o.CarryFrames);
        var d = AnonymiseOptions.FromManifest(plain);
        Assert.Equal(MaskStyle.Mosaic, d.Mask.Style);
        Assert.True(d.MaskSmallText); Assert.False(d.MaskLargeText); Assert.True(d.MaskHeadBands);
        Assert.Equal(5, d.CarryFrames);
    }

    [Theory]
    [InlineData("anonymise: {mask: blur}", "never a blur")]
    [InlineData("anonymise: {faces: keep}", "always masked")]
    [InlineData("anonymise: {plates: keep}", "always masked")]
    [InlineData("anonymise: {small_text: maybe}", "mask or keep")]
    [InlineData("anonymise: {every: 0}", "every must be")]
    [InlineData("anonymise: {carry_frames: -1}", "carry_frames must be")]
    [InlineData("anonymise: {carry_frames: 301}", "carry_frames must be")]
    [InlineData("anonymise: {colour: red}", "unknown field")]
    public void A_weakening_or_malformed_section_is_refused(string section, string expected)
    {
        var e = Assert.Throws<ManifestValidationException>(() => WithSection(section));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Only_case4_may_have_the_section()
    {
        string yaml = File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml"));
        var e = Assert.Throws<ManifestValidationException>(() => ManifestLoader.Parse(yaml.TrimEnd() + "\nanonymise: {mask: mosaic}\n", "case3-test.yaml"));
        Assert.Contains("belongs to Case4", e.Message);
    }
}

/// <summary>The notice tells people what the images contain, from the same rules the anonymiser runs.</summary>
public class AnonymiseNoticeTests
{
    [Theory]
    [InlineData(NoticeLanguage.En, "faces and licence plates are always filled solid", "large text such as shop and road signs is kept")]
    [InlineData(NoticeLanguage.Ja, "顔とナンバープレートを必ず塗りつぶしで隠します", "看板や道路標識などの大きな文字は残します")]
    public void TheNoticeStatesTheManifestsMaskingRules(NoticeLanguage lang, string mask, string largeText)
    {
        var m = ManifestLoader.Load(Inputs.ManifestPath); // the shipped manifest: solid fill, large text kept
        var text = NoticeRenderer.Render(m, NoticeKind.Pre, lang).ToMarkdown();
        Assert.Contains(mask, text);
        Assert.Contains(largeText, text);
        var mosaic = ManifestLoader.Parse(Inputs.Case4YamlWithoutSection + "anonymise: {mask: mosaic, large_text: mask}\n", "m.yaml");
        var other = NoticeRenderer.Render(mosaic, NoticeKind.Pre, lang).ToMarkdown();
        Assert.DoesNotContain(mask, other);
        Assert.DoesNotContain(largeText, other);
    }
}
