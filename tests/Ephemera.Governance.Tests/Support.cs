using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Governance.Tests;

/// <summary>A clock the test moves by hand (retention, start dates).</summary>
public sealed class FakeClock(DateTimeOffset now) : IClock
{
    public DateTimeOffset Now { get; set; } = now;
    public void Advance(TimeSpan by) => Now += by;
}

public static class Bundled
{
    public static string Dir => Path.Combine(RepoPaths.Root, "configs", "manifests");
    public static readonly string[] Files =
    [
        "case1-store-attributes.yaml", "case2-store-flow.yaml", "case3-outdoor-counts.yaml",
        "case4-vehicle-streetscape.yaml", "case5-station-crowd.yaml",
    ];
    public static string PathOf(string file) => Path.Combine(Dir, file);
    public static CameraManifest Load(string file) => ManifestLoader.Load(PathOf(file));
    public static string Text(string file) => File.ReadAllText(PathOf(file));
    public static IEnumerable<object[]> All => Files.Select(f => new object[] { f });

    /// <summary>The demo's "today": the bundled manifests may start.</summary>
    public static readonly DateTimeOffset Today = new(2026, 11, 26, 9, 0, 0, TimeSpan.FromHours(9));
}
