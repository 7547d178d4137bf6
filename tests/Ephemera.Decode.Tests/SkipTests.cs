using System.Runtime.InteropServices;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Decode.Tests;

/// <summary>
/// Frames nobody wants are never decoded (<see cref="WantedFrames"/>): checked against a full decode
/// of the same file, picture by picture (hash of the visible luma) and index by index.
/// </summary>
public sealed class SkipTests(ITestOutputHelper output) : LedgerGuard
{
    /// <summary>What one pass of reads produced: frame index → luma hash, and the skipped indexes.</summary>
    private sealed record Decoded(Dictionary<long, ulong> Frames, List<long> Skipped, long SourceFramesSkipped, long SourceFramesDelivered);

    private static Decoded ReadAll(string path, WantedFrames wanted, SourceOptions? options = null)
    {
        using var source = VideoSource.Open(path, options ?? new SourceOptions { Hardware = HardwareDecode.None });
        var frames = new Dictionary<long, ulong>();
        var skipped = new List<long>();
        long lastIndex = -1;
        for (int guard = 0; guard < 100_000; guard++)
        {
            var status = source.Read(out var frame, wanted);
            if (status == ReadStatus.EndOfStream)
                return new Decoded(frames, skipped, source.FramesSkipped, source.FramesDelivered);
            if (status == ReadStatus.Skipped)
            {
                Assert.Null(frame);
                Assert.False(wanted.Contains(source.LastSkippedIndex), $"wanted frame {source.LastSkippedIndex} was skipped");
                skipped.Add(source.LastSkippedIndex);
                continue;
            }
            Assert.Equal(ReadStatus.Frame, status);
            Assert.NotNull(frame);
            using (frame)
            {
                Assert.True(frame.Index > lastIndex, $"frame {frame.Index} delivered after frame {lastIndex}");
                lastIndex = frame.Index;
                frames.Add(frame.Index, LumaHash(frame));
            }
        }
        throw new Xunit.Sdk.XunitException($"{path}: no end of stream");
    }

    /// <summary>64-bit hash of the visible luma (row padding excluded).</summary>
    private static ulong LumaHash(FrameLease frame)
    {
        var view = frame.View;
        ulong h = 14695981039346656037UL;
        for (int y = 0; y < view.Height; y++)
        {
            var row = view.Plane0.Slice(y * view.Stride0, view.Width);
            var words = MemoryMarshal.Cast<byte, ulong>(row);
            foreach (ulong w in words) h = (h ^ w) * 1099511628211UL;
            foreach (byte b in row[(words.Length * 8)..]) h = (h ^ b) * 1099511628211UL;
        }
        return h;
    }

