namespace Ephemera.Runtime;

/// <summary>
/// A lock-free latency histogram with log-spaced buckets from 0.05 ms to about 100 s (about 4%
/// resolution). Recording is one Interlocked increment: safe from any thread, no allocation.
/// </summary>
public sealed class LatencyHistogram
{
    private const double MinMs = 0.05;
    private const double Growth = 1.04;
    private const int Buckets = 380; // 0.05 ms × 1.04^380 ≈ 150 s
    private static readonly double s_logGrowth = Math.Log(Growth);
    private readonly long[] _counts = new long[Buckets + 1];
    private long _total;
    private long _maxMicros;

    public long Count => Interlocked.Read(ref _total);
    public double MaxMs => Interlocked.Read(ref _maxMicros) / 1000.0;

    public void Record(double ms)
    {
        int b = ms <= MinMs ? 0 : Math.Min(Buckets, 1 + (int)(Math.Log(ms / MinMs) / s_logGrowth));
        Interlocked.Increment(ref _counts[b]);
        Interlocked.Increment(ref _total);
        long us = (long)(ms * 1000);
        long seen;
        while (us > (seen = Interlocked.Read(ref _maxMicros)) && Interlocked.CompareExchange(ref _maxMicros, us, seen) != seen) { }
    }

    /// <summary>The q-quantile (0..1) in ms: the upper edge of the bucket holding it; 0 when empty.</summary>
    public double Quantile(double q)
    {
        long total = Count;
        if (total == 0) return 0;
        long rank = (long)Math.Ceiling(q * total);
        long seen = 0;
        for (int b = 0; b <= Buckets; b++)
        {
            seen += Interlocked.Read(ref _counts[b]);
            if (seen >= Math.Max(1, rank)) return Math.Min(MaxMs, MinMs * Math.Pow(Growth, b));
        }
        return MaxMs;
    }

    public void Reset()
    {
        Array.Clear(_counts);
        Interlocked.Exchange(ref _total, 0);
        Interlocked.Exchange(ref _maxMicros, 0);
    }
}
