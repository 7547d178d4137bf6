namespace Ephemera.Evaluation;

/// <summary>
/// Raw counts of one evaluated sequence (or a sum of sequences), from which <see cref="MotMetrics"/>
/// follow. Keeping counts rather than ratios is what lets sequences combine the way TrackEval and
/// py-motmetrics combine them.
/// </summary>
public sealed class SequenceScore
{
    /// <summary>HOTA's localisation thresholds: 0.05, 0.10, … 0.95.</summary>
    public const int AlphaCount = 19;
    /// <summary>Alpha k as <c>np.arange(0.05, 0.99, 0.05)</c> computes it (start + k·step), for bit-equal thresholds.</summary>
    public static double Alpha(int k) => 0.05 + k * 0.05;

    /// <summary>numpy's <c>np.finfo(float).eps</c>, TrackEval's tolerance.</summary>
    internal const double Eps = 2.220446049250313e-16;

    public double[] HotaTp { get; } = new double[AlphaCount];
    public double[] HotaFn { get; } = new double[AlphaCount];
    public double[] HotaFp { get; } = new double[AlphaCount];
    /// <summary>Per alpha, AssA × TP (so sums over sequences weight by TP, as TrackEval does).</summary>
    public double[] AssASum { get; } = new double[AlphaCount];
    /// <summary>Per alpha, the sum of IoU over TPs.</summary>
    public double[] LocASum { get; } = new double[AlphaCount];

    public long NumObjects, Matches, Switches, Misses, FalsePositives, Fragmentations;
    public double DistanceSum;
    public int MostlyTracked, PartiallyTracked, MostlyLost;
    public long IdTp, IdFp, IdFn;
    public int GtBoxes, GtIds, ResultBoxes, ResultIds;

    /// <summary>HOTA at one alpha index (for reports that plot HOTA against alpha).</summary>
    public double HotaAt(int k) => Math.Sqrt(DetAAt(k) * AssAAt(k));
    public double DetAAt(int k) => HotaTp[k] / Math.Max(1, HotaTp[k] + HotaFn[k] + HotaFp[k]);
    public double AssAAt(int k) => AssASum[k] / Math.Max(1, HotaTp[k]);
    public double LocAAt(int k) => Math.Max(1e-10, LocASum[k]) / Math.Max(1e-10, HotaTp[k]);

    public static SequenceScore Sum(IEnumerable<SequenceScore> scores)
    {
        var t = new SequenceScore();
        foreach (var s in scores)
        {
            for (int k = 0; k < AlphaCount; k++)
            {
                t.HotaTp[k] += s.HotaTp[k]; t.HotaFn[k] += s.HotaFn[k]; t.HotaFp[k] += s.HotaFp[k];
                t.AssASum[k] += s.AssASum[k]; t.LocASum[k] += s.LocASum[k];
            }
            t.NumObjects += s.NumObjects; t.Matches += s.Matches; t.Switches += s.Switches;
            t.Misses += s.Misses; t.FalsePositives += s.FalsePositives; t.Fragmentations += s.Fragmentations;
            t.DistanceSum += s.DistanceSum;
            t.MostlyTracked += s.MostlyTracked; t.PartiallyTracked += s.PartiallyTracked; t.MostlyLost += s.MostlyLost;
            t.IdTp += s.IdTp; t.IdFp += s.IdFp; t.IdFn += s.IdFn;
            t.GtBoxes += s.GtBoxes; t.GtIds += s.GtIds; t.ResultBoxes += s.ResultBoxes; t.ResultIds += s.ResultIds;
        }
        return t;
    }

    public MotMetrics ToMetrics()
    {
        double hota = 0, detA = 0, assA = 0, locA = 0;
        for (int k = 0; k < AlphaCount; k++) { hota += HotaAt(k); detA += DetAAt(k); assA += AssAAt(k); locA += LocAAt(k); }
        hota /= AlphaCount; detA /= AlphaCount; assA /= AlphaCount; locA /= AlphaCount;
        double mota = NumObjects > 0 ? 1 - (double)(Misses + FalsePositives + Switches) / NumObjects : 0;
        double motp = Matches > 0 ? DistanceSum / Matches : 0;
        double idf1 = 2 * IdTp + IdFp + IdFn > 0 ? 2.0 * IdTp / (2 * IdTp + IdFp + IdFn) : 0;
        double idp = IdTp + IdFp > 0 ? (double)IdTp / (IdTp + IdFp) : 0;
        double idr = IdTp + IdFn > 0 ? (double)IdTp / (IdTp + IdFn) : 0;
        double recall = NumObjects > 0 ? (double)Matches / NumObjects : 0;
        double precision = Matches + FalsePositives > 0 ? (double)Matches / (Matches + FalsePositives) : 0;
        return new MotMetrics(hota, detA, assA, locA, mota, motp, idf1, idp, idr,
            (int)Switches, (int)Fragmentations, MostlyTracked, PartiallyTracked, MostlyLost,
            (int)FalsePositives, (int)Misses, recall, precision, GtBoxes, GtIds, ResultBoxes, ResultIds);
    }
}
