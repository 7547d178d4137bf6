using BenchmarkDotNet.Attributes;
using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Bench;

/// <summary>
/// Per-frame cost of one camera's purpose analytics (4 counting lines, 4 zones, floor flow) with
/// <see cref="People"/> confirmed tracks walking across a 1080p view. Goal: well under 50 µs per
/// frame for 50 people and zero allocated bytes per frame in steady state (MemoryDiagnoser).
/// </summary>
[MemoryDiagnoser]
public class PurposeAnalyticsBench
{
    [Params(10, 50)]
    public int People;

    private PurposeAnalytics _analytics = null!;
    private TrackedObject[] _tracks = null!;
    private int _frame;

    [GlobalSetup]
    public void Setup()
    {
        var floor = Homography.Parse("0,540,0,0; 1920,540,20,0; 1920,1080,20,10; 0,1080,0,10");
        _analytics = new PurposeAnalytics(new PurposeAnalyticsOptions(
            [
                new CountingLineOptions(new Point2(960, 0), new Point2(960, 1080)),
                new CountingLineOptions(new Point2(0, 800), new Point2(1920, 800)),
                new CountingLineOptions(new Point2(480, 0), new Point2(480, 1080)),
                new CountingLineOptions(new Point2(1440, 0), new Point2(1440, 1080)),
            ],
            new ZoneAnalyserOptions(Enumerable.Range(0, 4).Select(i =>
                new ZoneOptions($"z{i}", Polygon.Parse($"{i * 480},540,{i * 480 + 470},540,{i * 480 + 470},1080,{i * 480},1080")))),
            new FloorFlowOptions(floor, new FloorPlan(20, 10), maxPointsPerVisit: 256)));
        _tracks = new TrackedObject[People];
        for (int f = 0; f < 300; f++) Frame(); // every track, bin and dictionary entry exists
    }

    [Benchmark]
    public void Frame()
    {
        _frame++;
        for (int i = 0; i < _tracks.Length; i++)
        {
            // Walk back and forth across the lines: x oscillates over the full width.
            float x = 100 + (float)((i * 97 + _frame * 3) % 3400);
            if (x > 1800) x = 3600 - x;
            _tracks[i] = new TrackedObject(i + 1, CocoClasses.Person, new BoxF(x, 600 + i * 8 % 400, 40, 120), 0.9f, TrackState.Confirmed, true);
        }
        _analytics.Update(_tracks, ReadOnlySpan<int>.Empty, _frame / 30.0);
    }
}
