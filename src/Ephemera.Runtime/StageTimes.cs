using System.Diagnostics;

namespace Ephemera.Runtime;

/// <summary>Pipeline stages whose time per frame the engine accounts for (bench `stage_ms`). Inference includes box decoding and NMS.</summary>
public enum Stage { Decode, Preprocess, Inference, Track, Analytics, PixelStage, Publish }

/// <summary>
/// Accumulated time and count per stage, updated lock-free from any thread. Wall time is in
/// Stopwatch ticks, reported as milliseconds per counted item; CPU time (the thread's own CPU clock,
/// <see cref="Ephemera.Core.ThreadCpuClock"/>) is kept apart, as nanoseconds in total, for the
/// benchmark's CPU cost per camera-second.
/// </summary>
public sealed class StageTimes
{
    private static readonly int s_count = Enum.GetValues<Stage>().Length;
    private readonly long[] _ticks = new long[s_count];
    private readonly long[] _items = new long[s_count];
    private readonly long[] _cpuNs = new long[s_count];

    /// <summary>Adds CPU nanoseconds a stage used on the thread that ran it.</summary>
    public void AddCpu(Stage stage, long cpuNs)
    {
        if (cpuNs > 0) Interlocked.Add(ref _cpuNs[(int)stage], cpuNs);
    }

    /// <summary>Total CPU milliseconds a stage used so far.</summary>
    public double CpuMs(Stage stage) => Interlocked.Read(ref _cpuNs[(int)stage]) / 1e6;

    public void Add(Stage stage, long elapsedTicks, long items = 1)
    {
        Interlocked.Add(ref _ticks[(int)stage], elapsedTicks);
        Interlocked.Add(ref _items[(int)stage], items);
    }

    /// <summary>Milliseconds per item for a stage (0 when nothing was counted).</summary>
    public double MsPerItem(Stage stage)
    {
        long n = Interlocked.Read(ref _items[(int)stage]);
        return n == 0 ? 0 : Interlocked.Read(ref _ticks[(int)stage]) * 1000.0 / Stopwatch.Frequency / n;
    }

    public long Items(Stage stage) => Interlocked.Read(ref _items[(int)stage]);

    public Dictionary<string, double> ToDictionary() =>
        Enum.GetValues<Stage>().ToDictionary(s => s.ToString().ToLowerInvariant(), s => Math.Round(MsPerItem(s), 3));
}
