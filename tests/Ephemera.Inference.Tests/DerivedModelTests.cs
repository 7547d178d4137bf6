using Ephemera.Inference.Models;
using Ephemera.TestSupport;

namespace Ephemera.Inference.Tests;

/// <summary>The derived dynamic-batch graph is checked against the models manifest on every load, not against a stamp the engine wrote itself.</summary>
public class DerivedModelTests
{
    [Fact]
    public void ADerivedGraphWithFlippedBytesIsDerivedAgainAndMatchesTheManifest()
    {
        using var dir = new TempDir();
        var catalog = ModelCatalog.Load();
        var entry = catalog.Get("lightweight_person_detector");
        Assert.NotNull(entry.BatchVariantSha256);
        var fetcher = new ModelFetcher(modelsDir: dir.Path); // the mirror as configured, a fresh destination
        var files = fetcher.Fetch(entry);
        Assert.Equal(entry.BatchVariantSha256, ModelFetcher.Sha256Of(files.BatchVariantPath!));

        // Flip weights in the derived file (and forge the old-style stamp beside it): the next load notices and re-derives.
        var bytes = File.ReadAllBytes(files.BatchVariantPath!);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(files.BatchVariantPath!, bytes);
        File.WriteAllText(files.BatchVariantPath + ".sha256", ModelFetcher.Sha256Of(files.BatchVariantPath!));
        var again = fetcher.Fetch(entry);
        Assert.Equal(entry.BatchVariantSha256, ModelFetcher.Sha256Of(again.BatchVariantPath!));
    }
}
