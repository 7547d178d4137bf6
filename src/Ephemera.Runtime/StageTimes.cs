using System.Diagnostics;

namespace Ephemera.Runtime;

/// <summary>Pipeline stages whose time per frame the engine accounts for (bench `stage_ms`). Inference includes box decoding and NMS.</summary>
public enum Stage { Decode, Preprocess, Inference, Track, Analytics, PixelStage }

/// <summary>
/// Accumulated time and count per stage, updated lock-free from any thread. Values are Stopwatch
/// ticks, reported as milliseconds per counted item.
/// </summary>
public sealed class StageTimes
{
    private static readonly int s_count = Enum.GetValues<Stage>().Length;
    private readonly long[] _ticks = new long[s_count];
    private readonly long[] _items = new long[s_count];

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
