using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference.Postprocess;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Anonymisation.Tests;

/// <summary>
/// A plate on a car the caller's YOLOX pass does not box: car-detection.mp4 frame 320, a white car half out of
/// the top of the frame (plate hand-labelled at 225,66 21×10). YOLOX on the whole frame returns nothing there;
/// on its native-resolution tile it boxes the car (<see cref="AnonymiseOptions.VehicleTiles"/>).
/// </summary>
public class VehicleTileTests(ITestOutputHelper log)
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly BoxF Plate = new(225, 66, 21, 10);
    // The stroke finder (which needs no vehicle box) finds this plate too: off here, so only the tiles can.
    private static readonly AnonymiseOptions TilesOnly = new() { PlateStrokeSearch = false };

    [Fact]
    public void A_plate_on_a_car_with_no_whole_frame_box_is_masked()
    {
        var raw = RawFrame.Extract(TestPaths.Video("car-detection.mp4"), 320);
        var objects = Inputs.Yolox(raw.View);
        for (int i = 0; i < objects.Count; i++)
            Assert.False(objects.Boxes[i].X < Plate.Right && objects.Boxes[i].Right > Plate.X && objects.Boxes[i].Y < Plate.Bottom && objects.Boxes[i].Bottom > Plate.Y,
                $"YOLOX now boxes the car on the whole frame ({CocoClasses.NameOf(objects.ClassIds[i])}): the test no longer exercises the tiles");

        GC.Collect(); GC.WaitForPendingFinalizers();
        var before = PixelLedger.Snapshot();
        double with, without;
        using (var a = new StreetAnonymiser(Inputs.Case4, TilesOnly, Inputs.Cpu))
        {
            var r = a.Anonymise(raw.View, objects, At);
            with = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
            log.WriteLine($"tiles: {r.TileVehicles} vehicles added ({r.Timings.VehiclesMs:F0} ms), {r.Masked.Plates} plates incl. {r.PlateZones} zones, {r.OutputCheck}; plate masked {with:P0}");
            Assert.True(r.TileVehicles >= 1);
            Assert.False(r.Withheld);
            Assert.Contains("yolox_nano_coco_416", a.DetectorModels);
        }
        using (var a = new StreetAnonymiser(Inputs.Case4, TilesOnly with { VehicleTiles = false }, Inputs.Cpu))
        {
            var r = a.Anonymise(raw.View, objects, At);
            without = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
            log.WriteLine($"no tiles: plate masked {without:P0}");
            Assert.Equal(0, r.TileVehicles);
        }
        Assert.True(with >= 0.95, $"only {with:P0} of the plate is masked");
        Assert.True(without < 0.95, "without the tiles the plate is masked anyway: the test no longer exercises them");
        Inputs.AssertLedgerBalanced(before, log);
    }

    [Fact]
    public void The_output_check_catches_a_plate_only_the_tiles_find()
    {
        // A first pass that masks no plates (test hook): only the output check, on the tile's vehicle, can mask it.
        var raw = RawFrame.Extract(TestPaths.Video("car-detection.mp4"), 320);
        var objects = Inputs.Yolox(raw.View);
        using var a = new StreetAnonymiser(Inputs.Case4, TilesOnly with { SkipPlatesInFirstPass = true }, Inputs.Cpu);
        var r = a.Anonymise(raw.View, objects, At);
        double share = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
        log.WriteLine($"{r.OutputCheck}, re-masked {r.Masked.Remasked}, plate masked {share:P0}");
        Assert.True(r.Masked.Remasked >= 1);
        Assert.NotEqual("passed", r.OutputCheck);
        Assert.True(share >= 0.95, $"only {share:P0} of the plate is masked");
    }

    [Fact]
    public void A_vehicle_tile_overlap_out_of_range_is_refused_with_the_cause()
    {
        var e = Assert.Throws<EphemeraException>(() => new AnonymiseOptions { VehicleTileOverlap = 300 }.Validate());
        Assert.Contains("vehicle tile overlap", e.Message);
    }
}
