using Ephemera.Core;
using Ephemera.Evaluation;
using Ephemera.TestSupport;

namespace Ephemera.Evaluation.Tests;

/// <summary>The test vector from DATA.md: py-motmetrics' output on TUD-Campus/oracle/tracker.txt.</summary>
public class OracleVectorTests
{
    private static MotMetrics Oracle() => MotEvaluator.Evaluate(
        MotChallenge.Read(TestPaths.Mot15("TUD-Campus/gt/gt.txt")),
        MotChallenge.Read(TestPaths.Mot15("TUD-Campus/oracle/tracker.txt")));

    [Fact]
    public void ReproducesPyMotmetricsOnTudCampusOracle()
    {
        var m = Oracle();
        Assert.Equal(0.557659, m.Idf1, 1e-3);
        Assert.Equal(0.729730, m.Idp, 1e-3);
        Assert.Equal(0.451253, m.Idr, 1e-3);
        Assert.Equal(0.582173, m.Recall, 1e-3);
        Assert.Equal(0.941441, m.Precision, 1e-3);
        Assert.Equal(8, m.GtIds);
        Assert.Equal(1, m.Mt);
        Assert.Equal(6, m.Pt);
        Assert.Equal(1, m.Ml);
        Assert.Equal(13, m.Fp);
        Assert.Equal(150, m.Fn);
        Assert.Equal(7, m.Idsw);
        Assert.Equal(7, m.Frag);
        Assert.Equal(0.526462, m.Mota, 1e-3);
        Assert.Equal(0.277201, m.Motp, 1e-3);
    }

    [Fact]
    public void HotaFamilyIsConsistentOnOracle()
    {
        var m = Oracle();
        Assert.InRange(m.Hota, 0.01, 0.99);
        // HOTA is the mean over alphas of sqrt(DetA·AssA); by Jensen it cannot exceed sqrt of the means.
        Assert.True(m.Hota <= Math.Sqrt(m.DetA * m.AssA) + 1e-9);
        Assert.InRange(m.LocA, 0.5, 1.0);
    }
}
