using System.Runtime.InteropServices;

namespace Ephemera.Core;

/// <summary>
/// Per-thread CPU priority on Linux (nice values apply to single threads there). .NET's
/// <see cref="Thread.Priority"/> has no effect on Linux, and the engine needs one distinction: camera
/// threads run on a live clock (a late decode is a late frame), detector runs are throughput work
/// that may wait a few milliseconds in their bank. Raising a thread's nice needs no privilege.
/// </summary>
public static partial class ThreadNice
{
    private const int PrioProcess = 0; // with a thread id as "who", setpriority applies to that thread only

    /// <summary>Sets the calling thread's nice value (0 normal, 19 lowest); false where unsupported or refused.</summary>
    public static bool TrySetCurrent(int nice)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return setpriority(PrioProcess, gettid(), nice) == 0; }
        catch (EntryPointNotFoundException) { return false; } // a libc without gettid
        catch (DllNotFoundException) { return false; }
    }

    /// <summary>The calling thread's nice value, or null where unsupported.</summary>
    public static int? Current()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            Marshal.SetLastPInvokeError(0);
            int v = getpriority(PrioProcess, gettid());
            return v == -1 && Marshal.GetLastPInvokeError() != 0 ? null : v;
        }
        catch (EntryPointNotFoundException) { return null; }
        catch (DllNotFoundException) { return null; }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setpriority(int which, int who, int prio);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getpriority(int which, int who);

    [LibraryImport("libc")]
    private static partial int gettid();
}
