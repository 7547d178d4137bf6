using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Tracking.Tests;

public class AllocationTests
{
    [Fact]
    public void SteadyStateUpdatesAndPredictsAllocateNothing()
    {
        // Real detections (ADL-Rundle-6, Faster R-CNN), one Detections object per frame built
        // up front. Pass 1 warms the buffers; pass 2 (after Reset) must not allocate.
        var rows = MotChallenge.Read(TestPaths.Mot15("ADL-Rundle-6/det/det_frcnn.txt"));
        int last = rows.Max(r => r.Frame);
        var frames = new Detections[last + 1];
        for (int f = 0; f <= last; f++) frames[f] = new Detections(64);
        foreach (var r in rows) frames[r.Frame].Add(r.Box, r.Confidence, 0);
        foreach (var mode in new[] { TrackerOptions.Default, TrackerOptions.SortDefault })
        {
            var tracker = new MultiObjectTracker(mode);
            Replay(tracker, frames);
            tracker.Reset();
            long before = GC.GetAllocatedBytesForCurrentThread();
            int seen = Replay(tracker, frames);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(seen > 1000, $"only {seen} track reports");
            Assert.Equal(0, allocated);
        }
    }

    /// <summary>Detector on even frames, predict-only on odd ones (both paths exercised).</summary>
    private static int Replay(MultiObjectTracker tracker, Detections[] frames)
    {
        int seen = 0;
        for (int f = 1; f < frames.Length; f++)
            seen += (f % 2 == 0 || f < 5 ? tracker.Update(frames[f], f) : tracker.Predict(f)).Length + tracker.RemovedIds.Length;
        return seen;
    }
}
