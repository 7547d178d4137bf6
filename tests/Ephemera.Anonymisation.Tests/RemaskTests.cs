using Ephemera.Core;
using Ephemera.Inference;
using Ephemera.Inference.Postprocess;
using Ephemera.Governance;
using Ephemera.Inference.Runtime;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Anonymisation.Tests;

/// <summary>
/// The output check's re-mask covers what survived, not the frame: car-detection.mp4 frame 226 (the red car's
/// rear plate, hand-labelled at 371,102 24×12). Before the fix, YuNet on the masked output's 640×432 face tiles
/// regressed a 495×432 "face" clipped to the tile (top and bottom), and its ×1.3 re-mask covered 84 % of the frame.
/// </summary>
public class RemaskTests(ITestOutputHelper log)
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly BoxF Plate = new(371, 102, 24, 12);

    [Fact]
    public void A_remask_on_frame_226_covers_the_plate_not_the_frame()
    {
        var raw = RawFrame.Extract(TestPaths.Video("car-detection.mp4"), 226);
        // The caller's YOLOX pass as anonymise-eval runs it (score 0.3): the red car is a bus box over the top of the frame.
        using var yolox = ObjectDetector.Open(new DetectorOptions { Inference = Inputs.Cpu, MaxBatch = 1, Decode = new DecodeOptions(0.3f, 0.45f) });
        var objects = new Detections();
        yolox.Detect(raw.View, objects);
        for (int i = 0; i < objects.Count; i++) log.WriteLine($"YOLOX {CocoClasses.NameOf(objects.ClassIds[i])} {objects.Scores[i]:F2} {objects.Boxes[i]}");
        using var a = new StreetAnonymiser(ManifestLoader.Load(Inputs.ManifestPath), null, Inputs.Cpu);
        var r = a.Anonymise(raw.View, objects, At);
        double plate = Inputs.Covered(Plate, r.MaskRects, raw.W, raw.H);
        double area = MaskCoverage.Fraction(new BoxF(0, 0, raw.W & ~1, raw.H & ~1), r.MaskRects, raw.W, raw.H);
        log.WriteLine($"{r.OutputCheck}, re-masked {r.Masked.Remasked}, plates {r.Masked.Plates} (zones {r.PlateZones}, strokes {r.StrokePlates}), tile vehicles {r.TileVehicles}");
        log.WriteLine($"masks: {string.Join(" ", r.MaskRects.Select(m => $"{m.X0},{m.Y0}-{m.X1},{m.Y1}"))}");
        log.WriteLine($"plate masked {plate:P1}, frame masked {area:P1}");
        Assert.NotNull(r.Record);
        Assert.True(plate >= 0.999, $"only {plate:P1} of the plate is masked");
        Assert.True(area < 0.30, $"{area:P1} of the frame is masked");
    }
}
