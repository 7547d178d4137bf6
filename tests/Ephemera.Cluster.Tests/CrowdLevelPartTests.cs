using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Runtime;
using Ephemera.TestSupport;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// Crowd levels through the collector, without servers: a worker's reading travels as a table part,
/// and the collector releases a bin's latest reading (of any epoch) through the single engine's gate.
/// </summary>
public sealed class CrowdLevelPartTests
{
    private static CameraManifest Manifest() =>
        ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case5-station-crowd.yaml")).ForCamera("plaza-crowd-1");

    private static CrowdSnapshot Reading(double seconds, params ZoneCrowdLevel[] levels) => new(seconds, [], 0, 0, levels.Sum(l => l.People), levels);

    private static BinPart Part(CameraManifest m, DateTimeOffset epochUtc, CrowdSnapshot s, ulong epoch, long seq, DateTimeOffset asOf, DateTimeOffset epochStart) =>
        BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, epoch, seq, false, CrowdLevelTable.From(m, s, epochUtc)!) with { AsOf = asOf, EpochStart = epochStart };

    [Fact]
    public void A_bins_latest_reading_of_any_epoch_is_released_through_the_same_gate_as_one_engine()
    {
        var m = Manifest();
        int k = m.Privacy.MinCellCount;
        var epochUtc = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        var t0 = DateTimeOffset.UtcNow;
        // Worker A (epoch 1, from t0 − 60 s) read the platform busy at t0 + 10 s; worker B took the camera over at
        // t0 + 20 s (epoch 2) and read it at t0 + 40 s: B's reading is the bin's, whatever order the parts come in.
        var a = Reading(10, new ZoneCrowdLevel("platform", k + 3, 1.2345, "busy"), new ZoneCrowdLevel("gate", k - 1, 0.4, "calm"));
        var b = Reading(40, new ZoneCrowdLevel("platform", k + 5, 1.9871, "crowded"), new ZoneCrowdLevel("gate", k - 1, 0.6, "calm"));
        var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
        Assert.Equal(PartOutcome.Accepted, collector.Add(Part(m, epochUtc, b, 2, 1, t0.AddSeconds(40), t0.AddSeconds(20))));
        Assert.Equal(PartOutcome.Accepted, collector.Add(Part(m, epochUtc, a, 1, 1, t0.AddSeconds(10), t0.AddSeconds(-60))));
        var record = Assert.IsType<CrowdLevelRecord>(Assert.Single(collector.ReleaseDue(null)));

        var expected = ReleaseGate.CrowdLevels(m, epochUtc, b.Levels.Select(l => (l.Zone, l.People, l.PeoplePerSquareMetre, l.Level)));
        Assert.Equal(expected.PayloadJson(), record.PayloadJson()); // as one engine releases that reading
        Assert.Equal("crowded", record.Zones.Single(z => z.Zone == "platform").Level);
        Assert.Equal(1.987, record.Zones.Single(z => z.Zone == "platform").PeoplePerSquareMetre);
        Assert.Null(record.Zones.Single(z => z.Zone == "gate").PeoplePerSquareMetre); // under k people: no density leaves
        // Released once: a reading that comes afterwards is late.
        Assert.Equal(PartOutcome.Late, collector.Add(Part(m, epochUtc, a, 3, 1, t0.AddSeconds(50), t0.AddSeconds(45))));
    }

    [Fact]
    public void A_camera_output_sends_crowd_readings_raw_after_a_fence_never_as_a_difference()
    {
        var m = Manifest();
        var epochUtc = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        var table1 = CrowdLevelTable.From(m, Reading(5, new ZoneCrowdLevel("platform", 9, 1.5, "busy")), epochUtc)!;
        var table2 = CrowdLevelTable.From(m, Reading(20, new ZoneCrowdLevel("platform", 12, 2.0, "crowded")), epochUtc)!;
        var output = new CameraOutput(m.CameraId, 1, DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Single(output.Tap(m.Privacy.TimeBin, m.VersionHash, [table1], closed: false));
        output.Fence();
        Assert.Empty(output.Tap(m.Privacy.TimeBin, m.VersionHash, [table2], closed: false));
        var resumed = Assert.Single(output.Resume(2, DateTimeOffset.UtcNow, m.Privacy.TimeBin, m.VersionHash));
        Assert.Equal(12, resumed.Counts[0][0]); // the reading itself, not 12 − 9
        Assert.Equal(2000, resumed.Counts[0][1]);
    }

    [Fact]
    public void A_crowd_level_part_without_a_level_is_refused_by_the_gate_and_nothing_of_it_leaves()
    {
        var m = Manifest();
        var epochUtc = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        var bad = new RawBinTable(DataClass.CrowdLevel, epochUtc, ["platform"], ["people", "density_milli", "level:busy"], new[,] { { 9, 1500, 0 } });
        var collector = new BinCollector(id => id == m.CameraId ? m : null, TimeSpan.Zero);
        Assert.Equal(PartOutcome.Accepted, collector.Add(BinPart.From(m.CameraId, m.Privacy.TimeBin, m.VersionHash, 1, 1, true, bad)));
        Assert.Empty(collector.ReleaseDue(null));
        Assert.Contains("has no level", Assert.Single(collector.GateRefusals).Reason);
    }
}
