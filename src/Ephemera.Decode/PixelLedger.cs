using Ephemera.Decode.Interop;

namespace Ephemera.Decode;

/// <summary>
/// Process-wide counts of pixel memory: blocks handed out (<paramref name="Allocated"/>), zeroed after
/// their last release (<paramref name="Wiped"/>), currently holding pixels (<paramref name="InUse"/>),
/// the highest that ever was (<paramref name="Peak"/>), frames released by a finalizer
/// (<paramref name="Leaked"/>), frames dropped at a pool cap, and the allocation → wipe lifetime.
/// Percentiles come from a log-spaced histogram (4 buckets per octave, ±9 %); the maximum is exact.
/// </summary>
public readonly record struct LedgerSnapshot(long Allocated, long Wiped, long InUse, long Peak, long Leaked, long DroppedForPool,
    double LifetimeP50Ms, double LifetimeP99Ms, double LifetimeMaxMs);

/// <summary>Reads the native pixel ledger (covers decoded frames and <see cref="PixelBuffer"/>s).</summary>
public static class PixelLedger
{
    public static unsafe LedgerSnapshot Snapshot()
    {
        EphLedger l;
        NativeErrors.ThrowIfFailed(NativeMethods.eph_ledger_snapshot(&l));
        double max = l.LifetimeMaxUs / 1000.0;
        return new LedgerSnapshot(l.Allocated, l.Wiped, l.InUse, l.Peak, l.Leaked, l.DroppedForPool,
            Percentile(&l, 0.50, max), Percentile(&l, 0.99, max), max);
    }

    /// <summary>Bytes of native memory pools and pixel buffers currently reserve.</summary>
    public static unsafe long BytesReserved
    {
        get
        {
            EphLedger l;
            NativeErrors.ThrowIfFailed(NativeMethods.eph_ledger_snapshot(&l));
            return l.BytesReserved;
        }
    }

    /// <summary>Clears the lifetime histogram and maximum; counters are kept.</summary>
    public static void ResetLifetimeStats() => NativeMethods.eph_ledger_reset_lifetimes();

    /// <summary>
    /// Audit: counts occurrences of <paramref name="pattern"/> in every block any open source's pool
    /// still holds (free or leased) and in every live <see cref="PixelBuffer"/>. With no lease held,
    /// any hit is a pixel that survived its release.
    /// </summary>
    public static unsafe long ScanPoolMemory(ReadOnlySpan<byte> pattern)
    {
        if (pattern.IsEmpty) throw new ArgumentException("pattern must not be empty", nameof(pattern));
        fixed (byte* p = pattern)
        {
            long hits = NativeMethods.eph_pool_scan(p, (nuint)pattern.Length);
            NativeErrors.ThrowIfFailed(hits < 0 ? (int)hits : 0);
            return hits;
        }
    }

    // Bucket b holds lifetimes in [2^(b/4), 2^((b+1)/4)) µs; report its geometric middle, capped by the max.
    private static unsafe double Percentile(EphLedger* l, double q, double maxMs)
    {
        if (l->LifetimeCount == 0) return 0;
        long target = (long)Math.Ceiling(q * l->LifetimeCount);
        long seen = 0;
        for (int b = 0; b < EphLedger.LifetimeBuckets; b++)
        {
            seen += l->LifetimeHist[b];
            if (seen >= target) return Math.Min(Math.Pow(2, (b + 0.5) / 4.0) / 1000.0, maxMs);
        }
        return maxMs;
    }
}
