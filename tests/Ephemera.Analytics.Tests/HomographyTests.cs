using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Analytics.Tests;

public class HomographyTests
{
    // A perspective view of a floor: pixels → metres, with a real projective term.
    private static readonly Homography Truth = new([0.012, 0.004, -4.0, 0.0007, 0.031, -6.5, 0.00002, 0.0011, 1.0]);

    private static (List<Point2> Image, List<Point2> Floor) Pairs(params (double X, double Y)[] image)
    {
        var img = image.Select(p => new Point2(p.X, p.Y)).ToList();
        return (img, img.Select(Truth.Map).ToList());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(9)]
    public void RecoversAKnownMappingTo1e6(int pointCount)
    {
        var all = new (double, double)[] { (100, 600), (1800, 620), (1500, 1050), (300, 1000), (960, 700), (700, 900), (1300, 800), (200, 800), (1700, 900) };
        var (img, floor) = Pairs(all[..pointCount]);
        var h = Homography.FromPointPairs(img, floor);
        var want = Truth.Matrix; var got = h.Matrix;
        for (int i = 0; i < 9; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-6 * Math.Max(1, Math.Abs(want[i])), $"h[{i}]: {got[i]} vs {want[i]}");
        for (double x = 0; x <= 1920; x += 240)
            for (double y = 560; y <= 1080; y += 130)
            {
                var a = Truth.Map(new Point2(x, y)); var b = h.Map(new Point2(x, y));
                Assert.True(Point2.Distance(a, b) < 1e-6, $"({x},{y}) → {b} vs {a}");
            }
    }

    [Fact]
    public void OverdeterminedNoisyPointsGiveTheLeastSquaresFit()
    {
        var rnd = new Random(5);
        var img = Enumerable.Range(0, 30).Select(_ => new Point2(rnd.NextDouble() * 1920, 560 + rnd.NextDouble() * 520)).ToList();
        var floor = img.Select(p => Truth.Map(p) + new Point2((rnd.NextDouble() - 0.5) * 0.01, (rnd.NextDouble() - 0.5) * 0.01)).ToList();
        var h = Homography.FromPointPairs(img, floor);
        foreach (var p in img) Assert.True(Point2.Distance(Truth.Map(p), h.Map(p)) < 0.02);
    }

    public static TheoryData<string, double[]> Degenerate => new()
    {
        { "three of four image points collinear", [0, 0, 100, 0, 200, 0, 0, 100] },
        { "all image points on one line", [0, 0, 100, 100, 200, 200, 300, 300, 400, 400] },
        { "repeated point", [0, 0, 0, 0, 100, 0, 0, 100] },
        { "only three pairs", [0, 0, 100, 0, 0, 100] },
    };

    [Theory]
    [MemberData(nameof(Degenerate))]
    public void DegeneratePointsAreRejected(string what, double[] xy)
    {
        var img = Enumerable.Range(0, xy.Length / 2).Select(i => new Point2(xy[2 * i], xy[2 * i + 1])).ToList();
        var floor = Enumerable.Range(0, img.Count).Select(i => new Point2(i % 2 * 5 + i * 0.37, i / 2 * 5 + i * i * 0.21)).ToList();
        var e = Assert.Throws<EphemeraException>(() => Homography.FromPointPairs(img, floor));
        Assert.StartsWith("homography:", e.Message);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void CollinearFloorPointsAreRejectedToo()
    {
        var img = new List<Point2> { new(0, 0), new(100, 0), new(100, 100), new(0, 100) };
        var floor = new List<Point2> { new(0, 0), new(1, 1), new(2, 2), new(0, 5) };
        Assert.Contains("floor", Assert.Throws<EphemeraException>(() => Homography.FromPointPairs(img, floor)).Message);
    }

    [Fact]
    public void ParsesCalibrationPairs()
    {
        var h = Homography.Parse("0,0,0,0; 1000,0,10,0; 1000,1000,10,10; 0,1000,0,10");
        var p = h.Map(new Point2(250, 750));
        Assert.Equal(2.5, p.X, 9); Assert.Equal(7.5, p.Y, 9);
        Assert.Throws<EphemeraException>(() => Homography.Parse("0,0,0,0;1,1"));
    }
}
