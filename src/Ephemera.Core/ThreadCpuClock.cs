using System.Runtime.InteropServices;

namespace Ephemera.Core;

/// <summary>
/// The calling thread's CPU time (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>): time the thread actually ran,
/// not wall time, so a stage's cost does not grow when other tenants of a shared machine take the
/// cores. 0 where unsupported (the benchmark then reports no per-stage CPU cost).
/// </summary>
public static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;
    private static readonly bool s_supported = Probe();

    /// <summary>True where thread CPU time can be read.</summary>
    public static bool Supported => s_supported;

    /// <summary>CPU nanoseconds the calling thread has used so far (0 where unsupported).</summary>
    public static long NowNs()
    {
        if (!s_supported) return 0;
        Timespec t;
        return clock_gettime(ClockThreadCpuTimeId, out t) == 0 ? t.Seconds * 1_000_000_000 + t.Nanoseconds : 0;
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess) return false;
        try { return clock_gettime(ClockThreadCpuTimeId, out _) == 0; }
        catch (EntryPointNotFoundException) { return false; }
        catch (DllNotFoundException) { return false; }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds; public long Nanoseconds; }

    [LibraryImport("libc")]
    private static partial int clock_gettime(int clockId, out Timespec time);
}