    /// <summary>Frame indexes and skipped indexes together are exactly 0..n-1; every delivered picture
    /// equals the full decode's picture of that index; every wanted frame was delivered.</summary>
    private static void AssertMatchesFullDecode(Decoded full, Decoded skipping, WantedFrames wanted, string what)
    {
        int n = full.Frames.Count;
        Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), full.Frames.Keys.Order());
        Assert.Equal(skipping.Skipped.Count, skipping.SourceFramesSkipped);
        Assert.Equal(skipping.Frames.Count, skipping.SourceFramesDelivered);
        Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), skipping.Frames.Keys.Concat(skipping.Skipped).Order());
        foreach (var (index, hash) in skipping.Frames)
            Assert.True(full.Frames[index] == hash, $"{what}: frame {index} differs from the full decode's frame {index}");
        for (long i = 0; i < n; i++)
            if (wanted.Contains(i)) Assert.True(skipping.Frames.ContainsKey(i), $"{what}: wanted frame {i} was not delivered");
    }

    [Fact]
    public void Adl_every_6th_frame_skips_unwanted_b_frames_and_delivers_the_full_decodes_pictures()
    {
        string path = TestPaths.Mot15("ADL-Rundle-6/video.mp4");
        var full = ReadAll(path, WantedFrames.All);
        Assert.Equal(525, full.Frames.Count);
        Assert.Empty(full.Skipped);

        var every6th = WantedFrames.EveryNth(6);
        var skipping = ReadAll(path, every6th);
        AssertMatchesFullDecode(full, skipping, every6th, "ADL every 6th");
        output.WriteLine($"ADL every 6th: {skipping.Frames.Count} decoded, {skipping.Skipped.Count} skipped");
        Assert.True(skipping.Skipped.Count > 100, $"only {skipping.Skipped.Count} of 525 frames skipped");
        Assert.True(skipping.Frames.Count + skipping.Skipped.Count == 525);

        // Shifted by one, the schedule lands on non-reference B-frames, which must then be decoded.
        var shifted = WantedFrames.EveryNth(6, from: 1);
        var skippingShifted = ReadAll(path, shifted);
        AssertMatchesFullDecode(full, skippingShifted, shifted, "ADL every 6th from 1");
        output.WriteLine($"ADL every 6th from 1: {skippingShifted.Frames.Count} decoded, {skippingShifted.Skipped.Count} skipped");
        Assert.True(skippingShifted.Frames.Count > skipping.Frames.Count, "the shifted schedule wants B-frames the first one did not");
    }

    [Fact]
    public void Adl_with_nothing_wanted_decodes_only_reference_frames()
    {
        string path = TestPaths.Mot15("ADL-Rundle-6/video.mp4");
        var none = new WantedFrames(long.MaxValue);
        var skipping = ReadAll(path, none);
        Assert.Equal(525, skipping.Frames.Count + skipping.Skipped.Count);
        output.WriteLine($"ADL nothing wanted: {skipping.Frames.Count} decoded, {skipping.Skipped.Count} skipped");
        Assert.True(skipping.Skipped.Count > 100, $"only {skipping.Skipped.Count} of 525 frames skipped");
        Assert.Equal(Enumerable.Range(0, 525).Select(i => (long)i), skipping.Frames.Keys.Concat(skipping.Skipped).Order());
        // An independent judge of which pictures are references: FFmpeg's own decoder-level skip.
        Assert.Equal(ReferenceFramesPerFfprobe(path), skipping.Frames.Count);
    }

    /// <summary>Frames FFmpeg's decoder outputs with <c>-skip_frame noref</c> (every non-reference picture dropped).</summary>
    private static int ReferenceFramesPerFfprobe(string path)
    {
        var r = ChildProcess.Run("ffprobe", new[] { "-v", "error", "-skip_frame", "noref", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path }, TimeSpan.FromMinutes(1));
        Assert.True(r.ExitCode == 0, $"ffprobe failed on {path}: {r.StdErr}");
        // TS lists the stream twice (under its program and on its own): the first line is enough.
        string first = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
        return int.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Mpeg4_avi_without_disposable_frames_skips_nothing()
    {
        var none = new WantedFrames(long.MaxValue);
        var result = ReadAll(TestPaths.Video("vtest.avi"), none);
        Assert.Equal(795, result.Frames.Count);
        Assert.Empty(result.Skipped);
        Assert.Equal(Enumerable.Range(0, 795).Select(i => (long)i), result.Frames.Keys.Order());
    }

    [Theory]
    [InlineData("annexb.ts", "-c:v libx264 -pix_fmt yuv420p -bf 3 -b-pyramid none -f mpegts", true)]
    [InlineData("pyramid.mp4", "-c:v libx264 -pix_fmt yuv420p -bf 3 -b-pyramid normal", true)]
    [InlineData("annexb_pyramid.ts", "-c:v libx264 -pix_fmt yuv420p -bf 3 -b-pyramid strict -f mpegts", true)]
    [InlineData("bframes.mkv", "-c:v libx264 -pix_fmt yuv420p -bf 3 -b-pyramid none", true)]
    // AVI stamps no pts on B-frame streams: nothing may be skipped, and numbering stays intact.
    [InlineData("bframes.avi", "-c:v libx264 -pix_fmt yuv420p -bf 3 -b-pyramid none", false)]
    [InlineData("hevc.mp4", "-c:v libx265 -x265-params log-level=error -pix_fmt yuv420p", true)]
    [InlineData("hevc_annexb.ts", "-c:v libx265 -x265-params log-level=error -pix_fmt yuv420p -f mpegts", true)]
    [InlineData("hevc_temporal_layers.mp4", "-c:v libx265 -x265-params log-level=error:temporal-layers=1 -pix_fmt yuv420p", true)]
    public void Generated_h264_and_hevc_with_b_frames_skip_and_stay_bit_exact(string name, string codecArgs, bool skips)
    {
        using var dir = new TempDir();
        string path = Clips.Make(dir, name, codecArgs, seconds: 4); // 100 frames
        var full = ReadAll(path, WantedFrames.All);
        Assert.Equal(100, full.Frames.Count);
        foreach (int every in new[] { 2, 5, 6 })
        {
            var wanted = WantedFrames.EveryNth(every, from: 3);
            var skipping = ReadAll(path, wanted);
            AssertMatchesFullDecode(full, skipping, wanted, $"{name} every {every} from 3");
            output.WriteLine($"{name} every {every}: {skipping.Frames.Count} decoded, {skipping.Skipped.Count} skipped");
            Assert.True(skipping.Skipped.Count > 0 == skips, $"{name}: {skipping.Skipped.Count} skipped at every {every}, expected {(skips ? "some" : "none")}");
        }
        if (skips)
        {
            // With nothing wanted, exactly the pictures FFmpeg's decoder keeps under -skip_frame noref are decoded.
            var none = ReadAll(path, new WantedFrames(long.MaxValue));
            Assert.Equal(ReferenceFramesPerFfprobe(path), none.Frames.Count);
        }
    }

    [Fact]
    public void Raw_annexb_h264_without_timestamps_skips_nothing_and_delivers_every_frame()
    {
        // A raw .h264 elementary stream carries no timestamps, so a packet's place in presentation
        // order is unknown before decoding: nothing may be skipped.
        using var dir = new TempDir();
        string path = Clips.Make(dir, "raw.h264", "-c:v libx264 -pix_fmt yuv420p -bf 3 -b-pyramid none -f h264");
        var result = ReadAll(path, new WantedFrames(long.MaxValue));
        Assert.Empty(result.Skipped);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), result.Frames.Keys.Order());
    }

    [Fact]
    public void Paced_source_paces_skipped_frames_like_delivered_ones()
    {
        // One result per frame interval, decoded or skipped: a pacing loop keeps its clock.
        using var dir = new TempDir();
        string path = Clips.Make(dir, "paced.mp4", "-c:v libx264 -pix_fmt yuv420p -bf 3 -b-pyramid none", seconds: 0.4); // 10 frames at 25 fps
        using var source = VideoSource.Open(path, new SourceOptions { Paced = true, Hardware = HardwareDecode.None });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int results = 0;
        ReadStatus status;
        while ((status = source.Read(out var frame, new WantedFrames(long.MaxValue))) != ReadStatus.EndOfStream)
        {
            frame?.Dispose();
            results++;
        }
        Assert.Equal(10, results);
        Assert.True(source.FramesSkipped > 0, "nothing skipped");
        // Result 9 is due 9/25 s after result 0.
        Assert.True(clock.Elapsed.TotalSeconds >= 0.34, $"10 paced results took only {clock.Elapsed.TotalSeconds:F3} s");
    }

    [Fact]
    public void Plain_read_and_all_wanted_are_the_same_decode()
    {
        using var dir = new TempDir();
        string path = Clips.Make(dir, "bframes.mp4", "-c:v libx264 -pix_fmt yuv420p -bf 3");
        var all = ReadAll(path, WantedFrames.All);
        using var source = VideoSource.Open(path, new SourceOptions { Hardware = HardwareDecode.None });
        long expected = 0;
        int frames = Clips.DecodeAll(source, f =>
        {
            Assert.Equal(expected++, f.Index);
            Assert.Equal(all.Frames[f.Index], LumaHash(f));
        });
        Assert.Equal(all.Frames.Count, frames);
        Assert.Equal(0, source.FramesSkipped);
    }

    [Fact]
    public void Looping_source_keeps_numbering_frames_across_rewinds_while_skipping()
    {
        using var dir = new TempDir();
        string path = Clips.Make(dir, "loop.mp4", "-c:v libx264 -pix_fmt yuv420p -bf 3 -b-pyramid none", seconds: 0.8); // 20 frames
        var full = ReadAll(path, WantedFrames.All);
        Assert.Equal(20, full.Frames.Count);

        using var source = VideoSource.Open(path, new SourceOptions { Loop = true, Hardware = HardwareDecode.None });
        var wanted = WantedFrames.EveryNth(7);
        var seen = new List<long>();
        int skipped = 0;
        while (seen.Count < 75) // more than three passes
        {
            var status = source.Read(out var frame, wanted);
            if (status == ReadStatus.Skipped) { seen.Add(source.LastSkippedIndex); skipped++; continue; }
            Assert.Equal(ReadStatus.Frame, status);
            Assert.NotNull(frame);
            using (frame)
            {
                Assert.True(full.Frames[frame.Index % 20] == LumaHash(frame), $"looped frame {frame.Index} is not frame {frame.Index % 20} of the file");
                seen.Add(frame.Index);
            }
        }
        Assert.True(skipped > 0, "nothing skipped while looping");
        Assert.Equal(skipped, source.FramesSkipped);
        seen.Sort();
        // Results arrive out of order only within the decoder's look-ahead; the first 60 are all there.
        Assert.Equal(Enumerable.Range(0, 60).Select(i => (long)i), seen.Take(60));
    }

    /// <summary>
    /// The deblocking options reach FFmpeg and do what they say: skipping it on B-pictures leaves the
    /// first picture (an I-picture) bit-exact and changes later ones (B-pictures, and through
    /// reference B-pictures the pictures predicted from them); skipping it everywhere changes the
    /// I-picture too; every frame arrives with its index either way.
    /// </summary>
    [Fact]
    public void SkippingDeblockingLeavesTheIPictureExactOnlyOnBAndEveryFrameStillArrives()
    {
        using var dir = new TempDir();
        string path = Clips.Make(dir, "deblock.mp4", "-c:v libx264 -pix_fmt yuv420p -bf 2 -g 25 -crf 38", source: "testsrc2");
        Decoded With(LoopFilter l) => ReadAll(path, WantedFrames.All, new SourceOptions { Hardware = HardwareDecode.None, DecoderThreads = 1, LoopFilter = l });
        var full = With(LoopFilter.Full);
        var bidir = With(LoopFilter.SkipBidir);
        var all = With(LoopFilter.SkipAll);
        Assert.Equal(50, full.Frames.Count);
        Assert.Equal(full.Frames.Keys.Order(), bidir.Frames.Keys.Order());
        Assert.Equal(full.Frames.Keys.Order(), all.Frames.Keys.Order());
        Assert.Equal(full.Frames[0], bidir.Frames[0]);
        Assert.Contains(full.Frames.Keys, k => full.Frames[k] != bidir.Frames[k]);
        Assert.NotEqual(full.Frames[0], all.Frames[0]);
        output.WriteLine($"pictures changed: skip on B {full.Frames.Keys.Count(k => full.Frames[k] != bidir.Frames[k])}, skip all {full.Frames.Keys.Count(k => full.Frames[k] != all.Frames[k])} of {full.Frames.Count}");
    }

    [Fact]
    public void AnUnknownDeblockingOrThreadingValueIsRejectedByName()
    {
        var e = Assert.Throws<Ephemera.Core.EphemeraException>(() => VideoSource.Open(TestPaths.Video("vtest.avi"), new SourceOptions { LoopFilter = (LoopFilter)7 }));
        Assert.Contains("LoopFilter", e.Message);
        e = Assert.Throws<Ephemera.Core.EphemeraException>(() => VideoSource.Open(TestPaths.Video("vtest.avi"), new SourceOptions { ThreadType = (DecoderThreadType)5 }));
        Assert.Contains("ThreadType", e.Message);
    }
}
