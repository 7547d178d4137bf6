using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Decode.Tests;

public sealed class FileDecodeTests : LedgerGuard
{
    [Fact]
    public void Vtest_avi_decodes_to_795_frames_of_768x576()
    {
        using var source = VideoSource.Open(TestPaths.Video("vtest.avi"));
        Assert.Equal((768, 576), (source.Width, source.Height));
        long expectedIndex = 0;
        int frames = Clips.DecodeAll(source, f =>
        {
            Assert.Equal((768, 576), (f.Width, f.Height));
            Assert.Equal(expectedIndex++, f.Index);
        });
        Assert.Equal(795, frames);
        Assert.Equal(795, source.FramesDelivered);
        Assert.Equal(0, source.FramesDroppedForPool);
    }

    [Fact]
    public void Adl_rundle_6_decodes_to_525_frames_of_1920x1080()
    {
        using var source = VideoSource.Open(TestPaths.Mot15("ADL-Rundle-6/video.mp4"));
        Assert.Equal("h264", source.CodecName);
        Assert.Equal(30, source.FrameRate, 1);
        int frames = Clips.DecodeAll(source, f =>
        {
            Assert.Equal((1920, 1080), (f.Width, f.Height));
            Assert.Equal(PixelFormat.Yuv420P, f.Format);
        });
        Assert.Equal(525, frames);
    }

    [Theory]
    [InlineData("hevc.mkv", "-c:v libx265 -x265-params log-level=error -pix_fmt yuv420p", "hevc", false)]
    [InlineData("hevc422.mkv", "-c:v libx265 -x265-params log-level=error -pix_fmt yuv422p", "hevc", false)]
    [InlineData("mjpeg.avi", "-c:v mjpeg -pix_fmt yuvj422p -q:v 3", "mjpeg", true)]
    [InlineData("h264_10bit.mp4", "-c:v libx264 -pix_fmt yuv420p10le", "h264", false)]
    public void Generated_clips_decode_to_50_frames_of_320x240_as_8bit_yuv420p(string name, string codecArgs, string codec, bool fullRange)
    {
        using var dir = new TempDir();
        string path = Clips.Make(dir, name, codecArgs);
        using var source = VideoSource.Open(path);
        Assert.Equal(codec, source.CodecName);
        int frames = Clips.DecodeAll(source, f =>
        {
            Assert.Equal((320, 240), (f.Width, f.Height));
            Assert.Equal(PixelFormat.Yuv420P, f.Format);
            Assert.Equal(fullRange, f.FullRange);
        });
        Assert.Equal(50, frames);
    }

    [Fact]
    public void Looping_file_restarts_at_the_end_and_keeps_counting()
    {
        using var dir = new TempDir();
        string path = Clips.Make(dir, "short.mp4", "-c:v libx264 -pix_fmt yuv420p", seconds: 0.4); // 10 frames
        using var source = VideoSource.Open(path, new SourceOptions { Loop = true });
        for (long i = 0; i < 35; i++)
        {
            Assert.Equal(ReadStatus.Frame, source.Read(out var frame));
            Assert.NotNull(frame);
            using (frame) Assert.Equal(i, frame.Index);
        }
    }

    [Fact]
    public void Paced_source_delivers_no_faster_than_its_frame_rate()
    {
        using var dir = new TempDir();
        string path = Clips.Make(dir, "paced.mp4", "-c:v libx264 -pix_fmt yuv420p", seconds: 0.4); // 10 frames at 25 fps
        using var source = VideoSource.Open(path, new SourceOptions { Paced = true });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(10, Clips.DecodeAll(source));
        // Frame 9 is due 9/25 s after frame 0.
        Assert.True(clock.Elapsed.TotalSeconds >= 0.34, $"10 paced frames took only {clock.Elapsed.TotalSeconds:F3} s");
    }
}
