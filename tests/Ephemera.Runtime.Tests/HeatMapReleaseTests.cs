using System.Text.Json;
using Ephemera.Analytics;
using Ephemera.Analytics.Tests;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.TestSupport;

namespace Ephemera.Runtime.Tests;

/// <summary>
/// The floor heat map leaves the engine only through the gate: per bin, a cell keeps its
/// person-frames only when at least k distinct visits were in it, and the PNG is drawn from that
/// gated grid; a manifest that does not declare HeatMap gets no heat map at all.
/// </summary>
public sealed class HeatMapReleaseTests
{
    // 1000 px = 10 m both ways; a 10 m × 10 m plan of 1 m cells (the binder's default).
    private static readonly Homography PixelsToMetres = Homography.Parse("0,0,0,0; 1000,0,10,0; 1000,1000,10,10; 0,1000,0,10");
    private const int CellsX = 10;
    private static int Cell(int cx, int cy) => cy * CellsX + cx;

    private static string ManifestText => File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", "case2-store-flow.yaml"));
    private static CameraManifest Manifest(string text) => ManifestLoader.Parse(text, "case2.yaml").ForCamera("plaza-flow-1");

    private static TrackedObject At(int id, double x, double y) =>
        new(id, CocoClasses.Person, new BoxF((float)x - 10, (float)y - 40, 20, 40), 0.9f, TrackState.Confirmed, true);

    /// <summary>Track <paramref name="id"/> stands at pixel (x, y) for <paramref name="frames"/> frames from <paramref name="t0"/>, then leaves.</summary>
    private static void Stand(FloorFlowAnalyser a, int id, double x, double y, int frames, double t0)
    {
        for (int f = 0; f < frames; f++) a.Update([At(id, x, y)], [], t0 + f * 0.1);
        a.Update([], [id], t0 + frames * 0.1);
    }

    /// <summary>
    /// One hour bin: 12 visits of 5 frames in cell (1, 1) (60 person-frames, released); 3 visits of 100
    /// frames in cell (7, 7) (300, the raw hottest cell, below k = 10); one visit of 500 frames and 8
    /// of 1 frame in cell (4, 8) (508 person-frames but 9 distinct visits: below k). A second bin has
    /// one visit, so flushing inside it releases only the first.
    /// </summary>
    private static FloorFlowAnalyser Scene()
    {
        var a = new FloorFlowAnalyser(new FloorFlowOptions(PixelsToMetres, new FloorPlan(10, 10), timeBinSeconds: 3600));
        int id = 1;
        for (int i = 0; i < 12; i++) Stand(a, id++, 150, 150, 5, 10 + i);
        for (int i = 0; i < 3; i++) Stand(a, id++, 750, 750, 100, 100 + i * 20);
        Stand(a, id++, 450, 850, 500, 200);
        for (int i = 0; i < 8; i++) Stand(a, id++, 450, 850, 1, 300 + i);
        Stand(a, id++, 150, 150, 5, 3700); // the next bin
        return a;
    }

    private static List<DerivedRecord> Release(CameraManifest m, FlowReport flow) =>
        OutputPublisher.Release(m, new PurposeResults([], null, flow), DateTimeOffset.UnixEpoch);

    [Fact]
    public void CellsBelowKDistinctVisitsNeverLeaveInTheNumbersOrThePng()
    {
        var m = Manifest(ManifestText);
        Assert.Equal(10, m.Privacy.MinCellCount);
        var flow = Scene().Flush(3700);
        var raw = Assert.Single(flow.HeatMaps!);
        Assert.Equal(300, raw.Map.PersonFrames[Cell(7, 7)]);          // the raw grid has them…
        Assert.Equal(508, raw.Map.PersonFrames[Cell(4, 8)]);
        Assert.Equal(9, raw.Tracks[Cell(4, 8)]);                      // …and counts a long stay once

        var heat = Assert.Single(Release(m, flow).OfType<HeatMapRecord>());
        Assert.Equal(DateTimeOffset.UnixEpoch, heat.BinStart);
        Assert.Equal(TimeSpan.FromHours(1), heat.BinLength);
        Assert.Equal(60, heat.PersonFrames[Cell(1, 1)]);
        Assert.Equal(0, heat.PersonFrames[Cell(7, 7)]);
        Assert.Equal(0, heat.PersonFrames[Cell(4, 8)]);
        Assert.Equal(60, heat.PersonFrames.Sum());
        Assert.Equal(2, heat.SuppressedCells);

        // The PNG is the gated grid's rendering, not the raw one's: the below-k cells are background.
        byte[] png = heat.Png.ToArray();
        Assert.Equal((raw.Map with { PersonFrames = heat.PersonFrames.ToArray() }).RenderPng(), png);
        Assert.NotEqual(raw.Map.RenderPng(), png);
        var img = PngDecoder.Decode(png);
        var white = FloorHeatMap.Palette[0];
        var hottest = FloorHeatMap.Palette[^1];
        Assert.Equal((white.R, white.G, white.B), img.At(7 * 16 + 8, 7 * 16 + 8));
        Assert.Equal((white.R, white.G, white.B), img.At(4 * 16 + 8, 8 * 16 + 8));
        Assert.Equal((hottest.R, hottest.G, hottest.B), img.At(1 * 16 + 8, 1 * 16 + 8));

        // The payload says the same: zeros where withheld, the count of withheld cells, k.
        using var doc = JsonDocument.Parse(heat.PayloadJson());
        var frames = doc.RootElement.GetProperty("person_frames").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal(heat.PersonFrames, frames);
        Assert.Equal(2, doc.RootElement.GetProperty("suppressed_cells").GetInt32());
        Assert.Equal(10, doc.RootElement.GetProperty("k").GetInt32());
    }

