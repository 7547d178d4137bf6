using Ephemera.Core;
using Ephemera.Evaluation;

namespace Ephemera.Evaluation.Tests;

/// <summary>Small sequences whose metrics are computed by hand in the comments.</summary>
public class HandComputedTests
{
    private static MotRow R(int frame, int id, float x, float y, float w, float h, float conf = 1) => new(frame, id, new BoxF(x, y, w, h), conf);

    [Fact]
    public void PerfectTrackingScoresOne()
    {
        var gt = new[] { R(1, 1, 0, 0, 10, 10), R(2, 1, 1, 0, 10, 10), R(2, 2, 50, 50, 10, 20) };
        var res = new[] { R(1, 7, 0, 0, 10, 10), R(2, 7, 1, 0, 10, 10), R(2, 9, 50, 50, 10, 20) };
        var m = MotEvaluator.Evaluate(gt, res);
        Assert.Equal(1, m.Hota, 9); Assert.Equal(1, m.DetA, 9); Assert.Equal(1, m.AssA, 9); Assert.Equal(1, m.LocA, 9);
        Assert.Equal(1, m.Mota, 9); Assert.Equal(0, m.Motp, 9); Assert.Equal(1, m.Idf1, 9);
        Assert.Equal((0, 0, 0, 2), (m.Fp, m.Fn, m.Idsw, m.Mt));
    }

    [Fact]
    public void IdSwitchHalvesAssociation()
    {
        // One gt id over two frames, the result changes id in frame 2 with perfect boxes.
        // Every alpha: TP = 2, so DetA = 1. Pairs (1,A) and (1,B) each match once;
        // Jaccard = 1 / (2 + 1 − 1) = 0.5, so AssA = (1·0.5 + 1·0.5) / 2 = 0.5 and HOTA = √0.5.
        // CLEAR: 1 switch → MOTA = 1 − 1/2 = 0.5. IDF1: best pair shares 1 frame →
        // IDTP 1, IDFN 1, IDFP 1 → IDF1 = 2/4 = 0.5.
        var gt = new[] { R(1, 1, 0, 0, 10, 10), R(2, 1, 0, 0, 10, 10) };
        var res = new[] { R(1, 100, 0, 0, 10, 10), R(2, 200, 0, 0, 10, 10) };
        var m = MotEvaluator.Evaluate(gt, res);
        Assert.Equal(1, m.DetA, 9);
        Assert.Equal(0.5, m.AssA, 9);
        Assert.Equal(Math.Sqrt(0.5), m.Hota, 9);
        Assert.Equal(1, m.Idsw);
        Assert.Equal(0.5, m.Mota, 9);
        Assert.Equal(0.5, m.Idf1, 9);
    }

    [Fact]
    public void HalfOverlapCountsForTenOfNineteenAlphas()
    {
        // IoU = 50/100 = 0.5: a TP for alpha 0.05 … 0.50 (10 values), a FN + FP above.
        // HOTA = (10·1 + 9·0) / 19. LocA = (10·0.5 + 9·1) / 19 (TrackEval's LocA is 1 when TP = 0).
        var m = MotEvaluator.Evaluate(new[] { R(1, 1, 0, 0, 10, 10) }, new[] { R(1, 1, 0, 0, 10, 5) });
        Assert.Equal(10.0 / 19, m.Hota, 9);
        Assert.Equal(10.0 / 19, m.DetA, 9);
        Assert.Equal(14.0 / 19, m.LocA, 9);
        Assert.Equal(0.5, m.Motp, 9); // 1 − IoU, IoU 0.5 passes the ≥ 0.5 test
        Assert.Equal(1, m.Mota, 9);
    }

    [Fact]
    public void ThirdOverlapGivesHandComputedHota()
    {
        // gt (0,0,10,10) vs result (0,0,10,10/3·…): choose result (0,0,6,10): IoU = 60/100 = 0.6.
        // Frame 2: no result → FN at every alpha.
        // alpha ≤ 0.6 (12 values): TP 1, FN 1 → DetA = 1/2; the pair matched once, gt id seen
        //   twice, result id once → Jaccard = 1/(2+1−1) = 0.5 → AssA = 0.5 → HOTA = 0.5.
        // alpha > 0.6 (7 values): TP 0, FN 2, FP 1 → 0.  HOTA = 12·0.5 / 19 = 6/19.
        var gt = new[] { R(1, 1, 0, 0, 10, 10), R(2, 1, 0, 0, 10, 10) };
        var res = new[] { R(1, 5, 0, 0, 6, 10) };
        var m = MotEvaluator.Evaluate(gt, res);
        Assert.Equal(6.0 / 19, m.Hota, 9);
        Assert.Equal(6.0 / 19, m.DetA, 9);
        Assert.Equal(6.0 / 19, m.AssA, 9);
        Assert.Equal(1, m.Fn);
        Assert.Equal(0, m.Fp);
        Assert.Equal(0.5, m.Mota, 9);
        Assert.Equal(1, m.Pt); // tracked 1 of 2 frames: ratio 0.5
    }

    [Fact]
    public void FragmentationCountsTrackedThenMissedThenTracked()
    {
        // Tracked f1, missed f2–f3, tracked f4, missed f5 (trailing miss is not a fragment).
        var gt = Enumerable.Range(1, 5).Select(f => R(f, 1, 0, 0, 10, 10)).ToArray();
        var res = new[] { R(1, 3, 0, 0, 10, 10), R(4, 3, 0, 0, 10, 10) };
        var m = MotEvaluator.Evaluate(gt, res);
        Assert.Equal(1, m.Frag);
        Assert.Equal(0, m.Idsw); // same result id after a gap is not a switch
        Assert.Equal(3, m.Fn);
        Assert.Equal(1, m.Ml + m.Pt); // 2/5 = 0.4 → partially tracked
        Assert.Equal(1, m.Pt);
    }

    [Fact]
    public void PreviousMatchIsKeptOverABetterNewOverlap()
    {
        // py-motmetrics keeps last frame's correspondence when IoU still ≥ 0.5, even if another
        // result overlaps more: no switch.
        var gt = new[] { R(1, 1, 0, 0, 10, 10), R(2, 1, 0, 0, 10, 10) };
        var res = new[] { R(1, 1, 0, 0, 10, 10), R(2, 1, 0, 0, 10, 6), R(2, 2, 0, 0, 10, 10) };
        var m = MotEvaluator.Evaluate(gt, res);
        Assert.Equal(0, m.Idsw);
        Assert.Equal(1, m.Fp);
    }
}
