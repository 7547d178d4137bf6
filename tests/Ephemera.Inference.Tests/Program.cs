using System.Runtime.Intrinsics;
using Ephemera.Inference.Models;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Preprocess;

namespace Ephemera.Inference.Tests;

/// <summary>
/// Entry point used only when a test re-runs this assembly as a child process (STYLE.md 6) with
/// <c>DOTNET_EnableAVX2=0</c> / <c>DOTNET_EnableHWIntrinsic=0</c>: it runs the kernels on the same
/// synthetic inputs the parent uses and writes the results for the parent to compare.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["preprocess", var format, var outFile])
        {
            var (pre, frame) = KernelInputs.Preprocess(format);
            var slot = new float[pre.SlotLength];
            pre.Run(RawFrames.View(frame, KernelInputs.W, KernelInputs.H, format), slot);
            File.WriteAllBytes(outFile, System.Runtime.InteropServices.MemoryMarshal.AsBytes(slot.AsSpan()).ToArray());
            Console.WriteLine($"vector256={Vector256.IsHardwareAccelerated}");
            return 0;
        }
        if (args is ["nms", var nmsOut])
        {
            var kept = KernelInputs.RunNms(new NonMaxSuppression());
            File.WriteAllText(nmsOut, string.Join(",", kept));
            Console.WriteLine($"vector256={Vector256.IsHardwareAccelerated}");
            return 0;
        }
        if (args is ["study", ..])
        {
            bool tilesOnly = args is [_, "tiles"];
            // Input-size / tiling study on ADL-Rundle-6 (every 5th frame): dotnet Ephemera.Inference.Tests.dll study
            foreach (var (size, tiles) in new[] { (416, false), (640, false), (832, false), (416, true) })
            {
                if (tilesOnly && !tiles) continue;
                var (r, p, ms) = GroundTruthTests.Evaluate(size, 0.3f, tiles: tiles);
                Console.WriteLine($"input {size}{(tiles ? " x 2 tiles" : "")}: recall {r:F3}, precision {p:F3}, {ms:F1} ms/frame");
            }
            return 0;
        }
        Console.Error.WriteLine("usage: preprocess FORMAT OUT | nms OUT | study");
        return 2;
    }
}

/// <summary>Deterministic kernel inputs shared by the in-process and child-process runs.</summary>
internal static class KernelInputs
{
    // Odd sizes: exercise vector tails, odd chroma and both letterbox pads.
    public const int W = 333, H = 251;
    public static readonly InputContract Contract = new("images", 96, 96, false, [10, 20, 30], [2, 3, 4], ResizeRule.Letterbox, 114, false);

    public static (FramePreprocessor, byte[]) Preprocess(string format)
    {
        var rng = new Random(42);
        int cw = (W + 1) / 2, ch = (H + 1) / 2;
        int len = format == "bgr24" ? 3 * W * H : W * H + 2 * cw * ch;
        var data = new byte[len];
        rng.NextBytes(data);
        // Smooth gradients over the noise so saturation and mid-tones both occur.
        for (int i = 0; i < W * H && format != "bgr24"; i++) data[i] = (byte)((data[i] / 4) + (i % W) * 191 / W);
        return (new FramePreprocessor(Contract, 96, 64), data);
    }

    public static int[] RunNms(NonMaxSuppression nms)
    {
        var c = Candidates(1000, 7);
        var kept = new int[1000];
        int n = nms.Run(c, 0.45f, classAware: true, kept);
        return kept[..n];
    }

    public static CandidateBoxes Candidates(int n, int seed)
    {
        var rng = new Random(seed);
        var c = new CandidateBoxes();
        for (int i = 0; i < n; i++)
        {
            float x = rng.NextSingle() * 400, y = rng.NextSingle() * 400, w = 10 + rng.NextSingle() * 60, h = 10 + rng.NextSingle() * 60;
            c.Add(x, y, x + w, y + h, rng.NextSingle(), rng.Next(3));
        }
        return c;
    }
}
