using Ephemera.Core;

namespace Ephemera.Tracking.Tests;

public class MotSequenceTrackerTests
{
    [Fact]
    public void TentativeFramesAreBackfilledOnConfirmation()
    {
        // Frame 1 empty, then an object from frame 2: tentative at 2, confirmed at 3. The result
        // must contain frame 2 with the same id.
        var dets = new List<MotRow>();
        for (int f = 2; f <= 6; f++) dets.Add(new MotRow(f, -1, new BoxF(10 + 3 * f, 10, 40, 90), 0.95f));
        var result = MotSequenceTracker.Run(dets, TrackerOptions.Default, sequenceLength: 6);
        Assert.Equal([2, 3, 4, 5, 6], result.Rows.Select(r => r.Frame).ToArray());
        Assert.Single(result.Rows.Select(r => r.Id).Distinct());
        Assert.Equal(6, result.Frames);
    }

    [Fact]
    public void DetectorEveryOtherFrameKeepsTracksThroughTheSkippedFrames()
    {
        // Detections on odd frames only (a detector at half the frame rate). Told so, the tracker only
        // predicts on the even frames: the track is confirmed and one id covers frames 1–9 after gap
        // filling. Read as a file with empty even frames, a new track could never confirm (tentative
        // tracks die on a missed update) — only the first frame's confirmed-at-once track survives.
        var dets = new List<MotRow>();
        for (int f = 3; f <= 9; f += 2) dets.Add(new MotRow(f, -1, new BoxF(10 + 3 * f, 10, 40, 90), 0.95f));
        var every2 = MotSequenceTracker.Run(dets, TrackerOptions.Default, sequenceLength: 9, interpolateGap: 1, detectEvery: 2);
        Assert.Equal([3, 4, 5, 6, 7, 8, 9], every2.Rows.Select(r => r.Frame).ToArray());
        Assert.Single(every2.Rows.Select(r => r.Id).Distinct());
        var asIfEmpty = MotSequenceTracker.Run(dets, TrackerOptions.Default, sequenceLength: 9, interpolateGap: 1);
        Assert.Empty(asIfEmpty.Rows);
    }

    [Fact]
    public void ShortTracksAreDroppedWhenAsked()
    {
        var dets = new List<MotRow>();
        for (int f = 1; f <= 10; f++) dets.Add(new MotRow(f, -1, new BoxF(10 + 3 * f, 10, 40, 90), 0.95f));
        for (int f = 1; f <= 3; f++) dets.Add(new MotRow(f, -1, new BoxF(500, 300, 40, 90), 0.95f));
        Assert.Equal(2, MotSequenceTracker.Run(dets, TrackerOptions.Default, 10).Tracks);
        var r = MotSequenceTracker.Run(dets, TrackerOptions.Default, 10, minTrackLength: 5);
        Assert.Equal(1, r.Tracks);
        Assert.Equal(10, r.Rows.Count);
    }

    [Fact]
    public void NoDetectionsGiveNoRows()
    {
        var result = MotSequenceTracker.Run([], TrackerOptions.Default, sequenceLength: 10);
        Assert.Empty(result.Rows);
        Assert.Equal(10, result.Frames);
    }

    [Fact]
    public void InterpolationFillsShortGapsOnly()
    {
        var rows = new List<MotRow>
        {
            new(1, 1, new BoxF(0, 0, 10, 10), 1), new(4, 1, new BoxF(30, 0, 10, 10), 1), new(20, 1, new BoxF(0, 0, 10, 10), 1),
        };
        var filled = MotSequenceTracker.Interpolate(rows, 5);
        Assert.Equal(5, filled.Count); // frames 2 and 3 added, the 15-frame gap left alone
        Assert.Contains(filled, r => r.Frame == 2 && Math.Abs(r.Box.X - 10) < 1e-4);
    }

    [Fact]
    public void ScoresOutsideUnitRangeAreRankedWithinTheFile()
    {
        var n = ScoreNormalizer.Fit([-1f, 10f, 50f, 120f]);
        Assert.True(n.Rescales);
        Assert.Equal(0.625f, n.Normalize(-1f));  // 0.5 + 0.5 · 1/4
        Assert.Equal(0.875f, n.Normalize(50f));  // 0.5 + 0.5 · 3/4
        Assert.Equal(0.5f, n.Normalize(-5f));
        Assert.Equal(1f, n.Normalize(500f));
        var id = ScoreNormalizer.Fit([0.5f, 0.99f]);
        Assert.False(id.Rescales);
        Assert.Equal(0.7f, id.Normalize(0.7f));
    }
}

