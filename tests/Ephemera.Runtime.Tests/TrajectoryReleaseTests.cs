using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;

namespace Ephemera.Runtime.Tests;

/// <summary>Trajectories leave the engine only when the manifest opts in and the unicity gate passes.</summary>
public sealed class TrajectoryReleaseTests
{
    private static CameraManifest Manifest(bool optIn)
    {
        var yaml = File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", "case2-store-flow.yaml"));
        var trajectoryClass = "  - {class: Trajectory, storage: store, location: {ja: \"店舗バックヤードのサーバ\", en: \"store back-office server\"}, responsible: {ja: \"商品部\", en: \"Merchandising Dept.\"}, retention: 30d}\n";
        yaml = yaml.Replace("derived_data:", trajectoryClass.TrimStart(' ').Insert(0, "  ") + "derived_data:");
        if (!optIn) return ManifestLoader.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", "case2-store-flow.yaml")), "case2.yaml").ForCamera("plaza-flow-1");
        yaml = yaml.Replace("  store_trajectories: false", "  store_trajectories: true\n  trajectory_grid_m: 2\n  trajectory_time_bin: 1m\n  trajectory_trim: 10s");
        return ManifestLoader.Parse(yaml, "case2-with-trajectories.yaml").ForCamera("plaza-flow-1");
    }

    private static PurposeResults Flow(IEnumerable<Analytics.Trajectory> visits) =>
        new([], null, new FlowReport([], [], visits.ToList()));

    private static Analytics.Trajectory Visit(int i, params string[] places) =>
        new(i.ToString("x16"), places.Select((p, j) => new TrajectoryStay(p, 60 + j * 30, 80 + j * 30)).ToArray());

    [Fact]
    public void CommonCoarseTrajectoriesAreReleasedWhenTheManifestOptsIn()
    {
        var visits = Enumerable.Range(0, 200).Select(i => Visit(i, "entrance", "aisle-1", "checkout"));
        var records = OutputPublisher.Release(Manifest(optIn: true), Flow(visits), DateTimeOffset.UnixEpoch);
        var set = Assert.Single(records.OfType<TrajectorySetRecord>());
        Assert.Equal(200, set.Visits.Count);
        Assert.True(set.Unicity < 0.05);
        // The trim cut the first and last stay (entrance, checkout) off each visit: only the aisle is left.
        Assert.All(set.Visits, v => Assert.Equal(1, Assert.Single(v.Points).TimeBin));
    }

    [Fact]
    public void UniqueTrajectoriesAreRefusedByTheUnicityGate()
    {
        // Every visit takes its own path through 12 places: four points single each one out.
        var places = Enumerable.Range(0, 12).Select(i => $"z{i}").ToArray();
        var rng = new Random(7);
        var visits = Enumerable.Range(0, 50).Select(i => Visit(i, places.OrderBy(_ => rng.Next()).Take(8).ToArray()));
        string? why = null;
        var records = OutputPublisher.Release(Manifest(optIn: true), Flow(visits), DateTimeOffset.UnixEpoch, refusedTrajectories: r => why = r);
        Assert.Empty(records.OfType<TrajectorySetRecord>());
        Assert.NotNull(why);
    }

    [Fact]
    public void NoTrajectoriesWithoutTheOptIn()
    {
        var visits = Enumerable.Range(0, 200).Select(i => Visit(i, "entrance", "checkout"));
        Assert.Empty(OutputPublisher.Release(Manifest(optIn: false), Flow(visits), DateTimeOffset.UnixEpoch).OfType<TrajectorySetRecord>());
    }
}
