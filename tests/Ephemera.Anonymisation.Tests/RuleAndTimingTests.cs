using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Inference;
using Ephemera.Inference.Postprocess;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Anonymisation.Tests;

/// <summary>The keep/mask rules on real frames, and time per stage at 720p and 1080p.</summary>
public class RuleAndTimingTests(ITestOutputHelper log)
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private void Log(string what, AnonymiseResult r) =>
        log.WriteLine($"{what}: {r.OutputCheck}, faces {r.Masked.Faces}, plates {r.Masked.Plates}, text {r.Masked.Text}, head bands {r.Masked.HeadBands}, " +
            $"kept text {r.Masked.KeptText}, remasked {r.Masked.Remasked}; ms copy {r.Timings.CopyMs:F1} faces {r.Timings.FacesMs:F0} " +
            $"text {r.Timings.TextMs:F0} mask {r.Timings.MaskMs:F1} check {r.Timings.CheckMs:F0} encode {r.Timings.EncodeMs:F1} total {r.Timings.TotalMs:F0}");

    [Fact]
    public void A_person_without_a_face_detection_loses_the_head_band_unless_opted_out()
    {
        // A synthetic person box over plain ground where no face detector fires: the band must be masked.
        var f = RawFrame.Extract(TestPaths.Video("car-detection.mp4"), 30);
        var person = new Detections();
        person.Add(new BoxF(100, 300, 40, 100), 0.9f, CocoClasses.Person);
        using (var a = new StreetAnonymiser(Inputs.Case4, null, Inputs.Cpu))
        {
            var r = a.Anonymise(f.View, person, At);
            Log("head band on", r);
            Assert.Equal(1, r.Masked.HeadBands);
            Assert.True(Inputs.Covered(new BoxF(100, 300, 40, 20), r.MaskRects, f.W, f.H) >= 0.99);
        }
        using (var b = new StreetAnonymiser(Inputs.Case4, new AnonymiseOptions { MaskHeadBands = false }, Inputs.Cpu))
        {
            var r = b.Anonymise(f.View, person, At);
            Assert.Equal(0, r.Masked.HeadBands);
            Assert.True(Inputs.Covered(new BoxF(100, 300, 40, 20), r.MaskRects, f.W, f.H) < 0.5);
        }
    }

    [Fact]
    public void Small_text_is_masked_and_large_text_kept_by_default_each_switchable()
    {
        // selfie.jpg carries the large caption "World's Largest Selfie" (top left): a sign-like text, kept by default.
        var (src, frame) = Inputs.Decode(Inputs.Image("selfie.jpg"));
        using (src) using (frame)
        {
            var caption = new BoxF(60, 40, 520, 70); // hand-labelled on the 2048×1150 image
            using var keep = new StreetAnonymiser(Inputs.Case4, new AnonymiseOptions { OutputCheck = false }, Inputs.Cpu);
            var r = keep.Anonymise(frame.View, new Detections(), At);
            Log("keep signs", r);
            Assert.True(r.Masked.KeptText >= 1);
            double kept = Inputs.Covered(caption, r.MaskRects, frame.Width, frame.Height);
            using var mask = new StreetAnonymiser(Inputs.Case4, new AnonymiseOptions { OutputCheck = false, MaskLargeText = true }, Inputs.Cpu);
            var m = mask.Anonymise(frame.View, new Detections(), At);
            Log("mask signs", m);
            double masked = Inputs.Covered(caption, m.MaskRects, frame.Width, frame.Height);
            log.WriteLine($"caption masked share: kept {kept:F3}, masked {masked:F3}");
            // The small second line "Powered by Lumia 730" is small text outside vehicles: masked by default.
            var small = new BoxF(85, 133, 447, 41); // hand-labelled
            double smallShare = Inputs.Covered(small, r.MaskRects, frame.Width, frame.Height);
            using var noSmall = new StreetAnonymiser(Inputs.Case4, new AnonymiseOptions { OutputCheck = false, MaskSmallText = false }, Inputs.Cpu);
            var n = noSmall.Anonymise(frame.View, new Detections(), At);
            double smallKept = Inputs.Covered(small, n.MaskRects, frame.Width, frame.Height);
            log.WriteLine($"small caption masked share: default {smallShare:F3}, MaskSmallText=false {smallKept:F3}");
            Assert.True(smallShare > 0.8, $"the small caption is only {smallShare:P0} masked");
            Assert.True(smallKept < 0.3, $"the small caption is {smallKept:P0} masked although small text is kept");
            Assert.True(kept < 0.3, $"the caption is {kept:P0} masked although signs are kept");
            Assert.True(masked > 0.8, $"the caption is only {masked:P0} masked with MaskLargeText");
        }
    }

    [Theory]
    [InlineData(1280, 720)]
    [InlineData(1920, 1080)]
    public void Time_per_stage_on_street_footage(int w, int h)
    {
        var f = RawFrame.Extract(TestPaths.Mot15("ADL-Rundle-6/video.mp4"), 100, w, h);
        var objects = Inputs.Yolox(f.View);
        using var a = new StreetAnonymiser(Inputs.Case4, null, Inputs.Cpu);
        a.Anonymise(f.View, objects, At); // warm-up (sessions, whole-frame text detector)
        var runs = Enumerable.Range(0, 3).Select(_ => a.Anonymise(f.View, objects, At)).ToList();
        foreach (var r in runs) Log($"{w}x{h}", r);
        var best = runs.MinBy(r => r.Timings.TotalMs)!;
        log.WriteLine($"{w}x{h}: best total {best.Timings.TotalMs:F0} ms = {1000 / best.Timings.TotalMs:F2} frames/s (2 ORT threads)");

        // The same detectors whole-frame only, back to back: YuNet letterboxed into 640, UltraFace, DB at 640.
        using var yunet = ObjectDetector.Open(new DetectorOptions { Model = "face_detection_yunet_2026may", Inference = Inputs.Cpu, Decode = new DecodeOptions(0.3f, 0.3f, 1000) });
        using var ultra = ObjectDetector.Open(new DetectorOptions { Model = "ultraface_version-RFB-320", Inference = Inputs.Cpu, Decode = new DecodeOptions(0.5f, 0.3f, 500) });
        using var db = ObjectDetector.Open(new DetectorOptions { Model = "ch_PP-OCRv4_det_infer", Inference = Inputs.Cpu, Decode = new DecodeOptions(0.3f, 0.3f, 500) });
        var d = new Detections();
        yunet.Detect(f.View, d); ultra.Detect(f.View, d); db.Detect(f.View, d);
        var sw = Stopwatch.StartNew();
        yunet.Detect(f.View, d); int fy = d.Count;
        ultra.Detect(f.View, d); int fu = d.Count;
        db.Detect(f.View, d);
        log.WriteLine($"{w}x{h}: whole-frame detectors back to back {sw.Elapsed.TotalMilliseconds:F0} ms (YuNet@640 {fy} faces, UltraFace {fu}, DB@640 {d.Count} text) vs the anonymiser's {best.Masked.Faces} faces");
        Assert.True(best.Masked.Faces >= fy, "tiling must find at least what the downscaled whole frame finds");
    }
}
