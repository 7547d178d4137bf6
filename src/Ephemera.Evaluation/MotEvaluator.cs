using Ephemera.Core;
using Ephemera.Tracking;

namespace Ephemera.Evaluation;

/// <summary>
/// MOTChallenge evaluation in one place: HOTA family as TrackEval computes it, CLEAR MOT and the
/// identity metrics as py-motmetrics computes them. Ground-truth rows with confidence 0 are
/// ignored regions (see <see cref="MotEvaluationOptions.DropResultsOnIgnoredGt"/>).
/// </summary>
public static class MotEvaluator
{
    /// <summary>Scores one sequence.</summary>
    public static MotMetrics Evaluate(IReadOnlyList<MotRow> gt, IReadOnlyList<MotRow> results, MotEvaluationOptions? options = null)
        => Score(gt, results, options).ToMetrics();

    /// <summary>Scores one sequence, keeping the raw counts so sequences can be combined.</summary>
    public static SequenceScore Score(IReadOnlyList<MotRow> gt, IReadOnlyList<MotRow> results, MotEvaluationOptions? options = null)
    {
        options ??= MotEvaluationOptions.Default;
        var seq = new SequenceData(gt, results, options);
        var score = new SequenceScore();
        Hota(seq, score);
        ClearMot(seq, options.MatchIou, score);
        Identity(seq, options.MatchIou, score);
        score.GtBoxes = seq.GtBoxCount; score.GtIds = seq.GtIdCount;
        score.ResultBoxes = seq.ResultBoxCount; score.ResultIds = seq.ResultIdCount;
        return score;
    }

    /// <summary>Combines sequences as TrackEval and py-motmetrics do: counts are summed, HOTA per alpha from the summed TP/FN/FP.</summary>
    public static MotMetrics Combine(IEnumerable<SequenceScore> scores) => SequenceScore.Sum(scores).ToMetrics();

    // ---------------------------------------------------------------- HOTA (Luiten et al. 2021)

