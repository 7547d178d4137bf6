using Ephemera.TestSupport;

namespace Ephemera.Decode.Tests;

/// <summary>Small clips made at test time with Debian's ffmpeg (nothing committed).</summary>
public static class Clips
{
    /// <summary>Encodes <paramref name="seconds"/> of lavfi <paramref name="source"/> at 320×240, 25 fps.</summary>
    public static string Make(TempDir dir, string name, string codecArgs, double seconds = 2, string source = "testsrc")
    {
        string path = dir.File(name);
        var args = new List<string> { "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", $"{source}{(source.Contains('=') ? ':' : '=')}duration={seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}:size=320x240:rate=25" };
        args.AddRange(codecArgs.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        args.Add(path);
        var r = ChildProcess.Run("ffmpeg", args, TimeSpan.FromMinutes(1));
        Assert.True(r.ExitCode == 0, $"ffmpeg failed making {name}: {r.StdErr}");
        return path;
    }

    /// <summary>Reads every frame to the end, checking each, and returns how many there were.</summary>
    public static int DecodeAll(VideoSource source, Action<FrameLease>? check = null, int limit = 100_000)
    {
        int n = 0;
        for (int guard = 0; guard < limit; guard++)
        {
            var status = source.Read(out var frame);
            if (status == ReadStatus.EndOfStream) return n;
            Assert.Equal(ReadStatus.Frame, status);
            Assert.NotNull(frame);
            using (frame)
            {
                check?.Invoke(frame);
                n++;
            }
        }
        throw new Xunit.Sdk.XunitException($"{source.Uri}: no end of stream after {limit} reads");
    }
}
