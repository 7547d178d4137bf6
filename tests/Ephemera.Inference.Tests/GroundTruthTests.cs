using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Inference.Postprocess;
using Xunit.Abstractions;

namespace Ephemera.Inference.Tests;

/// <summary>Person recall/precision at IoU 0.5 on ADL-Rundle-6 (every 5th frame) against MOT15 ground truth.</summary>
public class GroundTruthTests(ITestOutputHelper log)
{
    /// <summary>Frames of a video: calls the action with (decode index, view) for every chosen frame.</summary>
    internal delegate void FrameSource(string video, int every, Action<int, FrameView> onFrame);

    internal static (double Recall, double Precision, double MsPerFrame) Evaluate(int inputSize, float score, int every = 5, bool tiles = false, int inputHeight = 0,
        FrameSource? frames = null, DetectorPrecision precision = DetectorPrecision.Fp32)
    {
        string video = RepoPaths.Data("mot15/ADL-Rundle-6/video.mp4");
        frames ??= (v, e, on) => FrameStream.ForEach(v, 1920, 1080, e, int.MaxValue, on);
        var gt = MotChallenge.Read(RepoPaths.Data("mot15/ADL-Rundle-6/gt/gt.txt")).Where(r => r.Confidence != 0).ToLookup(r => r.Frame);
        using var detector = ObjectDetector.Open(new DetectorOptions
        {
            Inference = new Runtime.InferenceOptions(parallelRuns: 1), // frames one at a time: one run, every core
            InputWidth = inputSize, InputHeight = inputHeight > 0 ? inputHeight : inputSize, Decode = new DecodeOptions(score, 0.45f),
            Precision = precision,
        });
        var output = new Detections();
        int tp = 0, fp = 0, fn = 0;
        long ticks = 0; int n = 0;
        frames(video, every, (i, f) =>
        {
            long t0 = Stopwatch.GetTimestamp();
            if (tiles) DetectTiled(detector, f, output); else detector.Detect(f, output);
            ticks += Stopwatch.GetTimestamp() - t0; n++;
            var truth = gt[i + 1].Select(r => r.Box).ToList(); // MOT frames count from 1
            var dets = new List<(BoxF Box, float Score)>();
            for (int k = 0; k < output.Count; k++) if (output.ClassIds[k] == CocoClasses.Person) dets.Add((output.Boxes[k], output.Scores[k]));
            // Greedy one-to-one matching, best score first.
            var used = new bool[truth.Count];
            foreach (var d in dets.OrderByDescending(d => d.Score))
            {
                int best = -1; float bestIoU = 0.5f;
                for (int g = 0; g < truth.Count; g++)
                {
                    if (used[g]) continue;
                    float iou = BoxF.IoU(d.Box, truth[g]);
                    if (iou >= bestIoU) { bestIoU = iou; best = g; }
                }
                if (best >= 0) { used[best] = true; tp++; } else fp++;
            }
            fn += used.Count(u => !u);
        });
        return ((double)tp / (tp + fn), (double)tp / (tp + fp), ticks * 1000.0 / Stopwatch.Frequency / n);
    }

    /// <summary>
    /// Two overlapping square tiles (x 0–1080 and 840–1920) of a 1080p frame, each letterboxed to the
    /// detector's input; boxes shifted back and merged by class-aware NMS. Study only.
    /// </summary>
    internal static void DetectTiled(ObjectDetector detector, FrameView f, Detections output)
    {
        var all = new CandidateBoxes();
        var tile = new Detections();
        foreach (int x0 in new[] { 0, f.Width - f.Height })
        {
            var view = new FrameView(f.Height, f.Height, f.Format, f.Plane0[x0..], f.Stride0, f.Plane1[(x0 / 2)..], f.Stride1, f.Plane2[(x0 / 2)..], f.Stride2, f.FullRange);
            detector.Detect(view, tile);
            for (int i = 0; i < tile.Count; i++)
            {
                var b = tile.Boxes[i];
                all.Add(b.X + x0, b.Y, b.Right + x0, b.Bottom, tile.Scores[i], tile.ClassIds[i]);
            }
        }
        var kept = new int[300];
        int n = new NonMaxSuppression().Run(all, 0.45f, true, kept);
        output.Clear();
        for (int i = 0; i < n; i++)
        {
            int k = kept[i];
            output.Add(BoxF.FromCorners(all.X1[k], all.Y1[k], all.X2[k], all.Y2[k]), all.Score[k], (int)all.ClassF[k]);
        }
    }

    [Fact]
    public void PersonRecallAndPrecisionAtInput416AreNearThePublishedReference()
    {
        var (recall, precision, ms) = Evaluate(416, 0.3f);
        log.WriteLine($"ADL-Rundle-6 every 5th frame, YOLOX-Nano 416, score>0.3: recall {recall:F3}, precision {precision:F3}, {ms:F1} ms/frame");
        // Reference (same model, OpenCV preprocessing): recall 0.631, precision 0.769.
        Assert.InRange(recall, 0.60, 1.0);
        Assert.InRange(precision, 0.73, 1.0);
    }

    [Fact]
    public void AnInputFittedToTheFramesAspectFindsThePeopleTheSquareInputFinds()
    {
        // 1080p at the square input's scale is 416×234: the engine's fitted input is 416×256.
        Assert.Equal((416, 256), Preprocess.InputShape.FitToSources(416, [(1920, 1080)]));
        var square = Evaluate(416, 0.3f, every: 10);
        var fitted = Evaluate(416, 0.3f, every: 10, inputHeight: 256);
        log.WriteLine($"every 10th frame: 416x416 recall {square.Recall:F3} precision {square.Precision:F3} {square.MsPerFrame:F1} ms; " +
                      $"416x256 recall {fitted.Recall:F3} precision {fitted.Precision:F3} {fitted.MsPerFrame:F1} ms");
        Assert.InRange(fitted.Recall, square.Recall - 0.02, square.Recall + 0.02);
        Assert.InRange(fitted.Precision, square.Precision - 0.03, square.Precision + 0.03);
    }
}
