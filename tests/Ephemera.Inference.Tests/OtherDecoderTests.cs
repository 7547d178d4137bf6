using Ephemera.Core;
using Ephemera.Inference.Postprocess;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Inference.Tests;

/// <summary>The face and text decoders on real images (BGR24 frames decoded by ffmpeg).</summary>
public class OtherDecoderTests(ITestOutputHelper log)
{
    private static (byte[] Bgr, int W, int H) LoadBgr(string image)
    {
        string path = TestPaths.Image(image);
        var probe = ChildProcess.Run("ffprobe", ["-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", path]);
        var wh = probe.StdOut.Trim().Split(',').Select(int.Parse).ToArray();
        using var tmp = new TempDir();
        var r = ChildProcess.Run("ffmpeg", ["-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "bgr24", tmp.File("f.raw")]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        return (File.ReadAllBytes(tmp.File("f.raw")), wh[0], wh[1]);
    }

    private Detections Run(string model, string image, int w = 0, int h = 0, float score = 0.5f, float nms = 0.3f)
    {
        var (bgr, iw, ih) = LoadBgr(image);
        using var detector = ObjectDetector.Open(new DetectorOptions { Model = model, InputWidth = w, InputHeight = h, Decode = new DecodeOptions(score, nms, 1000) });
        var dets = new Detections();
        detector.Detect(RawFrames.View(bgr, iw, ih, "bgr24"), dets);
        log.WriteLine($"{model} on {image}: {dets.Count} boxes");
        for (int i = 0; i < dets.Count; i++)
        {
            var b = dets.Boxes[i];
            Assert.True(b.X >= 0 && b.Y >= 0 && b.Right <= iw && b.Bottom <= ih && b.W > 0 && b.H > 0, $"box {b} outside {iw}x{ih}");
        }
        return dets;
    }

    [Fact]
    public void YuNetFindsTheCrowdsFacesInSelfie()
    {
        // MODELS.md: 271 faces at 1024×575. Here the 2048×1150 photo is letterboxed into 1024×576.
        var d = Run("face_detection_yunet_2026may", "selfie.jpg", 1024, 576, score: 0.6f);
        Assert.InRange(d.Count, 180, 400);
        // Faces in a crowd photo are small and roughly square.
        float medianAspect = d.Boxes.ToArray().Select(b => b.H / b.W).Order().ElementAt(d.Count / 2);
        Assert.InRange(medianAspect, 0.9f, 1.6f);
    }

    [Fact]
    public void UltraFaceFindsFacesInAGroupPhoto()
    {
        var d = Run("ultraface_version-RFB-320", "ultraface_imgs_1.jpg", score: 0.7f);
        Assert.InRange(d.Count, 3, 100);
    }

    [Fact]
    public void DbTextFindsThePlate()
    {
        var d = Run("ch_PP-OCRv4_det_infer", "licenseplate_motion.jpg", score: 0.3f, nms: 0.3f);
        Assert.InRange(d.Count, 1, 50);
    }
}
