using System.Globalization;
using System.Text.Json;
using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Onnx;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Runtime;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Inference.Tests;

/// <summary>
/// The project's converted AgeGenderNet in ONNX Runtime against the reference implementation:
/// <c>@vladmandic/face-api</c> 1.7.15 on <c>@tensorflow/tfjs</c> 4.22.0's pure-JS CPU backend, run by
/// the machine's Node.js from <c>tests/tools/face-api-reference</c> (npm ci from the committed lock file).
/// Crops: faces YuNet finds in the shared images and in ADL-Rundle-6 frames, cut square and resized
/// to 112×112 here; both sides get the same bytes, so the comparison is of the networks only.
/// </summary>
public class AgeGenderParityTests(ITestOutputHelper output)
{
    private static readonly InferenceOptions Cpu = new(intraOpThreads: 2, parallelRuns: 1);

    [Fact]
    public void ConvertedGraphMatchesTheFaceApiReferenceOnFaceCrops()
    {
        // 56 crops: above the 50 the issue asks for; the pure-JS reference takes ~0.4 s a crop on this machine.
        var crops = FaceCrops.Collect(minimum: 56).Take(56).ToList();
        Assert.True(crops.Count >= 50, $"only {crops.Count} face crops found in the shared images and footage");
        var entry = TestModels.Catalog.GetConverted(AgeGenderModel.CatalogName);
        var fetcher = new ModelFetcher();
        string graph = fetcher.FetchConverted(entry);
        Assert.Equal(entry.Sha256, ModelFetcher.Sha256Of(graph));

        using var tmp = new TempDir();
        string cropsFile = tmp.File("crops.raw");
        using (var f = File.Create(cropsFile)) foreach (var c in crops) f.Write(c);
        var reference = RunReference(Path.Combine(fetcher.ModelsDirectory, "face-api"), cropsFile);
        Assert.Equal(crops.Count, reference.Age.Length);

        using var model = new AgeGenderModel(graph, Cpu);
        double maxAge = 0, sumAge = 0, maxMale = 0, sumMale = 0;
        for (int i = 0; i < crops.Count; i++)
        {
            var e = model.Estimate(crops[i]);
            double da = Math.Abs(e.Age - reference.Age[i]), dm = Math.Abs(e.MaleProbability - reference.Male[i]);
            maxAge = Math.Max(maxAge, da); sumAge += da; maxMale = Math.Max(maxMale, dm); sumMale += dm;
            Assert.True(da <= 0.5, $"crop {i}: age {e.Age:F3} (ONNX) vs {reference.Age[i]:F3} (face-api)");
            Assert.True(dm <= 0.01, $"crop {i}: P(male) {e.MaleProbability:F4} (ONNX) vs {reference.Male[i]:F4} (face-api)");
        }
        // The crops are real faces, so the network must say different things about them (a constant output would match nothing).
        Assert.True(reference.Age.Max() - reference.Age.Min() > 10, "reference ages barely vary: the crops are not faces");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"parity on {crops.Count} crops: age |diff| max {maxAge:G3} mean {sumAge / crops.Count:G3} years; P(male) |diff| max {maxMale:G3} mean {sumMale / crops.Count:G3}"));
    }

    [Fact]
    public void ConverterRefusesWeightsOfAnotherNetworkNamingTheWeight()
    {
        using var tmp = new TempDir();
        var fetcher = new ModelFetcher();
        fetcher.FetchConverted(TestModels.Catalog.GetConverted(AgeGenderModel.CatalogName)); // puts the sources in place
        var src = Path.Combine(fetcher.ModelsDirectory, "face-api");
        string manifest = File.ReadAllText(Path.Combine(src, "age_gender_model-weights_manifest.json")).Replace("fc/gender/bias", "fc/sex/bias");
        File.WriteAllText(tmp.File("m.json"), manifest);
        File.Copy(Path.Combine(src, "age_gender_model.bin"), tmp.File("age_gender_model.bin"));
        var e = Assert.Throws<EphemeraException>(() => AgeGenderNetConverter.Convert(tmp.File("m.json")));
        Assert.Contains("fc/gender/bias is missing", e.Message);

        File.WriteAllBytes(tmp.File("age_gender_model.bin"), new byte[100]);
        File.WriteAllText(tmp.File("m.json"), manifest.Replace("fc/sex/bias", "fc/gender/bias"));
        e = Assert.Throws<EphemeraException>(() => AgeGenderNetConverter.Convert(tmp.File("m.json")));
        Assert.Contains("the shards end inside weight", e.Message);
    }

    [Fact]
    public void ConversionIsDeterministicAndAConvertedGraphWithFlippedBytesIsConvertedAgain()
    {
        using var dir = new TempDir();
        var entry = TestModels.Catalog.GetConverted(AgeGenderModel.CatalogName);
        var fetcher = new ModelFetcher(modelsDir: dir.Path);
        string path = fetcher.FetchConverted(entry);
        Assert.Equal(entry.Sha256, ModelFetcher.Sha256Of(path));
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        Assert.Equal(entry.Sha256, ModelFetcher.Sha256Of(fetcher.FetchConverted(entry)));
    }

    private sealed record Reference(double[] Age, double[] Male);

    private Reference RunReference(string modelDir, string cropsFile)
    {
        string tool = Path.Combine(RepoPaths.Root, "tests", "tools", "face-api-reference");
        if (!File.Exists(Path.Combine(tool, "node_modules", "@vladmandic", "face-api", "package.json")))
        {
            var install = ChildProcess.Run("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], TimeSpan.FromMinutes(8), workingDirectory: tool);
            Assert.True(install.ExitCode == 0, "npm ci failed: " + install.StdErr);
        }
        var r = ChildProcess.Run("node", ["age-gender.js", modelDir, cropsFile], TimeSpan.FromMinutes(5), workingDirectory: tool);
        Assert.True(r.ExitCode == 0, "reference run failed: " + r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        Assert.Equal("cpu", doc.RootElement.GetProperty("backend").GetString());
        output.WriteLine($"reference: face-api on tfjs {doc.RootElement.GetProperty("tfjs").GetString()}, backend cpu");
        return new Reference(doc.RootElement.GetProperty("age").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
            doc.RootElement.GetProperty("male").EnumerateArray().Select(x => x.GetDouble()).ToArray());
    }
}

/// <summary>Face crops (112×112 RGB, HWC bytes) from the shared images and ADL-Rundle-6, found by YuNet.</summary>
internal static class FaceCrops
{
    public static List<byte[]> Collect(int minimum)
    {
        var crops = new List<byte[]>();
        using var yunet = ObjectDetector.Open(new DetectorOptions
        {
            Model = "face_detection_yunet_2026may", Inference = new InferenceOptions(intraOpThreads: 2, parallelRuns: 1), MaxBatch = 1,
            Decode = new DecodeOptions(0.6f, 0.3f, 200),
        });
        var sources = new List<(string Path, int[] Frames)>
        {
            (TestPaths.Image("ultraface_imgs_1.jpg"), [0]), (TestPaths.Image("ultraface_imgs_17.jpg"), [0]), (TestPaths.Image("messi5.jpg"), [0]),
            (TestPaths.Mot15("ADL-Rundle-6/video.mp4"), [0, 40, 80, 120]), (TestPaths.Image("selfie.jpg"), [0]),
        };
        var d = new Detections();
        foreach (var (path, frames) in sources)
        {
            var raw = RawFrames.Extract(path, frames, "bgr24");
            for (int k = 0; k < frames.Length; k++)
            {
                yunet.Detect(raw.View(k), d);
                // Largest faces first; at most 20 per picture so no single picture dominates.
                var boxes = d.Boxes.ToArray().Where(b => b.W >= 12).OrderByDescending(b => b.Area).Take(20);
                foreach (var b in boxes) crops.Add(Crop(raw.Data[k], raw.Width, raw.Height, b));
            }
            if (crops.Count >= minimum) break;
        }
        return crops;
    }

    /// <summary>A square around the face (1.25 × its larger side), bilinear to 112×112, BGR → RGB; outside the picture is black.</summary>
    public static byte[] Crop(byte[] bgr, int w, int h, BoxF b)
    {
        const int n = AgeGenderModel.Size;
        float side = 1.25f * Math.Max(b.W, b.H), x0 = b.CenterX - side / 2, y0 = b.CenterY - side / 2, s = side / n;
        var dst = new byte[n * n * 3];
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                float sx = x0 + (x + 0.5f) * s - 0.5f, sy = y0 + (y + 0.5f) * s - 0.5f;
                int ix = (int)MathF.Floor(sx), iy = (int)MathF.Floor(sy);
                float fx = sx - ix, fy = sy - iy;
                for (int c = 0; c < 3; c++)
                {
                    float P(int xx, int yy) => xx < 0 || yy < 0 || xx >= w || yy >= h ? 0 : bgr[(yy * w + xx) * 3 + c];
                    float v = (1 - fy) * ((1 - fx) * P(ix, iy) + fx * P(ix + 1, iy)) + fy * ((1 - fx) * P(ix, iy + 1) + fx * P(ix + 1, iy + 1));
                    dst[(y * n + x) * 3 + (2 - c)] = (byte)Math.Clamp(MathF.Round(v), 0, 255);
                }
            }
        return dst;
    }
}
