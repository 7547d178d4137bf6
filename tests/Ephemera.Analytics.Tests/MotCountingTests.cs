using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Analytics.Tests;

/// <summary>Counting lines on real MOTChallenge sequences (ground truth and a tracker output).</summary>
public class MotCountingTests
{
    private static LineCounts Count(string file, double fps, Point2 a, Point2 b)
    {
        var analytics = new PurposeAnalytics(new PurposeAnalyticsOptions([new CountingLineOptions(a, b)]));
        MotReplay.Run(MotChallenge.Read(file), analytics, fps);
        Assert.Equal(0, analytics.TrackStateCount); // every track removed after its last frame
        return analytics.Snapshot().Lines[0];
    }

    /// <summary>
    /// Independent reference: a track that starts on one side of a full-height line and ends on the
    /// other crossed it (net) once. The analyser may also count a walk-in-and-back, so the two agree
    /// within 2 per direction.
    /// </summary>
    private static (int In, int Out) NetCrossings(string file, double lineX)
    {
        int i = 0, o = 0;
        foreach (var g in MotChallenge.Read(file).Where(r => r.Confidence != 0).GroupBy(r => r.Id))
        {
            var ordered = g.OrderBy(r => r.Frame).ToList();
            double first = ordered[0].Box.CenterX - lineX, last = ordered[^1].Box.CenterX - lineX;
            if (first > 0 && last < 0) i++;      // right of x=lineX on screen → left: "in" for a downward line
            else if (first < 0 && last > 0) o++;
        }
        return (i, o);
    }

    [Fact]
    public void AdlRundle6GroundTruthOnTheCentreLineAgreesWithNetCrossings()
    {
        var gt = TestPaths.Mot15("ADL-Rundle-6/gt/gt.txt");
        var counts = Count(gt, 30, new Point2(960, 0), new Point2(960, 1080));
        var reference = NetCrossings(gt, 960);
        Assert.True(reference.In + reference.Out > 0, "the reference must see people crossing x=960");
        Assert.InRange(counts.In, reference.In, reference.In + 2);
        Assert.InRange(counts.Out, reference.Out, reference.Out + 2);
        Assert.Equal(counts.In, counts.ByClass["person"].In);
    }

    [Fact]
    public void TudCampusTrackerOutputAgreesWithGroundTruthWithinTwo()
    {
        var gt = Count(TestPaths.Mot15("TUD-Campus/gt/gt.txt"), 25, new Point2(320, 0), new Point2(320, 480));
        var tracker = Count(TestPaths.Mot15("TUD-Campus/oracle/tracker.txt"), 25, new Point2(320, 0), new Point2(320, 480));
        Assert.True(gt.In + gt.Out > 0);
        Assert.InRange(tracker.In - gt.In, -2, 2);
        Assert.InRange(tracker.Out - gt.Out, -2, 2);
    }

    [Fact]
    public void ReplayRemovesEachTrackAfterItsLastFrameAndSkipsIgnoreRows()
    {
        using var dir = new TempDir();
        var file = dir.File("t.txt");
        File.WriteAllLines(file, [
            "1,1,10,10,5,5,1,-1,-1,-1",
            "2,1,11,10,5,5,1,-1,-1,-1",
            "1,2,50,50,5,5,0,-1,-1,-1",     // gt ignore row
            "3,3,50,50,5,5,1,3,1,-1",       // MOT16 class 3 = car
        ]);
        var log = new RecordingAnalyser();
        int frames = MotReplay.Run(MotChallenge.Read(file), log, 10);
        Assert.Equal(4, frames);
        Assert.Equal(["0:1", "0.1:1", "0.2:3|removed 1", "0.3:|removed 3"], log.Frames);
        Assert.Equal(CocoClasses.Car, log.Classes[3]);
    }

    private sealed class RecordingAnalyser : ITrackAnalyser
    {
        public readonly List<string> Frames = new();
        public readonly Dictionary<int, int> Classes = new();
        public int TrackStateCount => 0;
        public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double t)
        {
            var ids = new List<int>();
            foreach (var x in tracks) { ids.Add(x.TrackId); Classes[x.TrackId] = x.ClassId; Assert.Equal(TrackState.Confirmed, x.State); }
            Frames.Add(FormattableString.Invariant($"{Math.Round(t, 3)}:{string.Join(",", ids)}") + (removedIds.Length > 0 ? "|removed " + string.Join(",", removedIds.ToArray()) : ""));
        }
    }
}
