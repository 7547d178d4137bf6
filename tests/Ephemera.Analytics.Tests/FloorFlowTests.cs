using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Analytics.Tests;

public class FloorFlowTests
{
    // 100 image pixels = 1 floor metre; floor 10 × 10 m with three vertical bands A | B | C.
    internal static readonly Homography PixelsToMetres = Homography.Parse("0,0,0,0; 1000,0,10,0; 1000,1000,10,10; 0,1000,0,10");
    private static readonly FloorPlan Plan = new(10, 10, [
        FloorZone.Parse("A:0,0,3,0,3,10,0,10"), FloorZone.Parse("B:3.5,0,6.5,0,6.5,10,3.5,10"), FloorZone.Parse("C:7,0,10,0,10,10,7,10")]);

    private static FloorFlowAnalyser Analyser(double trimMetres = 1, double trimSeconds = 1, bool trajectories = false) =>
        new(new FloorFlowOptions(PixelsToMetres, Plan, trimEntryMetres: trimMetres, trimExitMetres: trimMetres,
            trimEntrySeconds: trimSeconds, trimExitSeconds: trimSeconds, emitTrajectories: trajectories, timeBinSeconds: 60,
            dwellBucketEdgesSeconds: [0, 1, 2, 4, 8]));

    /// <summary>Walks a track along x (metres) at y = 5 m, 10 fps, feet at the given floor x.</summary>
    private static void WalkX(ITrackAnalyser a, int id, double fromM, double toM, double seconds, double t0 = 0)
    {
        int frames = (int)Math.Round(seconds * 10);
        for (int f = 0; f <= frames; f++)
            a.Update([Feed.At(id, (fromM + (toM - fromM) * f / frames) * 100, 500)], [], t0 + f * 0.1);
        a.Update([], [id], t0 + frames * 0.1 + 0.1);
    }

    [Fact]
    public void TracksThroughABCGiveTheExpectedTransitionMatrix()
    {
        var flow = Analyser();
        for (int id = 1; id <= 3; id++) WalkX(flow, id, 0.2, 9.8, 9.6, t0: id * 12);
        WalkX(flow, 4, 9.8, 4.0, 6, t0: 50); // C → B only
        var r = flow.Snapshot();
        var m = Assert.Single(r.Transitions);
        Assert.Equal(3, m.CountOf("A", "B"));
        Assert.Equal(3, m.CountOf("B", "C"));
        Assert.Equal(1, m.CountOf("C", "B"));
        Assert.Equal(0, m.CountOf("A", "C"));
        Assert.Equal(3, m.Cells.Count);
        Assert.Equal(DataClass.TransitionMatrix, m.DataClass);
        Assert.Null(r.Trajectories); // per-visit output is off by default
        Assert.Equal(0, flow.TrackStateCount);
        // B is 3 m wide, walked at 1 m/s: every B dwell is ~3 s → bucket [2,4) (the C→B walk is trimmed at B's end: shorter).
        var dwellB = r.Dwell.Where(d => d.Zone == "B").ToList();
        Assert.Equal(3, dwellB.Sum(d => d.Counts[2]));
    }

    [Fact]
    public void EntryAndExitSegmentsAreTrimmed()
    {
        // A track that is in A only for its first 0.6 m and in C only for its last 0.6 m.
        void Walk(FloorFlowAnalyser f) => WalkX(f, 1, 2.4, 7.6, 5.2);
        var untrimmed = Analyser(trimMetres: 0, trimSeconds: 0);
        Walk(untrimmed);
        var u = untrimmed.Snapshot().Transitions.Single();
        Assert.Equal(1, u.CountOf("A", "B"));
        Assert.Equal(1, u.CountOf("B", "C"));

        var byDistance = Analyser(trimMetres: 1, trimSeconds: 0);
        Walk(byDistance);
        Assert.Empty(byDistance.Snapshot().Transitions); // only B is left

        var byTime = Analyser(trimMetres: 0, trimSeconds: 1); // 1 s = 1 m at this speed
        Walk(byTime);
        Assert.Empty(byTime.Snapshot().Transitions);
    }

