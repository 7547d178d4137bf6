using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Anonymisation.Tests;

/// <summary>
/// A plate on a car entering at the frame's top edge that no default pass boxed: car-detection.mp4 frame 190, the
/// green car's front plate (hand-labelled at 184,98 22×10). YOLOX scores the car under the vehicle threshold
/// everywhere ("bottle" 0.23 whole-frame, "cell phone" 0.14 on its tile); <see cref="AnonymiseOptions.EdgeVehicleScore"/>
/// takes a tile's box at the frame's edge from 0.1, and the plate search on it finds the plate.
/// </summary>
public class EdgeVehicleTests(ITestOutputHelper log)
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly BoxF Plate = new(184, 98, 22, 10);

    [Fact]
    public void A_plate_on_a_low_scoring_car_at_the_frame_edge_is_masked()
    {
        var raw = RawFrame.Extract(TestPaths.Video("car-detection.mp4"), 190);
        var objects = Inputs.Yolox(raw.View);
        GC.Collect(); GC.WaitForPendingFinalizers();
        var before = PixelLedger.Snapshot();
        double with, without, area;
        var defaults = new AnonymiseOptions();
        using (var a = new StreetAnonymiser(Inputs.Case4, defaults, Inputs.Cpu))
        {
            var r = a.Anonymise(raw.View, objects, At);
            with = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
            area = Inputs.Covered(new BoxF(0, 0, raw.W, raw.H), r.MaskRects, raw.W, raw.H);
            log.WriteLine($"edge score {defaults.EdgeVehicleScore}: {r.TileVehicles} tile vehicles, {r.StrokePlates} stroke candidates, {r.PlateZones} zones, {r.OutputCheck}; plate masked {with:P0}, image {area:P1}");
            Assert.True(r.TileVehicles >= 1);
            Assert.False(r.Withheld);
        }
        using (var a = new StreetAnonymiser(Inputs.Case4, defaults with { EdgeVehicleScore = defaults.VehicleScore }, Inputs.Cpu))
        {
            var r = a.Anonymise(raw.View, objects, At);
            without = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
            log.WriteLine($"edge score = vehicle score: {r.TileVehicles} tile vehicles; plate masked {without:P0}");
        }
        Assert.True(with >= 0.95, $"only {with:P0} of the plate is masked");
        Assert.True(without < 0.95, "the plate is masked without the edge score: the test no longer exercises it");
        // A low-score box gets no plate zone: the frame is masked where the search found something, not around the car.
        Assert.True(area < 0.1, $"{area:P1} of the image is masked");
        Inputs.AssertLedgerBalanced(before);
    }

    [Fact]
    public void The_edge_score_cannot_exceed_the_vehicle_score()
    {
        var e = Assert.Throws<EphemeraException>(() => new AnonymiseOptions { EdgeVehicleScore = 0.3f, VehicleScore = 0.25f }.Validate());
        Assert.Contains("edge vehicle score", e.Message);
    }
}
