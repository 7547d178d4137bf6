using Ephemera.Core;
using Ephemera.Tracking;

namespace Ephemera.Evaluation;

/// <summary>A box with its identity renumbered to 0..N-1 within the sequence.</summary>
internal readonly record struct IdBox(int Id, BoxF Box);

/// <summary>The boxes of one frame: ground truth and results.</summary>
internal sealed record FrameBoxes(int Frame, IdBox[] Gt, IdBox[] Res);

/// <summary>
/// Ground truth and results of one sequence, grouped by frame with dense ids. Ignored gt rows
/// (confidence 0) are removed here, together with the result boxes they absorb when
/// <see cref="MotEvaluationOptions.DropResultsOnIgnoredGt"/> is set.
/// </summary>
internal sealed class SequenceData
{
    public List<FrameBoxes> Frames { get; } = new();
    public int GtIdCount { get; }
    public int ResultIdCount { get; }
    public int GtBoxCount { get; }
    public int ResultBoxCount { get; }

    public SequenceData(IReadOnlyList<MotRow> gt, IReadOnlyList<MotRow> results, MotEvaluationOptions options)
    {
        var gtIds = new Dictionary<int, int>();
        var resIds = new Dictionary<int, int>();
        var gtByFrame = new SortedDictionary<int, List<IdBox>>();
        var ignoredByFrame = new Dictionary<int, List<BoxF>>();
        var resByFrame = new SortedDictionary<int, List<MotRow>>();
        foreach (var row in gt)
        {
            if (row.Confidence == 0)
            {
                if (!ignoredByFrame.TryGetValue(row.Frame, out var ig)) ignoredByFrame[row.Frame] = ig = new();
                ig.Add(row.Box);
                continue;
            }
            if (!gtIds.TryGetValue(row.Id, out int id)) gtIds[row.Id] = id = gtIds.Count;
            if (!gtByFrame.TryGetValue(row.Frame, out var list)) gtByFrame[row.Frame] = list = new();
            list.Add(new IdBox(id, row.Box));
            GtBoxCount++;
        }
        foreach (var row in results)
        {
            if (!resByFrame.TryGetValue(row.Frame, out var list)) resByFrame[row.Frame] = list = new();
            list.Add(row);
        }
        var lap = new LinearAssignment();
        var frames = new SortedSet<int>(gtByFrame.Keys);
        frames.UnionWith(resByFrame.Keys);
        foreach (int frame in frames)
        {
            var g = gtByFrame.TryGetValue(frame, out var gl) ? gl.ToArray() : [];
            var rows = resByFrame.TryGetValue(frame, out var rl) ? rl : [];
            if (options.DropResultsOnIgnoredGt && ignoredByFrame.TryGetValue(frame, out var ignored) && rows.Count > 0)
                rows = DropOnIgnored(rows, ignored, options.MatchIou, lap);
            var res = new IdBox[rows.Count];
            for (int j = 0; j < rows.Count; j++)
            {
                if (!resIds.TryGetValue(rows[j].Id, out int id)) resIds[rows[j].Id] = id = resIds.Count;
                res[j] = new IdBox(id, rows[j].Box);
            }
            ResultBoxCount += res.Length;
            Frames.Add(new FrameBoxes(frame, g, res));
        }
        GtIdCount = gtIds.Count;
        ResultIdCount = resIds.Count;
    }

    /// <summary>IoU of every gt box (rows) with every result box (columns) of the frame.</summary>
    public double[] Similarity(FrameBoxes f)
    {
        var sim = new double[f.Gt.Length * f.Res.Length];
        for (int i = 0; i < f.Gt.Length; i++)
            for (int j = 0; j < f.Res.Length; j++)
                sim[i * f.Res.Length + j] = Iou(f.Gt[i].Box, f.Res[j].Box);
        return sim;
    }

    /// <summary>IoU in double precision (the evaluators' reference code uses float64).</summary>
    public static double Iou(in BoxF a, in BoxF b)
    {
        double ix = Math.Min((double)a.X + a.W, (double)b.X + b.W) - Math.Max(a.X, b.X);
        double iy = Math.Min((double)a.Y + a.H, (double)b.Y + b.H) - Math.Max(a.Y, b.Y);
        if (ix <= 0 || iy <= 0) return 0;
        double inter = ix * iy;
        double union = (double)a.W * a.H + (double)b.W * b.H - inter;
        return union > 0 ? inter / union : 0;
    }

    private static List<MotRow> DropOnIgnored(List<MotRow> rows, List<BoxF> ignored, double matchIou, LinearAssignment lap)
    {
        var cost = new double[ignored.Count * rows.Count];
        for (int i = 0; i < ignored.Count; i++)
            for (int j = 0; j < rows.Count; j++)
                cost[i * rows.Count + j] = -Iou(ignored[i], rows[j].Box);
        var rowToCol = new int[ignored.Count];
        lap.Solve(cost, ignored.Count, rows.Count, rowToCol);
        var drop = new bool[rows.Count];
        for (int i = 0; i < ignored.Count; i++)
            if (rowToCol[i] >= 0 && -cost[i * rows.Count + rowToCol[i]] >= matchIou) drop[rowToCol[i]] = true;
        var kept = new List<MotRow>(rows.Count);
        for (int j = 0; j < rows.Count; j++) if (!drop[j]) kept.Add(rows[j]);
        return kept;
    }
}
