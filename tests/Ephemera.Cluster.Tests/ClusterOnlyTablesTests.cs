using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Runtime;
using Ephemera.TestSupport;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// The worker's side of crowd levels and heat maps: what the engine's tap sends for a camera's results,
/// released at the collector from one epoch, equals what a single engine releases for the same results.
/// </summary>
public sealed class ClusterOnlyTablesTests
{
    private static readonly DateTimeOffset EpochUtc = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private static List<DerivedRecord> ThroughTheCollector(CameraManifest m, PurposeResults r)
    {
        var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
        long seq = 0;
        foreach (var t in OutputPublisher.ClusterOnlyTables(m, r, EpochUtc))
            Assert.Equal(PartOutcome.Accepted, collector.Add(BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 1, ++seq, true, t)));
        var released = collector.ReleaseDue(null);
        Assert.Empty(collector.GateRefusals);
        return released;
    }

    [Fact]
    public void Crowd_levels_released_at_the_collector_equal_the_single_engines()
    {
        var m = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case5-station-crowd.yaml")).ForCamera("plaza-crowd-1");
        int k = m.Privacy.MinCellCount;
        ZoneCrowdLevel[] levels = [new("platform", k + 4, 2.71828, "crowded"), new("stairs", k - 1, 0.31, "calm")];
        var r = new PurposeResults([], null, Crowd: new CrowdSnapshot(400, [], 0, 0, 2 * k + 3, levels));
        var single = OutputPublisher.Release(m, r, EpochUtc).OfType<CrowdLevelRecord>().Single();
        var cluster = Assert.IsType<CrowdLevelRecord>(Assert.Single(ThroughTheCollector(m, r)));
        Assert.Equal(single.BinStart, cluster.BinStart);
        Assert.Equal(single.PayloadJson(), cluster.PayloadJson());
    }

    [Fact]
    public void Heat_maps_released_at_the_collector_equal_the_single_engines()
    {
        var m = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case2-store-flow.yaml")).ForCamera("plaza-flow-1");
        int k = m.Privacy.MinCellCount;
        var plan = new FloorPlan(2, 1, [new FloorZone("shelf", new Polygon([new(0, 0), new(1, 0), new(1, 1), new(0, 1)]))]);
        FloorHeatMapBin Bin(double start, long[] frames, int[] visits) => new(start, start + 3600, new FloorHeatMap(4, 2, 0.5, frames, plan), visits);
        var heat = new[]
        {
            Bin(0, [30, 0, 7, 9, 1, 0, 0, 44], [k, 0, k - 1, k + 1, 1, 0, 0, k]),
            Bin(3600, [5, 5, 5, 5, 5, 5, 5, 5], [k, k, k, k, 1, 1, 1, 1]),
        };
        var r = new PurposeResults([], null, Flow: new FlowReport([], [], null, heat));
        var single = OutputPublisher.Release(m, r, EpochUtc).OfType<HeatMapRecord>().OrderBy(h => h.BinStart).ToList();
        // The collector knows the camera's floor plan (as the workers bind it): the images match too.
        var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero, _ => plan);
        long seq = 0;
        foreach (var t in OutputPublisher.ClusterOnlyTables(m, r, EpochUtc))
            collector.Add(BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 1, ++seq, true, t));
        var cluster = collector.ReleaseDue(null).Cast<HeatMapRecord>().OrderBy(h => h.BinStart).ToList();
        Assert.Equal(2, cluster.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(single[i].BinStart, cluster[i].BinStart);
            Assert.Equal(single[i].PayloadJson(), cluster[i].PayloadJson());
            Assert.Equal(single[i].Png.ToArray(), cluster[i].Png.ToArray());
        }
        // Without the plan the numbers are the same (only the outlines are missing from the image).
        var noPlan = ThroughTheCollector(m, r).Cast<HeatMapRecord>().OrderBy(h => h.BinStart).ToList();
        Assert.Equal(single.Select(h => h.PersonFrames.ToArray()), noPlan.Select(h => h.PersonFrames.ToArray()));
    }
}
