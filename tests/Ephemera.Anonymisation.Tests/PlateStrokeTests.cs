using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference.Postprocess;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Anonymisation.Tests;

/// <summary>
/// The stroke finder (<see cref="AnonymiseOptions.PlateStrokeSearch"/>) on real footage, with no vehicle detection at
/// all: car-detection.mp4 frame 320 (the white car half out of the frame; plate hand-labelled at 225,66 21×10).
/// </summary>
public class PlateStrokeTests(ITestOutputHelper log)
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly BoxF Plate = new(225, 66, 21, 10);
    // No vehicle box from anywhere (neither the caller's detections nor the vehicle tiles); the stroke finder over the whole frame.
    private static readonly AnonymiseOptions NoVehicles = new() { VehicleTiles = false, PlateStrokeWholeFrame = true };

    [Fact]
    public void A_plate_with_no_vehicle_box_at_all_is_masked()
    {
        var raw = RawFrame.Extract(TestPaths.Video("car-detection.mp4"), 320);
        GC.Collect(); GC.WaitForPendingFinalizers();
        var before = PixelLedger.Snapshot();
        double with, without;
        using (var a = new StreetAnonymiser(Inputs.Case4, NoVehicles, Inputs.Cpu))
        {
            var r = a.Anonymise(raw.View, new Detections(), At);
            with = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
            log.WriteLine($"stroke finder: {r.StrokePlates} candidates, {r.OutputCheck}; plate masked {with:P0}");
            Assert.True(r.StrokePlates >= 1);
            Assert.False(r.Withheld);
        }
        using (var a = new StreetAnonymiser(Inputs.Case4, NoVehicles with { PlateStrokeSearch = false }, Inputs.Cpu))
        {
            var r = a.Anonymise(raw.View, new Detections(), At);
            without = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
            log.WriteLine($"without: plate masked {without:P0}");
        }
        using (var a = new StreetAnonymiser(Inputs.Case4, NoVehicles with { PlateStrokeWholeFrame = false }, Inputs.Cpu))
        {
            // The default scope: the stroke finder looks only in vehicles' plate regions, and there is no vehicle.
            var r = a.Anonymise(raw.View, new Detections(), At);
            log.WriteLine($"vehicle regions only: {r.StrokePlates} candidates");
            Assert.Equal(0, r.StrokePlates);
        }
        Assert.True(with >= 0.95, $"only {with:P0} of the plate is masked");
        Assert.True(without < 0.95, "the plate is masked without the stroke finder: the test no longer exercises it");
        // The stroke map's integral image is a pixel buffer like the rest: allocated, wiped, none left in use.
        Inputs.AssertLedgerBalanced(before, log);
    }

    [Fact]
    public void The_output_check_catches_a_plate_only_the_stroke_finder_finds()
    {
        // A first pass that masks no plates (test hook), no vehicle box: only the output check's stroke finder can find it.
        var raw = RawFrame.Extract(TestPaths.Video("car-detection.mp4"), 320);
        using var a = new StreetAnonymiser(Inputs.Case4, NoVehicles with { SkipPlatesInFirstPass = true }, Inputs.Cpu);
        var r = a.Anonymise(raw.View, new Detections(), At);
        double share = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
        log.WriteLine($"{r.OutputCheck}, re-masked {r.Masked.Remasked}, plate masked {share:P0}");
        Assert.True(r.Masked.Remasked >= 1);
        Assert.NotEqual("passed", r.OutputCheck);
        Assert.True(share >= 0.95, $"only {share:P0} of the plate is masked");
    }

    [Theory]
    [InlineData(120)]
    [InlineData(250)]
    [InlineData(360)]
    public void An_empty_road_gives_no_stroke_candidates(int frame)
    {
        // Asphalt speckles, lane markings and arrows: no plate-shaped row of strokes, so nothing of the road is masked.
        var raw = RawFrame.Extract(TestPaths.Video("car-detection.mp4"), frame);
        using var a = new StreetAnonymiser(Inputs.Case4, NoVehicles, Inputs.Cpu);
        var r = a.Anonymise(raw.View, new Detections(), At);
        log.WriteLine($"frame {frame}: {r.StrokePlates} stroke candidates, {r.MaskRects.Count} masks");
        Assert.Equal(0, r.StrokePlates);
    }
}
