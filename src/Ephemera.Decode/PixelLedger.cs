using Ephemera.Decode.Interop;

namespace Ephemera.Decode;

/// <summary>
/// Process-wide counts of pixel memory: blocks handed out (<paramref name="Allocated"/>), zeroed after
/// their last release (<paramref name="Wiped"/>), currently holding pixels (<paramref name="InUse"/>),
/// the highest that ever was (<paramref name="Peak"/>), frames released by a finalizer
/// (<paramref name="Leaked"/>), frames dropped at a pool cap, and the allocation → wipe lifetime.
/// Percentiles come from a log-spaced histogram (4 buckets per octave, ±9 %); the maximum is exact.
/// The lifetime of a decoded picture's pool block is also split in two:
/// <list type="bullet">
/// <item><description><paramref name="EngineHeldP50Ms"/>, <paramref name="EngineHeldP99Ms"/>,
/// <paramref name="EngineHeldMaxMs"/>: engine-held time, from a frame's delivery (its
/// <c>decoded_ns</c>) to the engine's last release of it (the last <see cref="FrameLease"/> disposed),
/// one sample per delivered frame.</description></item>
/// <item><description><paramref name="DecoderHeldP50Ms"/>, <paramref name="DecoderHeldP99Ms"/>,
/// <paramref name="DecoderHeldMaxMs"/>: decoder-held time, a pool block's whole lifetime (loaned →
/// wiped) minus the engine-held time of the frames it carried, never below 0: how long the decoder
/// alone kept it (reference pictures, frames never delivered), one sample per wiped pool block.</description></item>
/// </list>
/// <see cref="PixelBuffer"/>s count in the lifetime figures only, in neither of the two splits.
/// </summary>
public readonly record struct LedgerSnapshot(long Allocated, long Wiped, long InUse, long Peak, long Leaked, long DroppedForPool,
    double LifetimeP50Ms, double LifetimeP99Ms, double LifetimeMaxMs,
    double EngineHeldP50Ms = 0, double EngineHeldP99Ms = 0, double EngineHeldMaxMs = 0,
    double DecoderHeldP50Ms = 0, double DecoderHeldP99Ms = 0, double DecoderHeldMaxMs = 0,
    long EngineHeldCount = 0, long DecoderHeldCount = 0);

/// <summary>Reads the native pixel ledger (covers decoded frames and <see cref="PixelBuffer"/>s).</summary>
public static class PixelLedger
{
    public static unsafe LedgerSnapshot Snapshot()
    {
        EphLedger l;
        NativeErrors.ThrowIfFailed(NativeMethods.eph_ledger_snapshot(&l));
        double max = l.LifetimeMaxUs / 1000.0;
        double engineMax = l.EngineHeldMaxUs / 1000.0;
        double decoderMax = l.DecoderHeldMaxUs / 1000.0;
        return new LedgerSnapshot(l.Allocated, l.Wiped, l.InUse, l.Peak, l.Leaked, l.DroppedForPool,
            Percentile(l.LifetimeHist, l.LifetimeCount, 0.50, max), Percentile(l.LifetimeHist, l.LifetimeCount, 0.99, max), max,
            Percentile(l.EngineHeldHist, l.EngineHeldCount, 0.50, engineMax), Percentile(l.EngineHeldHist, l.EngineHeldCount, 0.99, engineMax), engineMax,
            Percentile(l.DecoderHeldHist, l.DecoderHeldCount, 0.50, decoderMax), Percentile(l.DecoderHeldHist, l.DecoderHeldCount, 0.99, decoderMax), decoderMax,
            l.EngineHeldCount, l.DecoderHeldCount);
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

    /// <summary>
    /// Counts one loan of pixel memory the native core does not own (a GPU buffer of the Vulkan path)
    /// as allocated; its owner calls <see cref="CountExternalWiped"/> once it has zeroed it.
    /// </summary>
    public static void CountExternalAllocated() => NativeMethods.eph_ledger_count_external_allocated();

    /// <summary>Counts one wipe of externally owned pixel memory, with how long it held pixels.</summary>
    public static void CountExternalWiped(TimeSpan lifetime) => NativeMethods.eph_ledger_count_external_wiped(lifetime.Ticks * 100);

    /// <summary>Clears the lifetime, engine-held and decoder-held histograms, maxima and counts; the other counters are kept.</summary>
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

    // Bucket b of any of the ledger's histograms (EPH_LIFETIME_BUCKETS long) holds intervals in
    // [2^(b/4), 2^((b+1)/4)) µs; report its geometric middle, capped by the max.
    private static unsafe double Percentile(long* hist, long count, double q, double maxMs)
    {
        if (count == 0) return 0;
        long target = (long)Math.Ceiling(q * count);
        long seen = 0;
        for (int b = 0; b < EphLedger.LifetimeBuckets; b++)
        {
            seen += hist[b];
            if (seen >= target) return Math.Min(Math.Pow(2, (b + 0.5) / 4.0) / 1000.0, maxMs);
        }
        return maxMs;
    }
}
