using Ephemera.Core;

namespace Ephemera.Tracking.Tests;

public class MotSequenceTrackerTests
{
    [Fact]
    public void TentativeFramesAreBackfilledOnConfirmation()
    {
        // Frame 1 empty, then an object from frame 2: tentative at 2, confirmed at 3. The result
        // must contain frame 2 with the same id.
        var dets = new List<MotRow>();
        for (int f = 2; f <= 6; f++) dets.Add(new MotRow(f, -1, new BoxF(10 + 3 * f, 10, 40, 90), 0.95f));
        var result = MotSequenceTracker.Run(dets, TrackerOptions.Default, sequenceLength: 6);
        Assert.Equal([2, 3, 4, 5, 6], result.Rows.Select(r => r.Frame).ToArray());
        Assert.Single(result.Rows.Select(r => r.Id).Distinct());
        Assert.Equal(6, result.Frames);
    }

    [Fact]
    public void NoDetectionsGiveNoRows()
    {
        var result = MotSequenceTracker.Run([], TrackerOptions.Default, sequenceLength: 10);
        Assert.Empty(result.Rows);
        Assert.Equal(10, result.Frames);
    }

    [Fact]
    public void InterpolationFillsShortGapsOnly()
    {
        var rows = new List<MotRow>
        {
            new(1, 1, new BoxF(0, 0, 10, 10), 1), new(4, 1, new BoxF(30, 0, 10, 10), 1), new(20, 1, new BoxF(0, 0, 10, 10), 1),
        };
        var filled = MotSequenceTracker.Interpolate(rows, 5);
        Assert.Equal(5, filled.Count); // frames 2 and 3 added, the 15-frame gap left alone
        Assert.Contains(filled, r => r.Frame == 2 && Math.Abs(r.Box.X - 10) < 1e-4);
    }

    [Fact]
    public void ScoresOutsideUnitRangeAreRankedWithinTheFile()
    {
        var n = ScoreNormalizer.Fit([-1f, 10f, 50f, 120f]);
        Assert.True(n.Rescales);
        Assert.Equal(0.625f, n.Normalize(-1f));  // 0.5 + 0.5 · 1/4
        Assert.Equal(0.875f, n.Normalize(50f));  // 0.5 + 0.5 · 3/4
        Assert.Equal(0.5f, n.Normalize(-5f));
        Assert.Equal(1f, n.Normalize(500f));
        var id = ScoreNormalizer.Fit([0.5f, 0.99f]);
        Assert.False(id.Rescales);
        Assert.Equal(0.7f, id.Normalize(0.7f));
    }
}
