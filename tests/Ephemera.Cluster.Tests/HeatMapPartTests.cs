using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Runtime;
using Ephemera.TestSupport;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// Heat maps through the collector, without servers: a bin split between two epochs is summed cell by
/// cell and released once through the single engine's gate (a cell under k distinct visits is zero).
/// </summary>
public sealed class HeatMapPartTests
{
    private const int CellsX = 3, CellsY = 2;
    private const double CellMetres = 0.5;

    private static CameraManifest Manifest() =>
        ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case2-store-flow.yaml")).ForCamera("plaza-flow-1");

    private static FloorHeatMapBin Bin(long[] frames, int[] visits) =>
        new(0, 3600, new FloorHeatMap(CellsX, CellsY, CellMetres, frames, new FloorPlan(CellsX * CellMetres, CellsY * CellMetres)), visits);

    [Fact]
    public void A_heat_map_bin_split_between_epochs_is_summed_per_cell_and_gated_on_k_distinct_visits_as_one_engine()
    {
        var m = Manifest();
        int k = m.Privacy.MinCellCount;
        var epochUtc = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        // Cell 0: k − 1 visits before the failover and 1 after (k visits, but perhaps one person twice: withheld); cell 1: k − 1 in all (zeroed);
        // cell 2: k + 2 on one side only; cell 4: empty; cells 3 and 5: one visit each side.
        long[] framesA = [40, 12, 90, 3, 0, 5], framesB = [8, 0, 0, 2, 0, 6];
        int[] visitsA = [k - 1, k - 1, k + 2, 1, 0, 1], visitsB = [1, 0, 0, 1, 0, 1];
        var t0 = DateTimeOffset.UtcNow;
        var a = BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 1, 3, false, HeatMapTable.From(Bin(framesA, visitsA), epochUtc)) with { AsOf = t0, EpochStart = t0.AddMinutes(-5) };
        var b = BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 2, 1, true, HeatMapTable.From(Bin(framesB, visitsB), epochUtc)) with { AsOf = t0.AddMinutes(1), EpochStart = t0.AddSeconds(30) };
        var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
        Assert.Equal(PartOutcome.Accepted, collector.Add(b));
        Assert.Equal(PartOutcome.Accepted, collector.Add(a));
        Assert.Equal(PartOutcome.Stale, collector.Add(a with { Seq = 2 })); // an older part of epoch 1: nothing changes
        var record = Assert.IsType<HeatMapRecord>(Assert.Single(collector.ReleaseDue(null)));

        var frames = framesA.Zip(framesB, (x, y) => x + y).ToArray();
        var visits = visitsA.Zip(visitsB, (x, y) => x + y).ToArray();
        // A cell both owners saw may hold the same person twice (one at the hand-over): the gate takes visits ÷ 2.
        var distinctAtLeast = visitsA.Zip(visitsB, (x, y) => x > 0 && y > 0 ? (x + y) / 2 : x + y).ToArray();
        var plan = new FloorPlan(CellsX * CellMetres, CellsY * CellMetres);
        var expected = ReleaseGate.HeatMap(m, epochUtc, CellsX, CellsY, CellMetres, frames, distinctAtLeast,
            gated => new FloorHeatMap(CellsX, CellsY, CellMetres, gated, plan).RenderPng());
        Assert.Equal(expected.PayloadJson(), record.PayloadJson()); // the merged bin, as one engine would release it
        Assert.Equal(expected.Png.ToArray(), record.Png.ToArray());
        Assert.Equal(k >= 2 ? 0 : 48, record.PersonFrames[0]); // k visits across both owners: maybe k − 1 people, withheld
        Assert.Equal(0, record.PersonFrames[1]);  // k − 1 visits: withheld
        Assert.Equal(90, record.PersonFrames[2]);
        Assert.All(new[] { 3, 5 }, i => Assert.True(k > 2 ? record.PersonFrames[i] == 0 : record.PersonFrames[i] > 0));
        for (int i = 0; i < frames.Length; i++)
            Assert.True(record.PersonFrames[i] == 0 || distinctAtLeast[i] >= k, $"cell {i} released with possibly {distinctAtLeast[i]} people < k = {k}");
        Assert.Equal(PartOutcome.Late, collector.Add(b with { Epoch = 3, Seq = 1, EpochStart = t0.AddMinutes(2), AsOf = t0.AddMinutes(3) }));
    }

    [Fact]
    public void A_heat_map_table_that_is_not_a_grid_is_refused_by_the_gate_and_nothing_of_it_leaves()
    {
        var m = Manifest();
        var bad = new RawBinTable(DataClass.HeatMap, new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero),
            ["person_frames", "visits", "cell_m:0.5"], ["0,0", "1,1"], new[,] { { 50, 60 }, { 9, 9 }, { 0, 0 } });
        var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
        Assert.Equal(PartOutcome.Accepted, collector.Add(BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 1, 1, true, bad)));
        Assert.Empty(collector.ReleaseDue(null));
        Assert.Contains("do not make a 2×2 grid", Assert.Single(collector.GateRefusals).Reason);
    }
}
