namespace Ephemera.Evaluation;

/// <summary>How ground truth and results are compared. The defaults reproduce py-motmetrics (CLEAR, ID) and TrackEval (HOTA).</summary>
public sealed record MotEvaluationOptions
{
    public static MotEvaluationOptions Default { get; } = new();

    private readonly double _matchIou = 0.5;

    /// <summary>IoU at or above which a result box can match a gt box for CLEAR MOT and IDF1 (0.5).</summary>
    public double MatchIou
    {
        get => _matchIou;
        init => _matchIou = value is > 0 and <= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MatchIou), value, "must be in (0, 1]");
    }

    /// <summary>
    /// MOTChallenge convention: a result box that overlaps (IoU ≥ <see cref="MatchIou"/>, one-to-one
    /// per frame) a ground-truth row with confidence 0 (an ignored region) is removed before
    /// scoring, so it is neither a TP nor an FP. py-motmetrics simply drops the ignored gt rows;
    /// the two agree whenever gt has no confidence-0 rows (true of every MOT15 train gt here).
    /// </summary>
    public bool DropResultsOnIgnoredGt { get; init; } = true;
}
