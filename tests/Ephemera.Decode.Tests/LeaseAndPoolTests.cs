using System.Runtime.CompilerServices;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Decode.Tests;

public sealed class LeaseAndPoolTests : LedgerGuard
{
    [Fact]
    public void Plane_spans_cover_stride_times_rows_with_half_height_chroma()
    {
        using var source = VideoSource.Open(TestPaths.Video("vtest.avi"));
        Assert.Equal(ReadStatus.Frame, source.Read(out var frame));
        Assert.NotNull(frame);
        using (frame)
        {
            var v = frame.View;
            Assert.Equal(PixelFormat.Yuv420P, v.Format);
            Assert.True(v.Stride0 >= 768 && v.Stride1 >= 384 && v.Stride2 >= 384);
            Assert.Equal(v.Stride0 * 576, v.Plane0.Length);
            Assert.Equal(v.Stride1 * 288, v.Plane1.Length);
            Assert.Equal(v.Stride2 * 288, v.Plane2.Length);
            Assert.True(v.Plane0.IndexOfAnyExcept((byte)0) >= 0, "luma is all zero");
        }
    }

    [Fact]
    public void AddRef_keeps_the_pixels_until_the_last_owner_disposes()
    {
        using var source = VideoSource.Open(TestPaths.Video("vtest.avi"));
        Assert.Equal(ReadStatus.Frame, source.Read(out var first));
        var second = first!.AddRef();
        byte[] expected = first.View.Plane0[..4096].ToArray();
        long inUseWithBoth = PixelLedger.Snapshot().InUse;

        first.Dispose();
        Assert.Throws<ObjectDisposedException>(() => first.View.Width);
        Assert.Equal(inUseWithBoth, PixelLedger.Snapshot().InUse);
        // Closing the source drops the decoder's own references; the second owner still keeps the picture.
        source.Dispose();
        Assert.Equal(1, PixelLedger.Snapshot().InUse);
        Assert.True(second.View.Plane0[..4096].SequenceEqual(expected), "pixels changed while an owner held them");

        long wipedBefore = PixelLedger.Snapshot().Wiped;
        second.Dispose();
        Assert.Equal(wipedBefore + 1, PixelLedger.Snapshot().Wiped);
        Assert.Equal(0, PixelLedger.Snapshot().InUse);
    }

    [Fact]
    public void A_full_pool_drops_and_counts_frames_instead_of_growing()
    {
        using var source = VideoSource.Open(TestPaths.Video("vtest.avi"), new SourceOptions { PoolBuffers = 4, DecoderThreads = 1 });
        var held = new List<FrameLease>();
        try
        {
            var ledgerBefore = PixelLedger.Snapshot();
            ReadStatus status = ReadStatus.Frame;
            for (int i = 0; i < 10 && status == ReadStatus.Frame; i++)
            {
                status = source.Read(out var frame);
                if (frame != null) held.Add(frame);
            }
            Assert.Equal(ReadStatus.PoolExhausted, status);
            Assert.InRange(held.Count, 1, 4);
            Assert.True(PixelLedger.Snapshot().InUse <= 4, "pool grew past its cap");
            Assert.Equal(1, source.FramesDroppedForPool);
            Assert.Equal(ledgerBefore.DroppedForPool + 1, PixelLedger.Snapshot().DroppedForPool);
        }
        finally
        {
            // Give the frames back and decoding resumes.
            foreach (var f in held) f.Dispose();
        }
        Assert.Equal(ReadStatus.Frame, source.Read(out var next));
        next!.Dispose();
    }

