using Ephemera.Analytics;
using Ephemera.Analytics.Attributes;
using Ephemera.Cli;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.TestSupport;

namespace Ephemera.Runtime.Tests;

/// <summary>A case-1 camera in the engine: faces → age band × sex per visitor → k-suppressed aggregates; nothing per person leaves or stays.</summary>
[Collection("engine")]
public sealed class AttributeCameraTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();
    private static string Case1 => Path.Combine(RepoPaths.Root, "configs", "manifests", "case1-store-attributes.yaml");

    private static CameraConfig Entrance(string manifest) => new()
    {
        Id = "case1-store-entrance", Source = RepoPaths.Data("mot15/ADL-Rundle-6/video.mp4"), Manifest = manifest, Loop = true, DetectFps = 4,
    };

    /// <summary>The case-1 manifest with k = 2 (the smallest the loader allows), so a short run releases a total.</summary>
    private string Case1WithK2()
    {
        var path = _dir.File("case1-k2.yaml");
        File.WriteAllText(path, File.ReadAllText(Case1).Replace("  k: 10", "  k: 2"));
        return path;
    }

    [Fact]
    public void ACase1CameraStoresAttributeAggregatesAndNothingPerPerson()
    {
        var before = PixelLedger.Snapshot();
        var config = new EngineConfig("(test)", new EngineOptions { StorePath = _dir.File("e.db"), AuditIntervalSeconds = 2 }, [Entrance(Case1WithK2())]);
        var tables = new List<CountTableRecord>();
        RunSummary summary;
        int trackState;
        using (var host = new EngineHost(config, new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(14) }))
        {
            host.Records.AddSink(new Sink(r => { if (r is CountTableRecord { Class: DataClass.AttributeAggregate } t) lock (tables) tables.Add(t); }));
            host.Run();
            summary = RunSummary.From(host);
            var attributes = host.Cameras.Single().Analytics!.Attributes!;
            trackState = attributes.TrackStateCount;
            output.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{attributes.Visitors} visitors ({attributes.UnknownVisitors} unknown), {attributes.EstimatesJoined} estimates joined, {attributes.EstimatesUnmatched} unmatched" +
                $"; pixel stage CPU {host.Stages.CpuMs(Stage.PixelStage):F0} ms over {host.Stages.Items(Stage.PixelStage)} frames = {host.Stages.CpuMs(Stage.PixelStage) / Math.Max(1, attributes.Visitors):F0} ms per visitor"));
        }
        var cam = summary.Cameras.Single();
        Assert.True(cam.PixelStageProcessed > 0, $"the face stage never ran ({cam.State} {cam.Error})");
        var crops = Assert.IsType<FaceCropSummary>(cam.FaceCrops); // the summary reports the face stage and its crop lifetimes
        Assert.Equal(crops.FacesFound, crops.RefusedSmall + crops.RefusedPose + crops.RefusedBlur + crops.Estimated);
        Assert.True(crops.Estimated == 0 || crops.CropLifetime.MaxMs > 0);
        output.WriteLine(System.Text.Json.JsonSerializer.Serialize(crops));
        var t = Assert.Single(tables); // one hourly bin, published at stop with the visitors still in view
        Assert.Equal(["0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70+", "unknown"], t.RowLabels);
        Assert.Equal(["female", "male", "unknown"], t.ColumnLabels);
        Assert.True(t.Total is > 0, $"no visitor counted (total {t.Total})");
        Assert.Equal(0, trackState); // no per-track estimates outlive the run
        using (var store = EphemeraStore.Open(_dir.File("e.db")))
        {
            Assert.Equal(1, store.CountRows("case1-store-entrance", DataClass.AttributeAggregate));
            foreach (var cls in new[] { DataClass.FeatureVector, DataClass.RawFrame, DataClass.Track })
                Assert.Equal(0, store.CountRows("case1-store-entrance", cls));
        }
        var after = PixelLedger.Snapshot();
        Assert.True(after.Allocated - before.Allocated == after.Wiped - before.Wiped,
            $"allocated {after.Allocated - before.Allocated}, wiped {after.Wiped - before.Wiped}");
        Assert.Equal(cam.FramesDecoded, cam.FramesDestroyed);
    }

    [Theory]
    [InlineData("{class: AttributeAggregate", "AttributeAggregate")]   // no aggregate declared: M2
    public void ACase1CameraWhoseManifestDoesNotDeclareTheAggregateIsRefused(string dropLine, string expected)
    {
        var path = _dir.File("case1-bad.yaml");
        File.WriteAllLines(path, File.ReadAllLines(Case1).Where(l => !l.Contains(dropLine)));
        AssertRefused(path, expected);
    }

    [Fact]
    public void ACase1CameraWhoseManifestStoresPerPersonFeaturesIsRefused()
    {
        var path = _dir.File("case1-features.yaml");
        File.WriteAllText(path, File.ReadAllText(Case1).Replace("{class: FeatureVector, storage: memory", "{class: FeatureVector, storage: store"));
        AssertRefused(path, "H1");
    }

    private void AssertRefused(string manifest, string expected)
    {
        var config = new EngineConfig("(test)", new EngineOptions { StorePath = _dir.File("e.db") }, [Entrance(manifest)]);
        using var host = new EngineHost(config);
        var cam = host.Cameras.Single();
        Assert.Equal(CameraState.Refused, cam.State);
        Assert.Contains(expected, cam.Error);
        Assert.Equal(0, cam.FramesDecoded);
    }

    [Fact]
    public void ACase1CamerasImageZoneIsItsEntranceNotAnOccupancyZone()
    {
        var m = ManifestLoader.Load(Case1);
        var cam = Entrance(Case1) with
        {
            Analytics = new AnalyticsConfig { Zones = [new ZoneConfig("door", [(0, 0), (960, 0), (960, 1080), (0, 1080)], false, false)] },
        };
        var b = AnalyticsBinder.Bind(cam, m);
        Assert.Null(b.Options.Zones); // no ZoneOccupancy, which a case-1 manifest does not declare
        Assert.NotNull(b.Options.Attributes!.Entrance);
        Assert.Contains(DataClass.AttributeAggregate, b.Produces);
        Assert.DoesNotContain(DataClass.ZoneOccupancy, b.Produces);
    }

    [Fact]
    public void AggregatesBelowKAreSuppressedIncludingByComplement()
    {
        var m = ManifestLoader.Load(Case1); // k = 10
        var a = new VisitorAttributeAnalyser(new VisitorAttributeOptions(new AgeBands(m.Privacy.AgeBandYears), m.Privacy.TimeBin.TotalSeconds));
        int id = 0;
        void Visitors(int n, float age, float male, bool face = true)
        {
            for (int i = 0; i < n; i++, id++)
            {
                var box = new BoxF(10, 10, 50, 150);
                var t = new TrackedObject(id, CocoClasses.Person, box, 0.9f, TrackState.Confirmed, true);
                a.Update([t], [], 100);
                if (face) a.Post(box, age, male, 0.9f); // from the stage thread in the engine
                a.Update([t], [], 100.2);               // joins the track at the camera's next update
                a.Update([], [id], 101);                // the track ends: one visitor
            }
        }
        Visitors(30, 35, 0.9f);  // 30–39 male: 30
        Visitors(12, 35, 0.1f);  // 30–39 female: 12
        Visitors(3, 45, 0.9f);   // 40–49 male: 3 (below k)
        Visitors(15, 45, 0.1f);  // 40–49 female: 15
        Visitors(11, 0, 0, face: false); // never passed the gate
        var results = new PurposeResults([], null, Attributes: a.Flush(3600));
        var r = Assert.IsType<CountTableRecord>(Assert.Single(OutputPublisher.Release(m, results, DateTimeOffset.UnixEpoch)));
        Assert.Equal(DataClass.AttributeAggregate, r.Class);
        int Row(string l) => r.RowLabels.ToList().IndexOf(l);
        Assert.Equal(71, r.Total);                  // totals still match the visitors
        Assert.Equal(11, r.Cell(Row("unknown"), 2)); // the unknown visitors, released (≥ k)
        Assert.Null(r.Cell(Row("40-49"), 1));        // 3 < k: primary suppression
        // The 40–49 row total (18) is released, so a second cell of that row must be hidden too (complement).
        Assert.Null(r.Cell(Row("40-49"), 0));
        // Only the 3 is below k; everything else hidden is complementary (so it lies on a cycle and cannot be solved for).
        int primary = 0; foreach (var p in r.Table.Primary) if (p) primary++;
        Assert.Equal(1, primary);
        Assert.True(r.SuppressedEntries >= 4, $"{r.SuppressedEntries} entries suppressed: the 3 could be computed from the margins");
    }

    private sealed class Sink(Action<DerivedRecord> write) : IOutputSink
    {
        public void Write(DerivedRecord record) => write(record);
    }

    public void Dispose() => _dir.Dispose();
}
