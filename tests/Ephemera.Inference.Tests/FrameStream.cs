using System.Diagnostics;
using Ephemera.Core;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // 2 shared cores; ledger deltas must be exact

namespace Ephemera.Inference.Tests;

/// <summary>Streams selected frames of a video as raw yuv420p from Debian's ffmpeg (stdout pipe).</summary>
internal static class FrameStream
{
    /// <summary>Calls <paramref name="onFrame"/>(decode index, view) for every frame with index % every == 0.</summary>
    public static int ForEach(string video, int width, int height, int every, int maxFrames, Action<int, FrameView> onFrame)
    {
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-v", "error", "-i", video, "-vf", $"select='not(mod(n\\,{every}))'", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        int cw = (width + 1) / 2, ch = (height + 1) / 2, bytes = width * height + 2 * cw * ch;
        var buf = new byte[bytes];
        var stdout = p.StandardOutput.BaseStream;
        int k = 0;
        for (; k < maxFrames; k++)
        {
            int got = 0;
            while (got < bytes) { int r = stdout.Read(buf, got, bytes - got); if (r == 0) break; got += r; }
            if (got < bytes) break;
            onFrame(k * every, RawFrames.View(buf, width, height, "yuv420p"));
        }
        try { p.Kill(); } catch (InvalidOperationException) { }
        p.WaitForExit();
        Array.Clear(buf); // pixels: wipe our copy too
        return k;
    }
}
