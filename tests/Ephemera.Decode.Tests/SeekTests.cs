using System.Runtime.InteropServices;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Decode.Tests;

/// <summary>
/// <see cref="VideoSource.Seek"/> and <see cref="SourceOptions.StartSeconds"/>: the source lands on the
/// keyframe at or before the time asked, and every frame from there is the full decode's frame of the
/// same index (pixels and number), skipping and looping included.
/// </summary>
public sealed class SeekTests : LedgerGuard
{
    /// <summary>4 s at 25 fps, H.264 with B-frames, a keyframe exactly every 25 frames (1 s).</summary>
    private static string Clip(TempDir dir) =>
        Clips.Make(dir, "gop25.mp4", "-c:v libx264 -preset ultrafast -bf 2 -x264-params keyint=25:min-keyint=25:scenecut=0 -pix_fmt yuv420p", seconds: 4);

    private static ulong LumaHash(FrameLease frame)
    {
        var view = frame.View;
        ulong h = 14695981039346656037UL;
        for (int y = 0; y < view.Height; y++)
            foreach (byte b in view.Plane0.Slice(y * view.Stride0, view.Width)) h = (h ^ b) * 1099511628211UL;
        return h;
    }

    private static Dictionary<long, ulong> FullDecode(string path)
    {
        using var source = VideoSource.Open(path, new SourceOptions { Hardware = HardwareDecode.None });
        var frames = new Dictionary<long, ulong>();
        Clips.DecodeAll(source, f => frames.Add(f.Index, LumaHash(f)));
        return frames;
    }

    [Fact]
    public void Start_lands_on_the_keyframe_at_or_before_it_with_the_full_decodes_pictures_and_indexes()
    {
        using var dir = new TempDir();
        string path = Clip(dir);
        var full = FullDecode(path);
        Assert.Equal(100, full.Count);
        using var source = VideoSource.Open(path, new SourceOptions { Hardware = HardwareDecode.None, StartSeconds = 1.5 });
        var seen = new List<long>();
        Clips.DecodeAll(source, f =>
        {
            Assert.True(full[f.Index] == LumaHash(f), $"frame {f.Index} after the seek differs from the full decode's");
            seen.Add(f.Index);
        });
        // The keyframe at or before 1.5 s is frame 25 (1.0 s): nothing before it, nothing missing after.
        Assert.Equal(Enumerable.Range(25, 75).Select(i => (long)i), seen);
    }

    /// <summary>The rewind went to INT64_MIN, which MP4's demuxer took to its last keyframe: the "next
    /// pass" of a looping MP4 replayed frames 75… as 100….</summary>
    [Fact]
    public void A_looping_mp4_restarts_at_its_first_frame_not_its_last_keyframe()
    {
        using var dir = new TempDir();
        string path = Clip(dir);
        var full = FullDecode(path);
        using var source = VideoSource.Open(path, new SourceOptions { Hardware = HardwareDecode.None, Loop = true });
        int checkedAfterLoop = 0;
        for (int k = 0; k < 160; k++)
        {
            Assert.Equal(ReadStatus.Frame, source.Read(out var frame));
            using (frame)
            {
                if (frame!.Index < 100) continue;
                ulong hash = LumaHash(frame);
                Assert.True(full[frame.Index % 100] == hash,
                    $"frame {frame.Index} is the full decode's frame {string.Join(',', full.Where(kv => kv.Value == hash).Select(kv => kv.Key))}, not {frame.Index % 100}");
                checkedAfterLoop++;
            }
        }
        Assert.Equal(60, checkedAfterLoop);
    }

    [Fact]
    public void Seek_with_skipping_and_looping_numbers_on_as_a_full_decode_does()
    {
        using var dir = new TempDir();
        string path = Clip(dir);
        var full = FullDecode(path);
        using var source = VideoSource.Open(path, new SourceOptions { Hardware = HardwareDecode.None, Loop = true });
        source.Seek(3.5); // the keyframe at or before 3.5 s is frame 75 (3.0 s)
        var wanted = WantedFrames.EveryNth(5, from: 50);
        long last = -1; // last delivered (skipped packets are reported as the decoder reads ahead, so they may run before it)
        var delivered = new List<long>();
        while (last < 130)
        {
            var status = source.Read(out var frame, wanted);
            if (status == ReadStatus.Skipped) { Assert.False(wanted.Contains(source.LastSkippedIndex)); Assert.True(source.LastSkippedIndex >= 75); continue; }
            Assert.Equal(ReadStatus.Frame, status);
            using (frame)
            {
                Assert.True(frame!.Index > last, $"frame {frame.Index} after {last}");
                last = frame.Index;
                // After the loop, frame 100 + k is the clip's frame k.
                Assert.True(full[frame.Index % 100] == LumaHash(frame), $"frame {frame.Index} differs from the full decode's frame {frame.Index % 100}");
                delivered.Add(frame.Index);
            }
        }
        Assert.Equal(75, delivered[0]);
        foreach (long i in Enumerable.Range(75, 56).Select(i => (long)i).Where(wanted.Contains)) Assert.Contains(i, delivered);
        Assert.Equal(1, source.Loops);
    }

    [Fact]
    public void A_negative_start_is_refused_naming_the_option()
    {
        var e = Assert.Throws<EphemeraException>(() => new SourceOptions { StartSeconds = -1 }.Validate());
        Assert.Contains("StartSeconds", e.Message);
    }
}