    private static void Hota(SequenceData seq, SequenceScore s)
    {
        int g = seq.GtIdCount, r = seq.ResultIdCount;
        var potential = new double[g * r];
        var gtIdCount = new double[g];
        var resIdCount = new double[r];
        // Pass 1: global alignment score, the soft IoU of whole trajectories (TrackEval's
        // "potential matches"): each frame's similarity normalised by the row and column sums.
        foreach (var f in seq.Frames)
        {
            var sim = seq.Similarity(f);
            int ng = f.Gt.Length, nr = f.Res.Length;
            var rowSum = new double[ng]; var colSum = new double[nr];
            for (int i = 0; i < ng; i++)
                for (int j = 0; j < nr; j++) { rowSum[i] += sim[i * nr + j]; colSum[j] += sim[i * nr + j]; }
            for (int i = 0; i < ng; i++)
                for (int j = 0; j < nr; j++)
                {
                    double denom = rowSum[i] + colSum[j] - sim[i * nr + j];
                    if (denom > SequenceScore.Eps) potential[f.Gt[i].Id * r + f.Res[j].Id] += sim[i * nr + j] / denom;
                }
            foreach (var b in f.Gt) gtIdCount[b.Id]++;
            foreach (var b in f.Res) resIdCount[b.Id]++;
        }
        var alignment = new double[g * r];
        for (int a = 0; a < g; a++)
            for (int b = 0; b < r; b++)
                alignment[a * r + b] = potential[a * r + b] / (gtIdCount[a] + resIdCount[b] - potential[a * r + b]);

        // Pass 2: per frame, Hungarian on similarity weighted by the alignment score, then count
        // matches per alpha (a match counts at alpha when its IoU ≥ alpha).
        var lap = new LinearAssignment();
        var matches = new double[SequenceScore.AlphaCount][];
        for (int k = 0; k < matches.Length; k++) matches[k] = new double[g * r];
        foreach (var f in seq.Frames)
        {
            int ng = f.Gt.Length, nr = f.Res.Length;
            if (ng == 0 || nr == 0)
            {
                for (int k = 0; k < SequenceScore.AlphaCount; k++) { s.HotaFn[k] += ng; s.HotaFp[k] += nr; }
                continue;
            }
            var sim = seq.Similarity(f);
            var cost = new double[ng * nr];
            for (int i = 0; i < ng; i++)
                for (int j = 0; j < nr; j++)
                    cost[i * nr + j] = -alignment[f.Gt[i].Id * r + f.Res[j].Id] * sim[i * nr + j];
            var rowToCol = new int[ng];
            lap.Solve(cost, ng, nr, rowToCol);
            for (int k = 0; k < SequenceScore.AlphaCount; k++)
            {
                double alpha = SequenceScore.Alpha(k);
                int tp = 0;
                for (int i = 0; i < ng; i++)
                {
                    int j = rowToCol[i];
                    if (j < 0) continue;
                    double iou = sim[i * nr + j];
                    if (iou < alpha - SequenceScore.Eps) continue; // TrackEval: similarity >= alpha - eps
                    tp++;
                    s.LocASum[k] += iou;
                    matches[k][f.Gt[i].Id * r + f.Res[j].Id]++;
                }
                s.HotaTp[k] += tp; s.HotaFn[k] += ng - tp; s.HotaFp[k] += nr - tp;
            }
        }
        // Association accuracy: each TP weighted by the Jaccard index of its id pair's matches.
        for (int k = 0; k < SequenceScore.AlphaCount; k++)
        {
            double sum = 0;
            var m = matches[k];
            for (int a = 0; a < g; a++)
                for (int b = 0; b < r; b++)
                {
                    double c = m[a * r + b];
                    if (c > 0) sum += c * c / Math.Max(1, gtIdCount[a] + resIdCount[b] - c);
                }
            s.AssASum[k] = sum; // = AssA(alpha) · TP(alpha)
        }
    }

    // ---------------------------------------------------------------- CLEAR MOT (py-motmetrics)

