using Ephemera.Decode;
using Ephemera.Governance.Records;
using Ephemera.TestSupport;

namespace Ephemera.Tests;

/// <summary>Cameras added to and removed from a running engine, while the others keep their detection rate.</summary>
[Collection("engine")] // engine runs share the process-wide pixel ledger and the two cores: one at a time
public sealed class LiveCameraTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public async Task ThreeCamerasAddedLiveOneRemovedAndAddedBack_OthersKeepTheirRate_LedgerBalancesAtEveryStep()
    {
        var before = PixelLedger.Snapshot();
        await using var engine = new EphemeraEngine(Samples.Options(_dir));
        await engine.StartAsync();
        var reader = engine.ReadAsync(new RecordFilter { Classes = new HashSet<Core.DataClass> { Core.DataClass.Count } }).GetAsyncEnumerator();

        foreach (var id in new[] { "plaza-count-1", "plaza-count-2", "plaza-count-3" })
        {
            var added = await engine.AddCameraAsync(Samples.Counting(id), Samples.Counts);
            Assert.True(added.Added, added.Refusal?.Reason);
        }
        await Task.Delay(TimeSpan.FromSeconds(3)); // past the first detections and the decoders' start
        var threeRunning = await Rates(engine, ["plaza-count-1", "plaza-count-2"], TimeSpan.FromSeconds(8));

        Assert.True(await engine.RemoveCameraAsync("plaza-count-3"));
        var removed = engine.GetStatistics().Cameras.Single(c => c.Id == "plaza-count-3");
        Assert.Equal("removed", removed.State);
        Assert.True(removed.FramesDecoded > 0);
        Assert.Equal(removed.FramesDecoded, removed.FramesDestroyed); // every frame it decoded is wiped
        Assert.False(await engine.RemoveCameraAsync("plaza-count-3"));
        // Its open bins were published on removal: the reader has its (partial) count table.
        Assert.True(await NextCount(reader, "plaza-count-3"), "no count record of the removed camera reached the reader");
        var twoRunning = await Rates(engine, ["plaza-count-1", "plaza-count-2"], TimeSpan.FromSeconds(8));

        var back = await engine.AddCameraAsync(Samples.Counting("plaza-count-3"), Samples.Counts);
        Assert.True(back.Added, back.Refusal?.Reason);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var threeAgain = await Rates(engine, ["plaza-count-1", "plaza-count-2", "plaza-count-3"], TimeSpan.FromSeconds(8));

        foreach (var id in new[] { "plaza-count-1", "plaza-count-2" })
        {
            // 5 detections/s requested: each window's rate within 5 % of the first window's.
            Assert.InRange(twoRunning[id], threeRunning[id] * 0.95, threeRunning[id] * 1.05);
            Assert.InRange(threeAgain[id], threeRunning[id] * 0.95, threeRunning[id] * 1.05);
        }
        Assert.True(threeAgain["plaza-count-3"] > 4, $"the re-added camera detects {threeAgain["plaza-count-3"]:0.00}/s");

        await engine.StopAsync();
        var stats = engine.GetStatistics();
        Assert.All(stats.Cameras, c => Assert.Equal(c.FramesDecoded, c.FramesDestroyed));
        Assert.Equal(2, stats.Cameras.Count(c => c.Id == "plaza-count-3")); // the removed one and the one added back
        var after = PixelLedger.Snapshot();
        Assert.Equal(after.Allocated - before.Allocated, after.Wiped - before.Wiped);
        Assert.Equal(before.Leaked, after.Leaked);

        // The audit chain holds the removal and the re-addition.
        using var store = Governance.EphemeraStore.Open(_dir.File("e.db"));
        var events = store.Audit.Read().Where(r => r.Kind == "camera").Select(r => r.BodyJson).ToList();
        Assert.Contains(events, e => e.Contains("\"removed\"") && e.Contains("plaza-count-3"));
        Assert.Equal(4, events.Count(e => e.Contains("\"added\"")));
        // The store, the first sink, kept the removed camera's published bins too.
        Assert.True(store.CountRows("plaza-count-3", Core.DataClass.Count) >= 1, "the removed camera's count bins are not in the store");
    }

    private static async Task<bool> NextCount(IAsyncEnumerator<DerivedRecord> reader, string camera)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (await reader.MoveNextAsync().AsTask().WaitAsync(timeout.Token))
                if (reader.Current is CountTableRecord t && t.CameraId == camera) return true;
        }
        catch (OperationCanceledException) { }
        return false;
    }

    /// <summary>Detections per second of each camera over a window.</summary>
    private static async Task<Dictionary<string, double>> Rates(EphemeraEngine engine, string[] ids, TimeSpan window)
    {
        var start = engine.GetStatistics().Cameras.Where(c => c.State == "running").ToDictionary(c => c.Id, c => c.Detections);
        var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        await Task.Delay(window);
        var end = engine.GetStatistics().Cameras.Where(c => c.State == "running").ToDictionary(c => c.Id, c => c.Detections);
        double secs = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return ids.ToDictionary(id => id, id => (end[id] - start[id]) / secs);
    }

    public void Dispose() => _dir.Dispose();
}
