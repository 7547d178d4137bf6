namespace Ephemera.Tracking;

/// <summary>
/// Brings a detector's scores into [0, 1] before the tracker, so one set of thresholds serves
/// every detector. Scores already in [0, 1] (Faster R-CNN, YOLOX) pass unchanged. Any other
/// scale is uncalibrated (MOT15's ACF detections run from about −1 to 130), so only its order is
/// kept: a score becomes 0.5 + 0.5 × (fraction of the file's scores at or below it). The target
/// range [0.5, 1] is where published detections usually lie once the detector's own confidence
/// cut (0.5 for the Faster R-CNN files, YOLOX's default) has been applied — the range the
/// default thresholds were chosen for. Measured on ADL-Rundle-6's ACF file this beat mapping
/// the rank onto [0, 1] (HOTA .264 vs .210) and min–max scaling (.147).
/// </summary>
public sealed class ScoreNormalizer
{
    private readonly float[]? _sorted;

    private ScoreNormalizer(float[]? sorted) => _sorted = sorted;

    public static ScoreNormalizer Identity { get; } = new(null);

    /// <summary>True when the scores were outside [0, 1] and are being rescaled.</summary>
    public bool Rescales => _sorted != null;

    /// <summary>Builds the mapping from all scores of a detection file.</summary>
    public static ScoreNormalizer Fit(ReadOnlySpan<float> scores)
    {
        bool unit = true;
        foreach (var s in scores) if (!(s >= 0 && s <= 1)) { unit = false; break; }
        if (unit) return Identity;
        var sorted = scores.ToArray();
        Array.Sort(sorted);
        return new ScoreNormalizer(sorted);
    }

    public float Normalize(float score)
    {
        if (_sorted == null) return score;
        // Upper bound: number of scores ≤ score.
        int lo = 0, hi = _sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_sorted[mid] <= score) lo = mid + 1; else hi = mid;
        }
        return 0.5f + 0.5f * lo / _sorted.Length;
    }
}
