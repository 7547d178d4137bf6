using Ephemera.Runtime;

namespace Ephemera.Runtime.Tests;

public class LatencyHistogramTests
{
    [Fact]
    public void QuantilesAreWithinTheBucketResolution()
    {
        var h = new LatencyHistogram();
        for (int i = 1; i <= 1000; i++) h.Record(i); // 1..1000 ms
        Assert.Equal(1000, h.Count);
        Assert.InRange(h.Quantile(0.5), 500 * 0.96, 500 * 1.05);
        Assert.InRange(h.Quantile(0.99), 990 * 0.96, 990 * 1.05);
        Assert.Equal(1000, h.MaxMs, 3);
        Assert.True(h.Quantile(1.0) <= h.MaxMs);
    }

    [Fact]
    public void EmptyHistogramReportsZero()
    {
        var h = new LatencyHistogram();
        Assert.Equal(0, h.Quantile(0.99));
        h.Record(5);
        h.Reset();
        Assert.Equal(0, h.Count);
    }

    [Fact]
    public void ConcurrentRecordingLosesNothing()
    {
        var h = new LatencyHistogram();
        Parallel.For(0, 8, _ => { for (int i = 0; i < 10_000; i++) h.Record(i % 50); });
        Assert.Equal(80_000, h.Count);
    }

    [Fact]
    public void StageTimesAverageOverItems()
    {
        var s = new StageTimes();
        s.Add(Stage.Inference, System.Diagnostics.Stopwatch.Frequency / 100, 2); // 10 ms over 2 items
        Assert.Equal(5, s.MsPerItem(Stage.Inference), 3);
        Assert.Equal(0, s.MsPerItem(Stage.Decode));
    }
}
