using System.Globalization;
using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.TestSupport;

namespace Ephemera.Inference.Tests;

/// <summary>Fetches catalogue models once per test run (into var/models, from the shared mirror).</summary>
internal static class TestModels
{
    private static readonly object s_lock = new();
    private static readonly Dictionary<string, ModelFiles> s_files = new();

    public static ModelCatalog Catalog { get; } = ModelCatalog.Load();

    public static ModelFiles Fetch(string name)
    {
        lock (s_lock)
        {
            if (!s_files.TryGetValue(name, out var f)) s_files[name] = f = new ModelFetcher().Fetch(Catalog.Get(name));
            return f;
        }
    }
}

/// <summary>Raw 8-bit frames decoded by Debian's ffmpeg (an independent decode path).</summary>
internal sealed class RawFrames
{
    public int Width { get; }
    public int Height { get; }
    public int[] Indices { get; }
    public byte[][] Data { get; }
    public string PixFmt { get; }

    private RawFrames(int w, int h, int[] idx, byte[][] data, string fmt) { Width = w; Height = h; Indices = idx; Data = data; PixFmt = fmt; }

    /// <summary>Frames <paramref name="indices"/> (0-based decode order) of <paramref name="video"/> as yuv420p, nv12 or bgr24.</summary>
    public static RawFrames Extract(string video, int[] indices, string pixFmt = "yuv420p")
    {
        var probe = ChildProcess.Run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", video]);
        Assert.True(probe.ExitCode == 0, probe.StdErr);
        var wh = probe.StdOut.Trim().Split(',');
        int w = int.Parse(wh[0], CultureInfo.InvariantCulture), h = int.Parse(wh[1], CultureInfo.InvariantCulture);
        using var tmp = new TempDir();
        string outFile = tmp.File("frames.raw");
        string select = "select='" + string.Join("+", indices.Select(i => $"eq(n\\,{i})")) + "'";
        var r = ChildProcess.Run("ffmpeg", ["-v", "error", "-i", video, "-vf", select, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", pixFmt, outFile]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        int frameBytes = pixFmt == "bgr24" ? w * h * 3 : w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2);
        var all = File.ReadAllBytes(outFile);
        Assert.Equal(frameBytes * indices.Length, all.Length);
        var data = indices.Select((_, k) => all.AsSpan(k * frameBytes, frameBytes).ToArray()).ToArray();
        return new RawFrames(w, h, indices, data, pixFmt);
    }

    public FrameView View(int k, bool fullRange = false) => View(Data[k], Width, Height, PixFmt, fullRange);

    public static FrameView View(byte[] d, int w, int h, string pixFmt, bool fullRange = false)
    {
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        return pixFmt switch
        {
            "yuv420p" => new FrameView(w, h, PixelFormat.Yuv420P, d.AsSpan(0, w * h), w, d.AsSpan(w * h, cw * ch), cw, d.AsSpan(w * h + cw * ch, cw * ch), cw, fullRange),
            "nv12" => new FrameView(w, h, PixelFormat.Nv12, d.AsSpan(0, w * h), w, d.AsSpan(w * h, 2 * cw * ch), 2 * cw, fullRange: fullRange),
            "bgr24" => new FrameView(w, h, PixelFormat.Bgr24, d, 3 * w),
            _ => throw new ArgumentException(pixFmt),
        };
    }
}
