using Ephemera.Core;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Runtime;
using Ephemera.TestSupport;

namespace Ephemera.Inference.Tests;

public class BatcherTests
{
    private static readonly Lazy<RawFrames> s_frames = new(() =>
        RawFrames.Extract(TestPaths.Video("vtest.avi"), [0, 30, 60, 90, 120, 150, 180, 210]));

    [Fact]
    public void FramesFromManyThreadsGetTheSameBoxesAsSingleFrameDetection()
    {
        var frames = s_frames.Value;
        using var session = Runtime.ModelSession.Open(TestModels.Fetch("yolox_nano_coco_416"), new InferenceOptions(intraOpThreads: 2));
        var expected = new List<DetectionAccuracyTests.Det>[frames.Data.Length];
        using (var single = new ObjectDetector(session))
        {
            var d = new Detections();
            for (int k = 0; k < frames.Data.Length; k++) { single.Detect(frames.View(k), d); expected[k] = DetectionAccuracyTests.ToList(d); }
        }

        using var detector = new ObjectDetector(session, new DetectorOptions { MaxBatch = 4 });
        using var batcher = new CrossStreamBatcher(detector, new BatcherOptions(4, TimeSpan.FromMilliseconds(50)));
        var got = new List<DetectionAccuracyTests.Det>[frames.Data.Length];
        // 4 cameras, 2 frames each, submitted concurrently.
        var threads = Enumerable.Range(0, 4).Select(cam => new Thread(() =>
        {
            using var request = new DetectionRequest();
            for (int j = 0; j < 2; j++)
            {
                int k = cam * 2 + j;
                SubmitStatus s;
                while ((s = batcher.Submit(frames.View(k), request)) == SubmitStatus.Busy) Thread.Sleep(5);
                Assert.Equal(SubmitStatus.Accepted, s);
                Assert.True(request.Wait(TimeSpan.FromSeconds(60)));
                Assert.Equal(DetectionStatus.Completed, request.Status);
                got[k] = DetectionAccuracyTests.ToList(request.Output);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        for (int k = 0; k < frames.Data.Length; k++)
        {
            Assert.NotNull(got[k]);
            Assert.True(expected[k].Count > 0);
            Assert.Equal(expected[k].Count, got[k].Count);
            for (int i = 0; i < expected[k].Count; i++)
            {
                Assert.Equal(expected[k][i].Cls, got[k][i].Cls);
                Assert.True(BoxF.IoU(expected[k][i].Box, got[k][i].Box) > 0.999f, $"frame {k} box {i}");
                Assert.Equal(expected[k][i].Score, got[k][i].Score, 3);
            }
        }
        // Counters are updated after a batch's callbacks return, which is after its requests are signalled.
        Assert.True(SpinWait.SpinUntil(() => batcher.Counters.Frames == 8, TimeSpan.FromSeconds(10)), $"{batcher.Counters.Frames} frames counted");
        var (batches, framesRun, _) = batcher.Counters;
        Assert.Equal(8, framesRun);
        Assert.True(batches < 8, $"{batches} batches for 8 frames: nothing was batched");
        Assert.Throws<InvalidOperationException>(() => detector.Detect(frames.View(0), new Detections()));
    }

    [Fact]
    public void AFullBatcherRefusesWithBusyInsteadOfQueueing()
    {
        var frames = s_frames.Value;
        using var detector = ObjectDetector.Open(new DetectorOptions { MaxBatch = 2 });
        using var release = new ManualResetEventSlim(false);
        using var batcher = new CrossStreamBatcher(detector, new BatcherOptions(2, TimeSpan.FromSeconds(30), workers: 1));
        // The first completion callback blocks the only worker thread, so bank A stays taken.
        var blocker = new DetectionRequest(_ => release.Wait(TimeSpan.FromSeconds(30)));
        var requests = Enumerable.Range(0, 4).Select(_ => new DetectionRequest()).Prepend(blocker).ToArray();
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(0), requests[0]));
        Assert.Equal(SubmitStatus.RequestInFlight, batcher.Submit(frames.View(0), requests[0]));
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(1), requests[1])); // bank A full → runs, blocks in callback
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(2), requests[2]));
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(3), requests[3])); // bank B full
        Assert.Equal(SubmitStatus.Busy, batcher.Submit(frames.View(4), requests[4]));
        Assert.Equal(1, batcher.Counters.Busy);
        release.Set();
        foreach (var r in requests[..4]) Assert.True(r.Wait(TimeSpan.FromSeconds(60)));
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(4), requests[4]));
        using var partner = new DetectionRequest(); // fills the batch, so it runs now rather than at the 30 s deadline
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(5), partner));
        Assert.True(requests[4].Wait(TimeSpan.FromSeconds(60)));
        Assert.All(requests, r => Assert.Equal(DetectionStatus.Completed, r.Status));
    }

    [Fact]
    public void WithTwoWorkersASlowBatchDoesNotHoldUpTheNext()
    {
        var frames = s_frames.Value;
        using var detector = ObjectDetector.Open(new DetectorOptions { Inference = new InferenceOptions(intraOpThreads: 1, parallelRuns: 2) });
        using var release = new ManualResetEventSlim(false);
        using var batcher = new CrossStreamBatcher(detector, new BatcherOptions(1, TimeSpan.Zero, banks: 3));
        Assert.Equal(2, batcher.Workers);
        batcher.WarmUp(); // runs the model on empty banks: no request, no counted batch
        Assert.Equal((0L, 0L), (batcher.Counters.Batches, batcher.Counters.Frames));
        string? blockedOn = null, otherOn = null;
        int? niceOfWorker = null;
        using var blocker = new DetectionRequest(_ => { blockedOn = Thread.CurrentThread.Name; release.Wait(TimeSpan.FromSeconds(30)); });
        using var other = new DetectionRequest(_ => { otherOn = Thread.CurrentThread.Name; niceOfWorker = ThreadNice.Current(); });
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(0), blocker));
        Assert.True(SpinWait.SpinUntil(() => blockedOn != null, TimeSpan.FromSeconds(60)), "the first batch never ran");
        // Worker 1 is stuck in the first camera's callback; the second worker runs the next batch meanwhile.
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(1), other));
        Assert.True(other.Wait(TimeSpan.FromSeconds(60)), "the second batch waited for the first worker");
        // The result is signalled before the callback runs: wait for the callback too.
        Assert.True(SpinWait.SpinUntil(() => niceOfWorker != null || !OperatingSystem.IsLinux() && otherOn != null, TimeSpan.FromSeconds(60)));
        Assert.False(release.IsSet);
        Assert.NotEqual(blockedOn, otherOn);
        // Detector runs yield to camera threads (nice 5 by default) on Linux.
        if (OperatingSystem.IsLinux()) Assert.Equal(5, niceOfWorker);
        Assert.True(other.Output.Count > 0);
        release.Set();
        Assert.True(SpinWait.SpinUntil(() => batcher.Counters.Batches == 2, TimeSpan.FromSeconds(60)));
        Assert.Equal(2, batcher.Counters.Frames);
    }

    [Fact]
    public void WhenBatchesWaitTheHigherPriorityRunsFirst()
    {
        var frames = s_frames.Value;
        using var detector = ObjectDetector.Open(new DetectorOptions { Inference = new InferenceOptions(intraOpThreads: 1, parallelRuns: 1) });
        using var release = new ManualResetEventSlim(false);
        using var batcher = new CrossStreamBatcher(detector, new BatcherOptions(1, TimeSpan.Zero, banks: 4));
        var order = new List<string>();
        bool running = false;
        using var blocker = new DetectionRequest(_ => { running = true; release.Wait(TimeSpan.FromSeconds(30)); });
        using var low = new DetectionRequest(_ => { lock (order) order.Add("low"); }) { Priority = 1 };
        using var high = new DetectionRequest(_ => { lock (order) order.Add("high"); }) { Priority = 4 };
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(0), blocker));
        Assert.True(SpinWait.SpinUntil(() => running, TimeSpan.FromSeconds(60)));
        // The only worker is busy: the low-priority frame waits first, the high-priority one arrives later.
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(1), low));
        Thread.Sleep(20);
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(2), high));
        Thread.Sleep(200);
        release.Set();
        Assert.True(low.Wait(TimeSpan.FromSeconds(60)) && high.Wait(TimeSpan.FromSeconds(60)));
        Assert.True(SpinWait.SpinUntil(() => { lock (order) return order.Count == 2; }, TimeSpan.FromSeconds(60)));
        Assert.Equal(["high", "low"], order);

        // Equal priorities: first come, first served.
        order.Clear(); release.Reset(); running = false;
        high.Priority = 1;
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(0), blocker));
        Assert.True(SpinWait.SpinUntil(() => running, TimeSpan.FromSeconds(60)));
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(1), low));
        Thread.Sleep(20);
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(2), high));
        release.Set();
        Assert.True(SpinWait.SpinUntil(() => { lock (order) return order.Count == 2; }, TimeSpan.FromSeconds(60)));
        Assert.Equal(["low", "high"], order);
    }

    [Fact]
    public void AWaitingFrameWhosePriorityIsRaisedGoesAheadOfTheFloorFramesQueuedBeforeIt()
    {
        // By need: still cameras' floor frames (weight 1) wait for a busy detector; a camera whose floor
        // frame is among them starts asking for full rate (weight 10), and another camera's full-rate
        // frame arrives. Both go before every floor frame, the raised one first (it waited longer).
        var frames = s_frames.Value;
        using var detector = ObjectDetector.Open(new DetectorOptions { Inference = new InferenceOptions(intraOpThreads: 1, parallelRuns: 1) });
        using var release = new ManualResetEventSlim(false);
        using var batcher = new CrossStreamBatcher(detector, new BatcherOptions(1, TimeSpan.Zero, banks: 10));
        var order = new List<string>();
        bool running = false;
        using var blocker = new DetectionRequest(_ => { running = true; release.Wait(TimeSpan.FromSeconds(30)); });
        var floor = Enumerable.Range(0, 6).Select(i => new DetectionRequest(_ => { lock (order) order.Add($"floor{i}"); }) { Priority = 1 }).ToArray();
        using var raised = new DetectionRequest(_ => { lock (order) order.Add("raised"); }) { Priority = 1 };
        using var full = new DetectionRequest(_ => { lock (order) order.Add("full"); }) { Priority = 10 };
        try
        {
            Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(0), blocker));
            Assert.True(SpinWait.SpinUntil(() => running, TimeSpan.FromSeconds(60)));
            for (int i = 0; i < floor.Length; i++) Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(1 + i % 7), floor[i]));
            Thread.Sleep(20);
            Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(1), raised));
            Thread.Sleep(20);
            raised.Priority = 10; // its camera now asks for full rate while the frame waits
            Assert.Equal(SubmitStatus.RequestInFlight, batcher.Submit(frames.View(2), raised));
            Assert.Equal(SubmitStatus.Accepted, batcher.Submit(frames.View(2), full));
            Thread.Sleep(100);
            release.Set();
            Assert.True(SpinWait.SpinUntil(() => { lock (order) return order.Count == 8; }, TimeSpan.FromSeconds(60)));
            Assert.Equal(["raised", "full", .. Enumerable.Range(0, 6).Select(i => $"floor{i}")], order);
        }
        finally
        {
            release.Set();
            foreach (var r in floor) { r.Wait(TimeSpan.FromSeconds(60)); r.Dispose(); }
        }
    }

    [Fact]
    public void ABadFrameFailsItsSubmitOnlyAndTheBatcherGoesOn()
    {
        using var detector = ObjectDetector.Open(new DetectorOptions { MaxBatch = 2 });
        using var batcher = new CrossStreamBatcher(detector, new BatcherOptions(2, TimeSpan.FromMilliseconds(5)));
        using var req = new DetectionRequest();
        var tiny = new byte[10];
        Assert.Throws<EphemeraException>(() => batcher.Submit(new FrameView(64, 48, PixelFormat.Yuv420P, tiny, 64, tiny, 32, tiny, 32), req));
        Assert.Equal(DetectionStatus.Idle, req.Status);
        Assert.Equal(SubmitStatus.Accepted, batcher.Submit(s_frames.Value.View(0), req));
        Assert.True(req.Wait(TimeSpan.FromSeconds(60)));
        Assert.True(req.Output.Count > 0);
    }

    [Fact]
    public void BatchTensorsAreCountedAndWipedWhenDetectorsAreDisposed()
    {
        var before = TensorLedger.Take();
        var pixelsBefore = Ephemera.Decode.PixelLedger.Snapshot();
        using (var detector = ObjectDetector.Open(new DetectorOptions { MaxBatch = 2 }))
        using (var batcher = new CrossStreamBatcher(detector))
        {
            var during = TensorLedger.Take();
            Assert.Equal(3, during.Allocated - before.Allocated); // the detector's own bank + two batcher banks
            Assert.Equal(3L * 2 * 3 * 416 * 416 * sizeof(float), during.BytesLive - before.BytesLive);
            Assert.Equal(3, Ephemera.Decode.PixelLedger.Snapshot().InUse - pixelsBefore.InUse); // the engine-wide pixel ledger sees them
            using var req = new DetectionRequest();
            Assert.True(batcher.TrySubmit(s_frames.Value.View(0), req));
            Assert.True(req.Wait(TimeSpan.FromSeconds(60)));
        }
        var after = TensorLedger.Take();
        Assert.Equal(after.Allocated - before.Allocated, after.Wiped - before.Wiped);
        Assert.Equal(before.BytesLive, after.BytesLive);
        var pixelsAfter = Ephemera.Decode.PixelLedger.Snapshot();
        Assert.Equal(pixelsAfter.Allocated - pixelsBefore.Allocated, pixelsAfter.Wiped - pixelsBefore.Wiped);
        Assert.Equal(pixelsBefore.InUse, pixelsAfter.InUse);
    }

    [Fact]
    public void EveryRunWipesTheSlotsItUsedAndOnlyThose()
    {
        // The per-run wipe is the privacy invariant the engine's detector cost includes (issue 17): the
        // slots a batch used hold no pixel-derived value once the run is done, the others are untouched.
        using var detector = ObjectDetector.Open(new DetectorOptions { MaxBatch = 2, InputWidth = 416, InputHeight = 320 });
        var bank = detector.CreateBank();
        var pre = detector.CreatePreprocessor();
        var placements = new Preprocess.TensorPlacement[2];
        placements[0] = pre.Run(s_frames.Value.View(0), bank.Slot(0));
        placements[1] = pre.Run(s_frames.Value.View(1), bank.Slot(1));
        Assert.True(bank.Slot(0).IndexOfAnyExcept(0f) >= 0 && bank.Slot(1).IndexOfAnyExcept(0f) >= 0);
        var output = new Detections();
        detector.InferAndDecode(bank, 1, placements, [output, null]);
        Assert.True(output.Count > 0); // the run saw the frame before the wipe
        Assert.Equal(-1, bank.Slot(0).IndexOfAnyExcept(0f));
        Assert.True(bank.Slot(1).IndexOfAnyExcept(0f) >= 0); // not part of that batch
        detector.InferAndDecode(bank, 2, placements, [null, null]);
        Assert.Equal(-1, bank.Slot(1).IndexOfAnyExcept(0f));
        pre.Dispose();
    }
}

