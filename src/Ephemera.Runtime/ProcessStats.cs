namespace Ephemera.Runtime;

/// <summary>Process resource readings for benchmarks and the run summary.</summary>
public static class ProcessStats
{
    /// <summary>Resident set size in MiB (from /proc/self/status on Linux; the GC's view elsewhere).</summary>
    public static double RssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return double.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) / 1024.0;
        }
        catch (IOException) { }
        return Environment.WorkingSet / (1024.0 * 1024.0);
    }
}
