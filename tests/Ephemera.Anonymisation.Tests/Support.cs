using System.Globalization;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Inference;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Runtime;
using Ephemera.TestSupport;
using Xunit.Abstractions;

// The ledger test reads process-wide counters: nothing else may allocate pixels meanwhile.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Ephemera.Anonymisation.Tests;

/// <summary>Shared test inputs: the case-4 manifest, decoded images, and YOLOX context detections.</summary>
internal static class Inputs
{
    /// <summary>
    /// The pixel ledger since <paramref name="before"/>, after finalisers ran: every buffer allocated
    /// was wiped, and none is left in use.
    /// </summary>
    public static void AssertLedgerBalanced(LedgerSnapshot before, ITestOutputHelper? log = null)
    {
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        var after = PixelLedger.Snapshot();
        log?.WriteLine($"ledger: allocated +{after.Allocated - before.Allocated}, wiped +{after.Wiped - before.Wiped}, in use {before.InUse} → {after.InUse}");
        Assert.Equal(after.Allocated - before.Allocated, after.Wiped - before.Wiped);
        Assert.Equal(before.InUse, after.InUse);
    }

    public static readonly InferenceOptions Cpu = new(intraOpThreads: 2, parallelRuns: 1);
    public static string ManifestPath => Path.Combine(RepoPaths.Root, "configs", "manifests", "case4-vehicle-streetscape.yaml");
    /// <summary>The case-4 manifest without its <c>anonymise:</c> section: the tests state the rules they exercise themselves.</summary>
    public static string Case4YamlWithoutSection
    {
        get
        {
            var lines = File.ReadAllLines(ManifestPath).ToList();
            int at = lines.FindIndex(l => l.StartsWith("anonymise:", StringComparison.Ordinal));
            if (at >= 0)
            {
                int end = lines.FindIndex(at + 1, l => l.Length > 0 && !char.IsWhiteSpace(l[0]));
                lines.RemoveRange(at, (end < 0 ? lines.Count : end) - at);
            }
            return string.Join('\n', lines) + "\n";
        }
    }

    public static CameraManifest Case4 => ManifestLoader.Parse(Case4YamlWithoutSection, "case4-vehicle-streetscape.yaml");

    /// <summary>Opens an image with the engine's own decoder (FFmpeg); the caller disposes source and lease.</summary>
    public static (VideoSource Source, FrameLease Frame) Decode(string path)
    {
        var src = VideoSource.Open(path, new SourceOptions { Hardware = HardwareDecode.None, PoolBuffers = 4, DecoderThreads = 1 });
        var st = src.Read(out var lease);
        Assert.Equal(ReadStatus.Frame, st);
        Assert.NotNull(lease);
        Assert.Equal(PixelFormat.Yuv420P, lease!.Format);
        return (src, lease);
    }

    public static string Image(string name) => TestPaths.Image(name);

    private static ObjectDetector? s_yolox;
    /// <summary>YOLOX nano (the engine's default detector) on a frame, as the camera pipeline would hand it over.</summary>
    public static Detections Yolox(in FrameView f)
    {
        s_yolox ??= ObjectDetector.Open(new DetectorOptions { Inference = Cpu, Decode = new DecodeOptions(0.25f, 0.45f, 300) });
        var d = new Detections();
        s_yolox.Detect(f, d);
        return d;
    }

    /// <summary>
    /// The independent face reference: YuNet alone, whole frame at (about) native resolution, one pass,
    /// at score ≥ 0.6 — a different input geometry from the anonymiser's tiles.
    /// </summary>
    public static List<BoxF> ReferenceFaces(in FrameView f, float score = 0.6f)
    {
        int w = (f.Width + 31) / 32 * 32, h = (f.Height + 31) / 32 * 32;
        using var yunet = ObjectDetector.Open(new DetectorOptions { Model = "face_detection_yunet_2026may", Inference = Cpu, InputWidth = w, InputHeight = h, MaxBatch = 1, Decode = new DecodeOptions(score, 0.3f, 2000) });
        var d = new Detections();
        yunet.Detect(f, d);
        return d.Boxes.ToArray().ToList();
    }

    /// <summary>Fraction of <paramref name="b"/> inside the union of the mask rectangles (see <see cref="Ephemera.Anonymisation.MaskCoverage"/>).</summary>
    public static double Covered(BoxF b, IReadOnlyList<(int X0, int Y0, int X1, int Y1)> rects, int w, int h) => Ephemera.Anonymisation.MaskCoverage.Fraction(b, rects, w, h);

    /// <summary>Width and height of an image file as ffprobe reads it.</summary>
    public static (int W, int H) Probe(string path)
    {
        var r = ChildProcess.Run("ffprobe", ["-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", path]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        var wh = r.StdOut.Trim().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        return (wh[0], wh[1]);
    }
}

/// <summary>One frame of a video as raw YUV420P bytes (Debian's ffmpeg), optionally scaled.</summary>
internal sealed class RawFrame
{
    public byte[] Data { get; }
    public int W { get; }
    public int H { get; }
    private RawFrame(byte[] d, int w, int h) { Data = d; W = w; H = h; }

    public static RawFrame Extract(string video, int index, int width = 0, int height = 0)
    {
        var (w, h) = width > 0 ? (width, height) : Inputs.Probe(video);
        using var tmp = new TempDir();
        string vf = $"select='eq(n\\,{index})'" + (width > 0 ? $",scale={width}:{height}" : "");
        var r = ChildProcess.Run("ffmpeg", ["-v", "error", "-i", video, "-vf", vf, "-frames:v", "1", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", tmp.File("f.yuv")]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        var d = File.ReadAllBytes(tmp.File("f.yuv"));
        Assert.Equal(w * h * 3 / 2, d.Length);
        return new RawFrame(d, w, h);
    }

    public FrameView View => new(W, H, PixelFormat.Yuv420P, Data.AsSpan(0, W * H), W, Data.AsSpan(W * H, W * H / 4), W / 2, Data.AsSpan(W * H * 5 / 4, W * H / 4), W / 2);
}