public class NmsTests
{
    private static int[] Naive(CandidateBoxes c, float thr)
    {
        var order = Enumerable.Range(0, c.Count).OrderByDescending(i => c.Score[i]).ThenBy(i => i).ToList();
        var kept = new List<int>();
        foreach (int i in order)
        {
            var a = BoxF.FromCorners(c.X1[i], c.Y1[i], c.X2[i], c.Y2[i]);
            if (kept.Any(k => c.ClassF[k] == c.ClassF[i] && BoxF.IoU(a, BoxF.FromCorners(c.X1[k], c.Y1[k], c.X2[k], c.Y2[k])) > thr)) continue;
            kept.Add(i);
        }
        return kept.ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void VectorAndScalarNmsEqualTheNaiveDefinition(bool forceScalar)
    {
        var nms = new NonMaxSuppression { ForceScalar = forceScalar };
        var c = KernelInputs.Candidates(1000, 7);
        var kept = new int[1000];
        int n = nms.Run(c, 0.45f, true, kept);
        Assert.Equal(Naive(c, 0.45f), kept[..n]);
        Assert.InRange(n, 50, 999);
    }

    [Fact]
    public void ScalarNmsInAChildProcessWithoutSimdAgrees()
    {
        using var tmp = new TempDir();
        var r = ChildProcess.Run("dotnet", [typeof(Program).Assembly.Location, "nms", tmp.File("k.txt")], env: new Dictionary<string, string> { ["DOTNET_EnableHWIntrinsic"] = "0" });
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("vector256=False", r.StdOut);
        Assert.Equal(Naive(KernelInputs.Candidates(1000, 7), 0.45f), File.ReadAllText(tmp.File("k.txt")).Split(',').Select(int.Parse));
    }

    [Theory] // scenario table: (box B relative to A, same class?, suppressed?)
    [InlineData(0f, 0, true)]      // identical box, same class
    [InlineData(0f, 1, false)]     // identical box, other class: class-aware keeps it
    [InlineData(2f, 0, true)]      // IoU ≈ 0.67 > 0.45
    [InlineData(6f, 0, false)]     // IoU = 0.25 < 0.45
    [InlineData(20f, 0, false)]    // disjoint
    public void Scenarios(float shift, int otherClass, bool suppressed)
    {
        var c = new CandidateBoxes();
        c.Add(0, 0, 10, 10, 0.9f, 0);
        c.Add(shift, 0, shift + 10, 10, 0.8f, otherClass);
        var kept = new int[2];
        Assert.Equal(suppressed ? 1 : 2, new NonMaxSuppression().Run(c, 0.45f, true, kept));
    }
}