public class AdaptiveScoreTests
{
    [Fact]
    public void ThresholdsFollowTheDetectorsScoreScale()
    {
        // MOT15's Faster R-CNN file (scores 0.5–1, mostly ≈ 0.99): about the fixed 0.6–0.8 / 0.9.
        var frcnn = new MultiObjectTracker(TrackerOptions.Default);
        var dets = new Detections();
        foreach (var g in MotChallenge.Read(Ephemera.TestSupport.TestPaths.Mot15("ADL-Rundle-6/det/det_frcnn.txt")).GroupBy(r => r.Frame))
        {
            dets.Clear();
            foreach (var r in g) dets.Add(r.Box, r.Confidence, 0);
            frcnn.Update(dets, g.Key);
        }
        Assert.InRange(frcnn.EffectiveHighScore, 0.7f, 0.8f);
        Assert.InRange(frcnn.EffectiveNewTrackScore, 0.87f, 0.95f);

        // A detector whose scores spread over 0.1–0.85 (YOLOX-like): both thresholds come down.
        var low = new MultiObjectTracker(TrackerOptions.Default);
        var rng = new Random(7);
        for (int f = 1; f <= 200; f++)
        {
            dets.Clear();
            for (int i = 0; i < 10; i++) dets.Add(new BoxF(100 * i, 10, 40, 90), 0.1f + 0.75f * (float)rng.NextDouble(), 0);
            low.Update(dets, f);
        }
        Assert.InRange(low.EffectiveHighScore, 0.5f, 0.65f);
        Assert.InRange(low.EffectiveNewTrackScore, low.EffectiveHighScore, 0.75f);

        // The named modes keep their fixed thresholds.
        var fixedMode = new MultiObjectTracker(TrackerOptions.ByteOcSort);
        fixedMode.Update(dets, 1);
        Assert.Equal((0.6f, 0.9f), (fixedMode.EffectiveHighScore, fixedMode.EffectiveNewTrackScore));
    }

    [Fact]
    public void HistogramQuantilesInterpolateAndDecay()
    {
        var h = new ScoreHistogram(halfLifeUpdates: 1);
        for (int i = 0; i < 100; i++) h.Add(0.5f);
        Assert.InRange(h.Quantile(0.5), 0.5, 0.5 + 1.0 / ScoreHistogram.Bins);
        Assert.True(double.IsNaN(h.Quantile(0.5, from: 0.6)));
        h.Decay();
        Assert.Equal(50, h.Weight, 6);
        for (int i = 0; i < 150; i++) h.Add(0.9f);
        Assert.True(h.Quantile(0.5) > 0.85); // the newer scores outweigh the decayed ones
    }
}

public class DetectorProfileTests
{
    [Fact]
    public void ForDetectorSetsOnlyWhatTheProfileGives()
    {
        var o = TrackerOptions.Default.ForDetector(new DetectorTrackingProfile(0.15, null));
        Assert.Equal((0.15, (double?)null), (o.MeasurementNoise, o.SizeVelocityNoise));
        Assert.Same(TrackerOptions.Default, TrackerOptions.Default.ForDetector(null));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TrackerOptions.Default with { MeasurementNoise = 0 });
        Assert.Contains("MeasurementNoise", e.Message);
    }

    [Fact]
    public void NoisierBoxesAreTrustedLess()
    {
        // One person walking right at 4 px/frame; the box jumps 12 px up and down every other frame.
        // With the detector's larger measurement noise the reported track moves more smoothly.
        static double Roughness(TrackerOptions options)
        {
            var tracker = new MultiObjectTracker(options);
            var dets = new Detections();
            double sum = 0, last = double.NaN;
            for (int f = 1; f <= 40; f++)
            {
                dets.Clear();
                dets.Add(new BoxF(100 + 4 * f, 200 + (f % 2 == 0 ? 12 : -12), 60, 160), 0.9f, 0);
                var t = tracker.Update(dets, f);
                double y = t[0].Box.Y;
                if (f > 10) sum += Math.Abs(y - last);
                last = y;
            }
            return sum;
        }
        double plain = Roughness(TrackerOptions.Default), noisy = Roughness(TrackerOptions.Default with { MeasurementNoise = 0.15 });
        Assert.True(noisy < 0.7 * plain, $"vertical jitter of the track: {noisy:0.0} px with measurement noise 0.15, {plain:0.0} px with the default");
    }
}