    [Fact]
    public void PerVisitIdsAreRandomUniqueAndNeverTheTrackerId()
    {
        var flow = Analyser(trajectories: true);
        for (int id = 1; id <= 20; id++) WalkX(flow, id, 0.2, 9.8, 9.6, t0: id * 12);
        WalkX(flow, 5, 0.2, 9.8, 9.6, t0: 400); // the tracker reuses id 5 for another visit
        var traj = flow.Snapshot().Trajectories!;
        Assert.Equal(21, traj.Count);
        Assert.Equal(21, traj.Select(t => t.VisitId).Distinct().Count());
        foreach (var t in traj)
        {
            Assert.Equal(16, t.VisitId.Length);
            ulong v = Convert.ToUInt64(t.VisitId, 16);
            Assert.True(v > uint.MaxValue, "a visit id can never equal a tracker id");
            Assert.Equal(["A", "B", "C"], t.Stays.Select(s => s.Place));
            Assert.All(t.Stays, s => Assert.Equal(0, s.EnterSeconds % 10)); // time-binned to the 10 s step
            Assert.Equal(DataClass.Trajectory, t.DataClass);
        }
        // Flush hands trajectories out once.
        Assert.Equal(21, flow.Flush(10_000).Trajectories!.Count);
        Assert.Empty(flow.Flush(10_000).Trajectories!);
    }

    [Fact]
    public void GridSnappingWhenThePlanHasNoZones()
    {
        var flow = new FloorFlowAnalyser(new FloorFlowOptions(PixelsToMetres, new FloorPlan(10, 10), gridCellMetres: 2,
            trimEntryMetres: 0, trimExitMetres: 0, trimEntrySeconds: 0, trimExitSeconds: 0));
        WalkX(flow, 1, 0.5, 5.5, 5);
        var m = flow.Snapshot().Transitions.Single();
        Assert.Equal(1, m.CountOf("cell_0_2", "cell_1_2"));
        Assert.Equal(1, m.CountOf("cell_1_2", "cell_2_2"));
        Assert.Equal(2, m.Cells.Count);
        var heat = flow.HeatMap();
        Assert.Equal((5, 5), (heat.CellsX, heat.CellsY));
        Assert.Equal(51, heat.PersonFrames.Sum());
        Assert.True(heat.PersonFrames[2 * 5 + 1] > 0 && heat.PersonFrames[0] == 0);
    }

    [Fact]
    public void HeatMapPngShowsOccupiedCellsInPaletteColoursOnly()
    {
        var flow = Analyser();
        WalkX(flow, 1, 0.5, 9.5, 9);
        for (int f = 0; f < 100; f++) flow.Update([Feed.At(2, 150, 850)], [], f * 0.1); // someone standing at (1.5, 8.5) m
        var heat = flow.HeatMap();
        var png = heat.RenderPng(pixelsPerCell: 8);
        Preview.Save("heat-map.png", png);
        var img = PngDecoder.Decode(png);
        Assert.Equal((80, 80), (img.Width, img.Height));
        var palette = FloorHeatMap.Palette.Select(c => (c.R, c.G, c.B)).Append((FloorHeatMap.OutlineColour.R, FloorHeatMap.OutlineColour.G, FloorHeatMap.OutlineColour.B)).ToHashSet();
        Assert.Subset(palette, img.Colours());
        var hottest = FloorHeatMap.Palette[^1];
        Assert.Equal((hottest.R, hottest.G, hottest.B), img.At(1 * 8 + 4, 8 * 8 + 4));  // the standing person's cell
        Assert.Equal((255, 255, 255), img.At(5 * 8 + 4, 1 * 8 + 4));                     // nobody at (5.5, 1.5) m
        Assert.NotEqual((255, 255, 255), img.At(5 * 8 + 4, 5 * 8 + 4));                  // the walk at y = 5 m
    }

    [Fact]
    public void OptionsAreValidated()
    {
        Assert.Throws<EphemeraException>(() => new FloorFlowOptions(PixelsToMetres, Plan, gridCellMetres: 0));
        Assert.Throws<EphemeraException>(() => new FloorFlowOptions(PixelsToMetres, Plan, trimEntryMetres: -1));
        Assert.Throws<EphemeraException>(() => new FloorFlowOptions(PixelsToMetres, new FloorPlan(10, 10), snapToZones: true));
        Assert.Throws<EphemeraException>(() => new FloorPlan(0, 10));
        Assert.Throws<EphemeraException>(() => new FloorPlan(10, 10, [FloorZone.Parse("a:0,0,1,0,1,1"), FloorZone.Parse("a:0,0,1,0,1,1")]));
    }
}