    [Fact]
    public void An_undisposed_lease_is_counted_as_leaked_and_still_wiped()
    {
        ExpectedLeaks = 1;
        var source = VideoSource.Open(TestPaths.Video("vtest.avi"));
        long leakedBefore = PixelLedger.Snapshot().Leaked;
        var messages = new List<string>();
        var previousSink = DecodeLog.Sink;
        DecodeLog.Sink = (_, m) => { lock (messages) messages.Add(m); };
        try
        {
            ReadAndDrop(source);
            source.Dispose(); // the decoder's own references go too: only the dropped lease is left
            Assert.Equal(1, PixelLedger.Snapshot().InUse);
            Settle();
        }
        finally { DecodeLog.Sink = previousSink; }
        Assert.Equal(0, PixelLedger.Snapshot().InUse);

        var s = PixelLedger.Snapshot();
        Assert.Equal(leakedBefore + 1, s.Leaked);
        Assert.Equal(s.Allocated, s.Wiped);
        Assert.Contains(messages, m => m.Contains("vtest.avi") && m.Contains("never disposed"));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ReadAndDrop(VideoSource source) => Assert.Equal(ReadStatus.Frame, source.Read(out _));

    [Fact]
    public void Leases_may_be_disposed_on_another_thread()
    {
        using var source = VideoSource.Open(TestPaths.Video("vtest.avi"), new SourceOptions { PoolBuffers = 48 });
        using var handoff = new System.Collections.Concurrent.BlockingCollection<FrameLease>(boundedCapacity: 8);
        long checksum = 0;
        int consumed = 0;
        var consumer = new Thread(() =>
        {
            foreach (var lease in handoff.GetConsumingEnumerable())
            {
                using (lease) checksum += lease.View.Plane0[lease.View.Plane0.Length / 2];
                consumed++;
            }
        });
        consumer.Start();
        try
        {
            while (true)
            {
                var status = source.Read(out var frame);
                if (status == ReadStatus.EndOfStream) break;
                if (status == ReadStatus.PoolExhausted) { Thread.Sleep(1); continue; }
                Assert.Equal(ReadStatus.Frame, status);
                Assert.True(handoff.TryAdd(frame!, TimeSpan.FromSeconds(30)), "consumer stalled");
            }
        }
        finally { handoff.CompleteAdding(); }
        Assert.True(consumer.Join(TimeSpan.FromMinutes(1)), "consumer did not finish");
        Assert.Equal(795 - source.FramesDroppedForPool, consumed);
        Assert.True(checksum > 0);
    }

    [Fact]
    public void Canary_pattern_is_gone_from_pool_memory_once_every_lease_is_released()
    {
        using var dir = new TempDir();
        // Lossless solid colour: every luma byte of every frame is the same recognisable value.
        string path = Clips.Make(dir, "canary.mkv", "-c:v libx264 -qp 0 -pix_fmt yuv420p", seconds: 1, source: "color=c=0x3CC3A5");
        using var source = VideoSource.Open(path);

        Assert.Equal(ReadStatus.Frame, source.Read(out var held));
        byte luma = held!.View.Plane0[0];
        Assert.NotEqual(0, luma);
        byte[] pattern = Enumerable.Repeat(luma, 256).ToArray();
        // Control: the scan does see pixels while a lease holds them.
        Assert.True(PixelLedger.ScanPoolMemory(pattern) > 0, "scan cannot find the pattern in a held frame");

        held.Dispose();
        Assert.Equal(24, Clips.DecodeAll(source));
        // Source still open: its pool still owns every block, now free. None may carry the pattern.
        Assert.Equal(0, PixelLedger.ScanPoolMemory(pattern));
    }

    [Fact]
    public void Pixel_buffers_are_aligned_zeroed_counted_and_wiped()
    {
        var before = PixelLedger.Snapshot();
        using (var buffer = PixelBuffer.Rent(1000))
        {
            unsafe { Assert.Equal(0, (long)buffer.Pointer % 64); }
            Assert.Equal((nuint)1000, buffer.Length);
            var span = buffer.DangerousGetSpan();
            Assert.Equal(-1, span.IndexOfAnyExcept((byte)0));
            span.Fill(0xA7);
            Assert.True(PixelLedger.ScanPoolMemory(new byte[] { 0xA7, 0xA7, 0xA7, 0xA7, 0xA7, 0xA7, 0xA7, 0xA7 }) > 0);
            Assert.Equal(before.InUse + 1, PixelLedger.Snapshot().InUse);
        }
        var after = PixelLedger.Snapshot();
        Assert.Equal(before.Allocated + 1, after.Allocated);
        Assert.Equal(before.Wiped + 1, after.Wiped);
        Assert.Equal(0, PixelLedger.ScanPoolMemory(new byte[] { 0xA7, 0xA7, 0xA7, 0xA7, 0xA7, 0xA7, 0xA7, 0xA7 }));
    }

    [Fact]
    public void Ledger_reports_lifetimes()
    {
        PixelLedger.ResetLifetimeStats();
        using (var source = VideoSource.Open(TestPaths.Video("vtest.avi")))
        {
            for (int i = 0; i < 20; i++)
            {
                Assert.Equal(ReadStatus.Frame, source.Read(out var f));
                f!.Dispose();
            }
        }
        var s = PixelLedger.Snapshot();
        Assert.True(s.LifetimeMaxMs > 0);
        Assert.InRange(s.LifetimeP50Ms, 0.000001, s.LifetimeMaxMs);
        Assert.InRange(s.LifetimeP99Ms, s.LifetimeP50Ms, s.LifetimeMaxMs);
    }

    [Fact]
    public void Ledger_splits_lifetimes_into_engine_held_and_decoder_held()
    {
        const int frames = 40;
        PixelLedger.ResetLifetimeStats();
        long wipedBefore = PixelLedger.Snapshot().Wiped;
        FrameLease? held = null;
        try
        {
            using (var source = VideoSource.Open(TestPaths.Video("vtest.avi")))
            {
                for (int i = 0; i < frames; i++)
                {
                    Assert.Equal(ReadStatus.Frame, source.Read(out var f));
                    if (i == 10) held = f; else f!.Dispose();
                }
            }
            // The source is closed: the decoder holds nothing any more, so while we sleep only the
            // engine holds a block. Its 200 ms are engine-held, not decoder-held.
            Thread.Sleep(200);
        }
        finally { held?.Dispose(); }

        var s = PixelLedger.Snapshot();
        Assert.Equal(frames, s.EngineHeldCount);             // one per delivered frame
        Assert.True(s.DecoderHeldCount > 0, "no decoder-held interval recorded");
        Assert.Equal(s.Wiped - wipedBefore, s.DecoderHeldCount); // one per wiped pool block (no pixbufs here)
        Assert.True(s.EngineHeldMaxMs >= 190, $"engine-held max {s.EngineHeldMaxMs} ms, the lease was held 200 ms");
        Assert.InRange(s.EngineHeldP50Ms, 0.000001, s.EngineHeldMaxMs);
        Assert.InRange(s.EngineHeldP99Ms, s.EngineHeldP50Ms, s.EngineHeldMaxMs);
        Assert.True(s.DecoderHeldP50Ms < 50, $"decoder-held p50 {s.DecoderHeldP50Ms} ms");
        // The held block lived 200 ms; had its engine time not been subtracted it would show here.
        Assert.True(s.DecoderHeldMaxMs < 150, $"decoder-held max {s.DecoderHeldMaxMs} ms: the held lease's engine time leaked into it");
        Assert.True(s.LifetimeMaxMs >= s.EngineHeldMaxMs, $"lifetime max {s.LifetimeMaxMs} < engine-held max {s.EngineHeldMaxMs}");
    }
}
