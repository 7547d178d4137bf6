namespace Ephemera.Tracking;

/// <summary>
/// A bounded, exponentially decayed histogram of detection scores over [0, 1] (256 bins), with
/// quantiles read by linear interpolation inside a bin. Memory and per-update work are fixed
/// (one pass over the bins), nothing is allocated after construction. Not thread-safe.
/// </summary>
public sealed class ScoreHistogram
{
    public const int Bins = 256;
    private readonly double[] _w = new double[Bins];
    private readonly double _decay;
    private double _total;

    /// <param name="halfLifeUpdates">After this many <see cref="Decay"/> calls a score weighs half.</param>
    public ScoreHistogram(int halfLifeUpdates)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(halfLifeUpdates, 1);
        _decay = Math.Pow(0.5, 1.0 / halfLifeUpdates);
    }

    /// <summary>Total (decayed) weight: about the number of recent scores.</summary>
    public double Weight => _total;

    public void Clear() { Array.Clear(_w); _total = 0; }

    /// <summary>Ages every weight by one update.</summary>
    public void Decay()
    {
        if (_total == 0) return;
        double total = 0;
        for (int i = 0; i < Bins; i++) total += _w[i] *= _decay;
        _total = total < 1e-9 ? 0 : total;
        if (_total == 0) Array.Clear(_w);
    }

    public void Add(float score)
    {
        if (!(score >= 0)) return; // NaN and negatives are not scores
        int b = score >= 1 ? Bins - 1 : (int)(score * Bins);
        _w[b] += 1; _total += 1;
    }

    /// <summary>
    /// The score below which a fraction <paramref name="q"/> of the weight at or above
    /// <paramref name="from"/> lies (the weight is taken as uniform inside a bin); NaN when empty.
    /// </summary>
    public double Quantile(double q, double from = 0)
    {
        from = Math.Clamp(from, 0, 1);
        int b0 = Math.Min(Bins - 1, (int)(from * Bins));
        // Weight of the part of bin b0 at or above `from`, then the bins above it.
        double part0 = _w[b0] * (b0 + 1 - from * Bins);
        double above = part0;
        for (int i = b0 + 1; i < Bins; i++) above += _w[i];
        if (above <= 0) return double.NaN;
        double target = Math.Clamp(q, 0, 1) * above, acc = 0;
        for (int i = b0; i < Bins; i++)
        {
            double lo = i == b0 ? from : (double)i / Bins, wi = i == b0 ? part0 : _w[i];
            if (wi <= 0) continue;
            if (acc + wi >= target)
            {
                double hi = (double)(i + 1) / Bins;
                return lo + (hi - lo) * (target - acc) / wi;
            }
            acc += wi;
        }
        return 1;
    }
}
