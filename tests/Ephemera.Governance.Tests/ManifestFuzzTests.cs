using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.TestSupport;

namespace Ephemera.Governance.Tests;

/// <summary>Property: no mutation of a real manifest gives anything but a loaded manifest or the project's typed error.</summary>
public class ManifestFuzzTests
{
    [Fact]
    public void MutatedManifestsLoadOrFailWithATypedMessageNeverAnotherException()
    {
        var files = Directory.GetFiles(Path.Combine(RepoPaths.Root, "configs", "manifests"), "*.yaml").OrderBy(f => f, StringComparer.Ordinal).ToArray();
        var texts = files.Select(File.ReadAllText).ToArray();
        var watch = Stopwatch.StartNew();
        int cases = 0, loaded = 0;
        for (int seed = 0; watch.Elapsed < TimeSpan.FromSeconds(10) && seed < 20_000; seed++, cases++)
        {
            int f = seed % files.Length;
            string mutated = YamlMutator.Mutate(texts[f], seed);
            try { ManifestLoader.Parse(mutated, "fuzz.yaml"); loaded++; }
            catch (EphemeraException e) { Assert.False(string.IsNullOrWhiteSpace(e.Message), $"seed {seed}: empty message"); }
            catch (Exception e) { Assert.Fail($"{Path.GetFileName(files[f])} seed {seed}: {e.GetType().Name}: {e.Message}"); }
        }
        Assert.True(cases >= 200, $"only {cases} cases ran");
        Assert.True(loaded < cases, "no mutation was ever refused: the mutator is broken");
    }
}
