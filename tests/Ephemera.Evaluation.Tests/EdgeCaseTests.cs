using Ephemera.Core;
using Ephemera.Evaluation;

namespace Ephemera.Evaluation.Tests;

public class EdgeCaseTests
{
    private static MotRow R(int frame, int id, float x, float y, float w, float h, float conf = 1) => new(frame, id, new BoxF(x, y, w, h), conf);

    [Fact]
    public void EmptyResultFileMissesEverything()
    {
        var gt = new[] { R(1, 1, 0, 0, 10, 10), R(2, 1, 0, 0, 10, 10), R(2, 2, 40, 0, 10, 10) };
        var m = MotEvaluator.Evaluate(gt, Array.Empty<MotRow>());
        Assert.Equal(0, m.Hota); Assert.Equal(0, m.DetA); Assert.Equal(0, m.Idf1);
        Assert.Equal(3, m.Fn); Assert.Equal(0, m.Fp); Assert.Equal(0, m.Mota, 9); Assert.Equal(2, m.Ml);
    }

    [Fact]
    public void EmptyGroundTruthMakesEveryResultFalsePositive()
    {
        var m = MotEvaluator.Evaluate(Array.Empty<MotRow>(), new[] { R(1, 1, 0, 0, 10, 10) });
        Assert.Equal(1, m.Fp); Assert.Equal(0, m.Hota); Assert.Equal(0, m.GtIds);
    }

    [Fact]
    public void BothEmptyGiveZerosWithoutFailing()
    {
        var m = MotEvaluator.Evaluate(Array.Empty<MotRow>(), Array.Empty<MotRow>());
        Assert.Equal(0, m.Hota); Assert.Equal(0, m.Mota); Assert.Equal(0, m.Fp + m.Fn);
    }

    [Fact]
    public void FramesWithoutGroundTruthOrWithoutResultsCount()
    {
        // Frame 1: gt only (FN); frame 2: both, matched; frame 3: result only (FP); frame 4 empty.
        var gt = new[] { R(1, 1, 0, 0, 10, 10), R(2, 1, 0, 0, 10, 10) };
        var res = new[] { R(2, 4, 0, 0, 10, 10), R(3, 4, 0, 0, 10, 10) };
        var m = MotEvaluator.Evaluate(gt, res);
        Assert.Equal(1, m.Fn); Assert.Equal(1, m.Fp);
        // HOTA: TP 1, FN 1, FP 1 → DetA 1/3; pair matched once, ids seen 2 and 2 → Jaccard 1/3 → AssA 1/3.
        Assert.Equal(1.0 / 3, m.Hota, 9);
    }

    [Fact]
    public void UnmatchedResultIdsAreFalsePositivesAndIdFalsePositives()
    {
        var gt = new[] { R(1, 1, 0, 0, 10, 10) };
        var res = new[] { R(1, 1, 0, 0, 10, 10), R(1, 2, 100, 100, 10, 10), R(1, 3, 200, 100, 10, 10) };
        var m = MotEvaluator.Evaluate(gt, res);
        Assert.Equal(2, m.Fp); Assert.Equal(4, m.ResultIds + 1); Assert.Equal(1.0 / 3, m.Idp, 9); Assert.Equal(1, m.Idr, 9);
    }

    [Fact]
    public void ConfidenceZeroGroundTruthIsIgnoredAndAbsorbsItsResult()
    {
        // The gt row with confidence 0 is an ignored region: it is no FN, and the result box on it
        // is no FP (MOTChallenge convention, the default).
        var gt = new[] { R(1, 1, 0, 0, 10, 10), R(1, 2, 100, 100, 10, 10, conf: 0) };
        var res = new[] { R(1, 1, 0, 0, 10, 10), R(1, 2, 100, 100, 10, 10) };
        var m = MotEvaluator.Evaluate(gt, res);
        Assert.Equal(0, m.Fn); Assert.Equal(0, m.Fp); Assert.Equal(1, m.GtIds); Assert.Equal(1, m.Hota, 9);
        var kept = MotEvaluator.Evaluate(gt, res, new MotEvaluationOptions { DropResultsOnIgnoredGt = false });
        Assert.Equal(1, kept.Fp); Assert.Equal(0, kept.Fn);
    }

    [Fact]
    public void CombiningSequencesSumsCountsPerAlpha()
    {
        var a = MotEvaluator.Score(new[] { R(1, 1, 0, 0, 10, 10) }, new[] { R(1, 1, 0, 0, 10, 10) });
        var b = MotEvaluator.Score(new[] { R(1, 1, 0, 0, 10, 10) }, Array.Empty<MotRow>());
        var m = MotEvaluator.Combine([a, b]);
        // TP 1, FN 1 at every alpha → DetA 0.5; AssA = 1·1 / 1 = 1 → HOTA √0.5.
        Assert.Equal(0.5, m.DetA, 9); Assert.Equal(1, m.AssA, 9); Assert.Equal(Math.Sqrt(0.5), m.Hota, 9);
        Assert.Equal(0.5, m.Mota, 9); Assert.Equal(2, m.GtIds);
    }

    [Fact]
    public void OptionsRejectInvalidThreshold()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MotEvaluationOptions { MatchIou = 0 });
    }
}