    [Fact]
    public void TheStoreKeepsTheGatedMapAndReadsBackTheNewestBin()
    {
        var m = Manifest(ManifestText);
        using var dir = new TempDir();
        using var store = EphemeraStore.Open(dir.File("e.db"));
        store.RegisterManifest(m);
        var a = Scene();
        foreach (var r in Release(m, a.Flush(3700))) store.Write(r);
        foreach (var r in Release(m, a.Flush(7200))) store.Write(r);
        Assert.Equal(2, store.CountRows(m.CameraId, DataClass.HeatMap));
        var newest = store.Query(Role.Analyst).ReadNewest(m.CameraId, DataClass.HeatMap);
        Assert.NotNull(newest);
        Assert.Equal(DateTimeOffset.UnixEpoch.AddHours(1), newest.BinStart);
        Assert.Equal("image/png", newest.MediaType);
        // One visit in the second bin: below k, so the newest map is released all background.
        Assert.Contains("\"suppressed_cells\":1", newest.PayloadJson);
        var img = PngDecoder.Decode(newest.Blob!);
        var white = FloorHeatMap.Palette[0];
        Assert.Equal([(white.R, white.G, white.B)], img.Colours());
        Assert.Throws<AccessDeniedException>(() => store.Query(Role.Public).ReadNewest(m.CameraId, DataClass.HeatMap));
    }

    [Fact]
    public void AManifestWithoutHeatMapGetsNoHeatMapRecord()
    {
        string text = string.Join('\n', ManifestText.Split('\n').Where(l => !l.Contains("{class: HeatMap,", StringComparison.Ordinal)));
        var m = Manifest(text);
        Assert.False(m.Declares(DataClass.HeatMap));
        Assert.Single(Release(Manifest(ManifestText), Scene().Flush(3700)).OfType<HeatMapRecord>()); // the same scene, declared: one map
        Assert.DoesNotContain(Release(m, Scene().Flush(3700)), r => r is HeatMapRecord || r.Class == DataClass.HeatMap);
        var e = Assert.ThrowsAny<EphemeraException>(() => ReleaseGate.HeatMap(m, DateTimeOffset.UnixEpoch, 1, 1, 1, [100], [100], _ => [0x89, (byte)'P', (byte)'N', (byte)'G', 0, 0, 0, 0, 0]));
        Assert.Contains("M2", e.Message);
        // The risk report names the heat-map gate only where the class is declared.
        Assert.Contains(RiskReport.Analyze(Manifest(ManifestText), DateTimeOffset.UtcNow).GatesApplied, g => g.Contains("heat-map", StringComparison.Ordinal));
        Assert.DoesNotContain(RiskReport.Analyze(m, DateTimeOffset.UtcNow).GatesApplied, g => g.Contains("heat-map", StringComparison.Ordinal));
    }

    [Fact]
    public void TheRendererSeesOnlyTheGatedGrid()
    {
        var m = Manifest(ManifestText);
        IReadOnlyList<long>? seen = null;
        var heat = ReleaseGate.HeatMap(m, DateTimeOffset.UnixEpoch, 2, 1, 1, [500, 70], [3, 10],
            g => { seen = g; return new FloorHeatMap(2, 1, 1, g, new FloorPlan(2, 1)).RenderPng(); });
        Assert.Equal([0L, 70L], seen);
        Assert.Equal([0L, 70L], heat.PersonFrames);
        Assert.Equal(1, heat.SuppressedCells);
        Assert.Throws<EphemeraException>(() => ReleaseGate.HeatMap(m, DateTimeOffset.UnixEpoch, 2, 1, 1, [1, 1], [10, 10], _ => [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => ReleaseGate.HeatMap(m, DateTimeOffset.UnixEpoch, 3, 1, 1, [1, 1], [10, 10], _ => [1]));
    }
}
