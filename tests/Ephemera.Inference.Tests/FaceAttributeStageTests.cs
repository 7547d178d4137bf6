using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference.Attributes;
using Ephemera.Inference.Models;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Preprocess;
using Ephemera.Inference.Runtime;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Inference.Tests;

/// <summary>
/// Case 1's face stage on real footage (ADL-Rundle-6: people walking toward the camera), decoded by
/// the engine's own decoder into its pools: faces are found in the person boxes, gated, estimated,
/// and after the run no crop survives anywhere in pool memory or live pixel buffers.
/// </summary>
public class FaceAttributeStageTests(ITestOutputHelper output)
{
    private static readonly InferenceOptions Cpu = new(intraOpThreads: 2, parallelRuns: 1);

    [Fact]
    public void FacesAreEstimatedAndNoCropBytesSurviveInPoolMemory()
    {
        var observations = new List<FaceAttributeObservation>();
        var patterns = new List<byte[]>();
        var before = PixelLedger.Snapshot();
        var persons = ObjectDetector.Open(new DetectorOptions { Inference = Cpu, MaxBatch = 1, Decode = new DecodeOptions(0.4f, 0.45f, 100) });
        var stage = new FaceAttributeStage(new FaceAttributeOptions(), Cpu, observations.Add);
        var d = new Detections();
        int frames = 0;
        using (var src = VideoSource.Open(TestPaths.Mot15("ADL-Rundle-6/video.mp4"), new SourceOptions { Hardware = HardwareDecode.None, PoolBuffers = 8, DecoderThreads = 1 }))
        {
            var reference = new FramePreprocessor(new InputContract("input", 112, 112, true, [0, 0, 0], [1, 1, 1], ResizeRule.Stretch, 0, false), 112, 112);
            var tensor = new float[3 * 112 * 112];
            FrameLease? current = null;
            // The hook runs while the frame is held: the test makes the same crop itself and keeps 64 bytes
            // from the middle of its tensor as the pattern to look for afterwards.
            stage.OnCrop = (x, y, s) =>
            {
                if (patterns.Count >= 4) return;
                reference.Run(current!.View.Region(x, y, s, s), tensor);
                patterns.Add(MemoryMarshal.AsBytes(tensor.AsSpan(112 * 56 + 40, 16)).ToArray());
            };
            for (int i = 0; i < 240; i++)
            {
                var st = src.Read(out current);
                if (st != ReadStatus.Frame) break;
                using (current)
                {
                    if (i % 4 != 0) continue;
                    persons.Detect(current!.View, d);
                    stage.Process(current!.View, d, i);
                    frames++;
                }
            }
            Array.Clear(tensor);
            Assert.NotEmpty(patterns);
            // Positive control: the scan finds a pattern in a live pixel buffer, and not once it is wiped.
            using (var probe = PixelBuffer.Rent(256))
            {
                patterns[0].CopyTo(probe.DangerousGetSpan()[64..]);
                Assert.True(PixelLedger.ScanPoolMemory(patterns[0]) > 0, "the scan cannot see live pixel buffers");
            }
            // The decoder's pool is still open and the stage's tensor memory still live: neither may hold a crop.
            foreach (var p in patterns) Assert.Equal(0, PixelLedger.ScanPoolMemory(p));
        }
        var (p50, p99, max) = stage.CropLifetimeMs();
        double stageSeconds = stage.StageTicks / (double)Stopwatch.Frequency;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{frames} frames, {stage.PersonsSeen} person boxes, {stage.FacesFound} faces found, rejected: {stage.RejectedSmall} small, {stage.RejectedPose} pose, {stage.RejectedBlur} blur; {stage.Estimated} estimated; " +
            $"stage {stageSeconds:F2} s = {stage.Estimated / stageSeconds:F1} crops/s, {1000 * stageSeconds / Math.Max(1, stage.Estimated):F1} ms per estimate (search included); crop lifetime p50 {p50:F2} p99 {p99:F2} max {max:F2} ms"));
        output.WriteLine("ages: " + string.Join(' ', observations.Select(o => o.Age.ToString("F0", CultureInfo.InvariantCulture))));
        Assert.True(stage.Estimated >= 5, $"only {stage.Estimated} faces passed the gate in {frames} frames");
        Assert.Equal(stage.Estimated, observations.Count);
        Assert.All(observations, o => Assert.InRange(o.MaleProbability, 0f, 1f));
        Assert.All(observations, o => Assert.InRange(o.Quality, 0f, 1f));
        Assert.Equal(stage.FacesFound, stage.RejectedSmall + stage.RejectedPose + stage.RejectedBlur + stage.Estimated);
        stage.Dispose();
        persons.Dispose();
        var after = PixelLedger.Snapshot();
        Assert.Equal(after.Allocated - before.Allocated, after.Wiped - before.Wiped); // every buffer the run made was wiped
    }

    [Fact]
    public void YuNetLandmarksLieInTheirFacesAndTheFrontalCheckReadsThem()
    {
        using var yunet = ObjectDetector.Open(new DetectorOptions { Model = "face_detection_yunet_2026may", Inference = Cpu, MaxBatch = 1, Decode = new DecodeOptions(0.6f, 0.3f, 200) });
        var raw = RawFrames.Extract(TestPaths.Image("ultraface_imgs_1.jpg"), [0], "bgr24");
        var d = new Detections();
        yunet.Detect(raw.View(0), d);
        Assert.True(d.Count >= 3);
        int frontal = 0;
        for (int i = 0; i < d.Count; i++)
        {
            var l = d.Landmarks(i);
            Assert.Equal(Detections.LandmarkFloats, l.Length);
            var b = d.Boxes[i];
            for (int k = 0; k < 10; k += 2)
            {
                Assert.InRange(l[k], b.X - 0.1f * b.W, b.Right + 0.1f * b.W);
                Assert.InRange(l[k + 1], b.Y - 0.1f * b.H, b.Bottom + 0.1f * b.H);
            }
            Assert.True(l[1] < l[9] && l[3] < l[7], "eyes above the mouth corners");
            if (FaceAttributeStage.Frontal(l, 0.2f, 25f)) frontal++;
        }
        Assert.True(frontal >= d.Count / 2, $"{frontal} of {d.Count} group-photo faces frontal");
        // A copy keeps them; a detector without landmarks gives none.
        var copy = new Detections(); d.CopyTo(copy);
        Assert.True(copy.Landmarks(0).SequenceEqual(d.Landmarks(0)));
        var plain = new Detections(); plain.Add(new BoxF(0, 0, 10, 10), 1, 0);
        Assert.True(plain.Landmarks(0).IsEmpty);
    }

    [Fact]
    public void FrontalRejectsTurnedRolledAndTiltedFaces()
    {
        // right eye, left eye, nose, right mouth, left mouth (image x grows to the right).
        float[] straight = [40, 40, 72, 40, 56, 58, 44, 76, 68, 76];
        Assert.True(FaceAttributeStage.Frontal(straight, 0.2f, 25f));
        float[] turned = [40, 40, 72, 40, 70, 58, 58, 76, 74, 76];   // nose near the left eye's x: yaw
        Assert.False(FaceAttributeStage.Frontal(turned, 0.2f, 25f));
        float[] rolled = [40, 40, 64, 64, 48, 64, 30, 80, 50, 90];   // eye line at 45°
        Assert.False(FaceAttributeStage.Frontal(rolled, 0.2f, 25f));
        float[] tilted = [40, 40, 72, 40, 56, 78, 44, 76, 68, 76];   // nose at the mouth line: pitch
        Assert.False(FaceAttributeStage.Frontal(tilted, 0.2f, 25f));
        Assert.True(FaceAttributeStage.Frontal(default, 0.2f, 25f)); // no landmarks: the score gate alone
    }

    [Fact]
    public void SharpnessIsLowForAFlatPatchAndHighForAnEdge()
    {
        var flat = new byte[64 * 64]; Array.Fill(flat, (byte)120);
        var edges = new byte[64 * 64];
        for (int i = 0; i < edges.Length; i++) edges[i] = (byte)(((i % 64) / 4 + (i / 64) / 4) % 2 == 0 ? 30 : 220);
        Assert.Equal(0, FaceAttributeStage.Sharpness(new FrameView(64, 64, PixelFormat.Gray8, flat, 64), 0, 0, 64));
        Assert.True(FaceAttributeStage.Sharpness(new FrameView(64, 64, PixelFormat.Gray8, edges, 64), 0, 0, 64) > 1000);
        Assert.Contains("min face size", Assert.Throws<EphemeraException>(() => new FaceAttributeOptions { MinFacePixels = 4 }.Validated()).Message);
    }
}
