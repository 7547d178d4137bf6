namespace Ephemera.Decode.Tests;

public sealed class WantedFramesTests
{
    [Fact]
    public void All_wants_every_index_including_extremes()
    {
        foreach (long i in new[] { long.MinValue, -1, 0, 1, 7, long.MaxValue })
            Assert.True(WantedFrames.All.Contains(i));
    }

    [Fact]
    public void EveryNth_wants_only_the_stride_from_its_start()
    {
        var w = WantedFrames.EveryNth(6, from: 3);
        Assert.Equal(new long[] { 3, 9, 15, 21 }, Enumerable.Range(0, 24).Select(i => (long)i).Where(w.Contains));
        Assert.Throws<ArgumentOutOfRangeException>(() => WantedFrames.EveryNth(0));
    }

    [Fact]
    public void Nothing_is_wanted_below_from_and_everything_from_it_with_stride_one()
    {
        var w = new WantedFrames(10);
        Assert.False(w.Contains(9));
        Assert.True(w.Contains(10) && w.Contains(11) && w.Contains(long.MaxValue));
        Assert.False(new WantedFrames(long.MaxValue).Contains(long.MaxValue - 1));
    }

    [Theory]
    [InlineData(30, 5, 6)]
    [InlineData(30, 4, 7)]
    [InlineData(25, 5, 5)]
    [InlineData(24, 6, 4)]
    [InlineData(10, 5, 2)]
    [InlineData(29.97, 5, 5)]
    [InlineData(30, 30, 1)]
    [InlineData(30, 60, 1)]
    [InlineData(0, 5, 1)]
    public void AtRate_strides_floor_of_source_over_wanted(double sourceFps, double wantedFps, int every)
    {
        var w = WantedFrames.AtRate(sourceFps, wantedFps, from: 12);
        Assert.Equal(12, w.From);
        Assert.Equal(every, w.Every);
    }

    [Fact]
    public void AtRate_with_no_wanted_rate_wants_nothing()
    {
        var w = WantedFrames.AtRate(30, 0);
        Assert.False(w.Contains(0));
        Assert.False(w.Contains(1_000_000));
    }
}