    private static void ClearMot(SequenceData seq, double matchIou, SequenceScore s)
    {
        int g = seq.GtIdCount;
        var lastMatch = new int[g];           // result id last matched to each gt id, -1 never
        Array.Fill(lastMatch, -1);
        var tracked = new int[g];             // frames in which the gt id was matched
        var present = new int[g];             // frames in which the gt id exists
        var everTracked = new bool[g];
        var missedSinceTracked = new bool[g]; // a miss after being tracked: a fragment if tracked again
        var lap = new LinearAssignment();
        foreach (var f in seq.Frames)
        {
            int ng = f.Gt.Length, nr = f.Res.Length;
            var sim = seq.Similarity(f);
            var gtDone = new bool[ng]; var resDone = new bool[nr];
            // 1. Keep last frame's correspondences when still within the IoU threshold.
            for (int i = 0; i < ng; i++)
            {
                int prev = lastMatch[f.Gt[i].Id];
                if (prev < 0) continue;
                for (int j = 0; j < nr; j++)
                {
                    if (resDone[j] || f.Res[j].Id != prev) continue;
                    if (sim[i * nr + j] >= matchIou) { gtDone[i] = resDone[j] = true; Match(i, j, false); }
                    break;
                }
            }
            // 2. Hungarian on the rest: as many matches as possible, then least total distance
            //    (py-motmetrics replaces missing edges by a cost larger than any finite sum).
            int[] gi = Free(gtDone), rj = Free(resDone);
            if (gi.Length > 0 && rj.Length > 0)
            {
                var cost = new double[gi.Length * rj.Length];
                double big = 1;
                for (int a = 0; a < gi.Length; a++)
                    for (int b = 0; b < rj.Length; b++)
                    {
                        double iou = sim[gi[a] * nr + rj[b]];
                        double d = iou >= matchIou ? 1 - iou : double.NaN;
                        cost[a * rj.Length + b] = d;
                        if (!double.IsNaN(d)) big += d;
                    }
                big *= 2;
                for (int q = 0; q < cost.Length; q++) if (double.IsNaN(cost[q])) cost[q] = big;
                var rowToCol = new int[gi.Length];
                lap.Solve(cost, gi.Length, rj.Length, rowToCol);
                for (int a = 0; a < gi.Length; a++)
                {
                    int b = rowToCol[a];
                    if (b < 0 || cost[a * rj.Length + b] >= big) continue;
                    int i = gi[a], j = rj[b];
                    int prev = lastMatch[f.Gt[i].Id];
                    gtDone[i] = resDone[j] = true;
                    Match(i, j, prev >= 0 && prev != f.Res[j].Id);
                }
            }
            // 3. Whatever is left: misses and false positives.
            for (int i = 0; i < ng; i++)
            {
                int id = f.Gt[i].Id;
                s.NumObjects++; present[id]++;
                if (gtDone[i]) continue;
                s.Misses++;
                if (everTracked[id]) missedSinceTracked[id] = true;
            }
            for (int j = 0; j < nr; j++) if (!resDone[j]) s.FalsePositives++;

            void Match(int i, int j, bool isSwitch)
            {
                int id = f.Gt[i].Id;
                s.Matches++;
                if (isSwitch) s.Switches++;
                s.DistanceSum += 1 - sim[i * nr + j];
                lastMatch[id] = f.Res[j].Id;
                tracked[id]++;
                // A fragmentation is a tracked → missed transition that is later tracked again.
                if (missedSinceTracked[id]) { s.Fragmentations++; missedSinceTracked[id] = false; }
                everTracked[id] = true;
            }
        }
        for (int id = 0; id < g; id++)
        {
            if (present[id] == 0) continue;
            double ratio = (double)tracked[id] / present[id];
            if (ratio >= 0.8) s.MostlyTracked++;
            else if (ratio >= 0.2) s.PartiallyTracked++;
            else s.MostlyLost++;
        }
    }

    private static int[] Free(bool[] done)
    {
        int n = 0;
        foreach (var d in done) if (!d) n++;
        var idx = new int[n];
        n = 0;
        for (int i = 0; i < done.Length; i++) if (!done[i]) idx[n++] = i;
        return idx;
    }

    // ---------------------------------------------------------------- IDF1 (Ristani et al. 2016)

    /// <summary>
    /// Global one-to-one id matching that minimises IDFN + IDFP. Both equal totals minus the frames
    /// matched pairs share, so it is the maximum-weight bipartite matching on the co-occurrence
    /// counts (frames where the pair overlaps with IoU ≥ threshold) — the same optimum as
    /// py-motmetrics' (G+R)² formulation, solved on the G×R matrix.
    /// </summary>
    private static void Identity(SequenceData seq, double matchIou, SequenceScore s)
    {
        int g = seq.GtIdCount, r = seq.ResultIdCount;
        if (g > 0 && r > 0)
        {
            var cost = new double[g * r];
            foreach (var f in seq.Frames)
            {
                var sim = seq.Similarity(f);
                int nr = f.Res.Length;
                for (int i = 0; i < f.Gt.Length; i++)
                    for (int j = 0; j < nr; j++)
                        if (sim[i * nr + j] >= matchIou) cost[f.Gt[i].Id * r + f.Res[j].Id] -= 1;
            }
            var rowToCol = new int[g];
            new LinearAssignment().Solve(cost, g, r, rowToCol);
            for (int a = 0; a < g; a++) if (rowToCol[a] >= 0) s.IdTp -= (long)cost[a * r + rowToCol[a]];
        }
        s.IdFn = seq.GtBoxCount - s.IdTp;
        s.IdFp = seq.ResultBoxCount - s.IdTp;
    }
}
