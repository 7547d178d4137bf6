using Ephemera.Decode;

namespace Ephemera.Vulkan;

/// <summary>
/// Counts GPU buffers that held pixels: one allocated each time pixels enter a buffer, one wiped each
/// time <c>vkCmdFillBuffer</c> has zeroed it. Every count also goes to the process-wide
/// <see cref="PixelLedger"/>, so a GPU buffer is audited like a decode pool block. Where the native
/// core is absent (the standalone device benchmark) only these managed counts are kept.
/// </summary>
public static class GpuLedger
{
    private static long s_allocated, s_wiped;
    private static int s_nativeMissing;

    public readonly record struct Snapshot(long Allocated, long Wiped)
    {
        public long InUse => Allocated - Wiped;
    }

    public static Snapshot Take() => new(Interlocked.Read(ref s_allocated), Interlocked.Read(ref s_wiped));

    internal static void OnAllocated()
    {
        Interlocked.Increment(ref s_allocated);
        if (Volatile.Read(ref s_nativeMissing) != 0) return;
        try { PixelLedger.CountExternalAllocated(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { Volatile.Write(ref s_nativeMissing, 1); }
    }

    internal static void OnWiped(TimeSpan lifetime)
    {
        Interlocked.Increment(ref s_wiped);
        if (Volatile.Read(ref s_nativeMissing) != 0) return;
        try { PixelLedger.CountExternalWiped(lifetime); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { Volatile.Write(ref s_nativeMissing, 1); }
    }
}
