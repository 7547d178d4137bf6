using System.Diagnostics;
using Ephemera.TestSupport;

namespace Ephemera.Decode.Tests;

/// <summary>A real RTSP server (gst-rtsp-server) on 127.0.0.1, killed and restarted under a reading source.</summary>
public sealed class RtspTests : LedgerGuard
{
    private static readonly TimeSpan StepLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public void Source_reports_a_gap_when_the_server_dies_and_resumes_when_it_returns()
    {
        var log = new List<string>();
        var previousSink = DecodeLog.Sink;
        DecodeLog.Sink = (_, m) => { lock (log) log.Add(m); };
        using var server = RtspTestServer.Start();
        try
        {
            var options = new SourceOptions { ReadTimeoutMs = 3000, ReconnectInitialMs = 100, ReconnectMaxMs = 800 };
            using var source = VideoSource.Open(server.Url, options);
            Assert.Equal("h264", source.CodecName);
            Assert.Equal(15, ReadFrames(source, 15, out bool gapBefore));
            Assert.False(gapBefore, "reconnected before the server was touched");

            server.Kill();
            // Frames already in flight may still arrive; then the gap must be reported, not thrown.
            var clock = Stopwatch.StartNew();
            ReadStatus status;
            do
            {
                status = source.Read(out var frame);
                frame?.Dispose();
                Assert.True(clock.Elapsed < StepLimit, "no Reconnecting status after the server died");
            } while (status != ReadStatus.Reconnecting);
            // A few failed attempts against a closed port: still a gap, still no exception.
            for (int i = 0; i < 2; i++) Assert.Equal(ReadStatus.Reconnecting, source.Read(out _));

            server.Restart();
            long before = source.FramesDelivered;
            Assert.Equal(15, ReadFrames(source, 15, out _));
            Assert.Equal(before + 15, source.FramesDelivered);
            lock (log)
            {
                Assert.Single(log, m => m.Contains("connection lost"));
                Assert.Single(log, m => m.Contains("reconnected"));
            }
        }
        finally
        {
            DecodeLog.Sink = previousSink;
        }
    }

    /// <summary>Reads until <paramref name="count"/> frames arrived, within <see cref="StepLimit"/>.</summary>
    private static int ReadFrames(VideoSource source, int count, out bool sawReconnecting)
    {
        sawReconnecting = false;
        var clock = Stopwatch.StartNew();
        int frames = 0;
        while (frames < count)
        {
            Assert.True(clock.Elapsed < StepLimit, $"only {frames} of {count} frames within {StepLimit.TotalSeconds} s");
            var status = source.Read(out var frame);
            if (status == ReadStatus.Reconnecting) sawReconnecting = true;
            if (frame == null) continue;
            using (frame)
            {
                Assert.Equal((320, 240), (frame.Width, frame.Height));
                frames++;
            }
        }
        return frames;
    }
}
