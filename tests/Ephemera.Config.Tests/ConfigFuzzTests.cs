using System.Diagnostics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Config.Tests;

/// <summary>Property: no mutation of the bundled config gives anything but a loaded config or the project's typed error with the file named.</summary>
public class ConfigFuzzTests
{
    [Fact]
    public void MutatedConfigsLoadOrFailWithATypedMessageNamingTheFile()
    {
        using var dir = new TempDir();
        string text = File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "demo.yaml"));
        string path = dir.File("fuzz.yaml");
        var watch = Stopwatch.StartNew();
        int cases = 0, loaded = 0;
        for (int seed = 0; watch.Elapsed < TimeSpan.FromSeconds(10) && seed < 20_000; seed++, cases++)
        {
            File.WriteAllText(path, YamlMutator.Mutate(text, seed));
            try { ConfigLoader.Load(path); loaded++; }
            catch (EphemeraException e) { Assert.True(e.Message.Contains("fuzz.yaml") || e.Message.Contains("manifest") || e.Message.Contains("camera"), $"seed {seed}: message names no file: {e.Message}"); }
            catch (Exception e) { Assert.Fail($"seed {seed}: {e.GetType().Name}: {e.Message}"); }
        }
        Assert.True(cases >= 200, $"only {cases} cases ran");
        Assert.True(loaded < cases, "no mutation was ever refused: the mutator is broken");
    }

    [Theory]
    [InlineData("engine:\n  detect_fps: [5\ncameras:\n  - id: a\n")]
    [InlineData("engine: {detect_fps: 5\ncameras: []\n")]
    public void AnUnclosedBracketIsAnErrorWithTheFileAndLine(string yaml)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.yaml");
        File.WriteAllText(path, yaml);
        var e = Assert.Throws<EphemeraException>(() => ConfigLoader.Load(path));
        Assert.Contains($"{path}:", e.Message);
        Assert.Contains("unclosed", e.Message);
    }
}
