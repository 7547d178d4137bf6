using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Onnx;
using Ephemera.Inference.Runtime;
using Ephemera.TestSupport;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Ephemera.Inference.Tests;

public class ManifestTests
{
    [Fact]
    public void CatalogueHasTheFiveModelsWithTheirContracts()
    {
        var cat = TestModels.Catalog;
        Assert.Equal("yolox_nano_coco_416", cat.DefaultModel);
        Assert.Equal(["yolox_nano_coco_416", "lightweight_person_detector", "face_detection_yunet_2026may", "ultraface_version-RFB-320", "ch_PP-OCRv4_det_infer"],
            cat.Models.Select(m => m.Name));
        var y = cat.Get("yolox_nano_coco_416");
        Assert.Equal(("images", 416, 416, false, ResizeRule.Letterbox, 114f), (y.Input.Tensor, y.Input.Width, y.Input.Height, y.Input.Rgb, y.Input.Resize, y.Input.Pad));
        Assert.Equal(80, y.Classes.Length);
        Assert.Equal((DecoderKind.Yolox, 85), (y.Output.Decoder, y.Output.BatchReshapeChannels));
        var u = cat.Get("ultraface_version-RFB-320");
        Assert.Equal((true, 320, 240, ResizeRule.Stretch, 127f, 128f), (u.Input.Rgb, u.Input.Width, u.Input.Height, u.Input.Resize, u.Input.Mean[0], u.Input.Std[0]));
        Assert.Equal(6, cat.Get("lightweight_person_detector").Output.BatchReshapeChannels);
        // Count categories from the manifest: cars are vehicles; "airplane" (cars seen from above) only with evidence.
        var cc = y.CountCategories!;
        Assert.Equal((0, 3, 3, 2), (cc.CategoryOf(0), cc.CategoryOf(2), cc.CategoryOf(4), cc.CategoryOf(3)));
        Assert.Equal((false, true), (cc.NeedsEvidence(2), cc.NeedsEvidence(4)));
        Assert.Null(u.CountCategories); // a face detector counts nothing
        // Tracking profile: YOLOX-Nano's boxes jitter more than the tracker's defaults assume; others keep the defaults.
        Assert.Equal(new DetectorTrackingProfile(0.15, 0.003), y.Tracking);
        Assert.Null(u.Tracking);
        // sha256 values agree with the mirror's MODELS.md.
        var md = File.ReadAllText(Path.Combine(RepoPaths.ModelMirror, "MODELS.md"));
        foreach (var m in cat.Models) Assert.Contains(m.Sha256, md);
    }

    [Theory]
    [InlineData("models: []", "'models' is empty")]
    [InlineData("models:\n  - name: a\n    file: a.onnx\n    url: x\n    sha256: abc\n    licence: MIT", "sha256 'abc' is not 64 hex digits")]
    [InlineData("models: [", "invalid YAML")]
    [InlineData("models:\n  - name: a\n    file: a.onnx\n    url: x\n    sha256: 695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14\n    licence: MIT\n    input: { tensor: i, layout: NCHW, width: 32, height: 32, colour: BGR, mean: [0, 0, 0], std: [1, 1, 1], resize: letterbox }\n    output: { decoder: yolox }\n    classes: coco80\n    tracking: { measurement_noise: 0 }", "tracking.measurement_noise must be in (0, 10)")]
    [InlineData("models:\n  - name: a\n    file: a.onnx\n    url: x\n    sha256: 695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14\n    licence: MIT\n    input: { tensor: i, layout: NCHW, width: 32, height: 32, colour: BGR, mean: [0, 0, 0], std: [1, 1, 1], resize: letterbox }\n    output: { decoder: yolox }\n    classes: coco80\n    count_categories: { vehicle: [car, tram] }", "'tram' is not one of the model's classes")]
    public void BadManifestNamesTheCause(string yaml, string expected)
    {
        var e = Assert.Throws<EphemeraException>(() => ModelCatalog.Parse(yaml, "test.yaml"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("test.yaml", e.Message);
    }

    [Fact]
    public void UnknownModelListsTheCatalogue()
    {
        var e = Assert.Throws<EphemeraException>(() => TestModels.Catalog.Get("nope"));
        Assert.Contains("yolox_nano_coco_416", e.Message);
    }
}

public class FetchTests
{
    [Fact]
    public void FetchCopiesFromTheMirrorChecksTheHashAndDerivesTheBatchGraph()
    {
        using var dest = new TempDir();
        var fetcher = new ModelFetcher(RepoPaths.ModelMirror, dest.Path);
        var entry = TestModels.Catalog.Get("lightweight_person_detector");
        var files = fetcher.Fetch(entry);
        Assert.Equal(entry.Sha256, ModelFetcher.Sha256Of(files.OriginalPath));
        Assert.NotNull(files.BatchVariantPath);
        // A tampered local copy is replaced by a good one on the next fetch.
        File.WriteAllBytes(files.OriginalPath, [1, 2, 3]);
        fetcher.Fetch(entry);
        Assert.Equal(entry.Sha256, ModelFetcher.Sha256Of(files.OriginalPath));
    }

    [Fact]
    public void WrongHashStopsNamingModelExpectedAndActual()
    {
        using var mirror = new TempDir();
        using var dest = new TempDir();
        File.WriteAllText(mirror.File("m.onnx"), "not the model");
        var entry = TestModels.Catalog.Get("yolox_nano_coco_416") with { File = "m.onnx" };
        var e = Assert.Throws<EphemeraException>(() => new ModelFetcher(mirror.Path, dest.Path).Fetch(entry));
        Assert.Contains("yolox_nano_coco_416", e.Message);
        Assert.Contains("expected " + entry.Sha256, e.Message);
        Assert.Contains("actual " + ModelFetcher.Sha256Of(mirror.File("m.onnx")), e.Message);
        Assert.False(File.Exists(Path.Combine(dest.Path, "m.onnx")));
    }

    [Fact]
    public void MissingFileWithUnreachableUrlNamesTheModel()
    {
        using var mirror = new TempDir();
        using var dest = new TempDir();
        var entry = TestModels.Catalog.Get("yolox_nano_coco_416") with { Url = "http://127.0.0.1:9/yolox.onnx" };
        var e = Assert.Throws<EphemeraException>(() => new ModelFetcher(mirror.Path, dest.Path).Fetch(entry));
        Assert.Contains("model yolox_nano_coco_416", e.Message);
        Assert.Contains("127.0.0.1:9", e.Message);
    }
}

public class OnnxEditorTests
{
    [Fact]
    public void UntouchedModelRoundTripsByteForByte()
    {
        var bytes = File.ReadAllBytes(TestModels.Fetch("yolox_nano_coco_416").OriginalPath);
        Assert.Equal(bytes, ProtoMessage.Parse(bytes).ToArray());
    }

    [Theory]
    [InlineData("yolox_nano_coco_416", 85, 416)]
    [InlineData("lightweight_person_detector", 6, 192)]
    public void BatchVariantHasSymbolicBatchAndRewrittenReshapes(string name, int channels, int size)
    {
        var files = TestModels.Fetch(name);
        var original = File.ReadAllBytes(files.OriginalPath);
        var (inputs, outputs) = OnnxModelEditor.ReadSignature(original, name);
        Assert.Equal([1, 3, size, size], inputs[0].Dims.Select(d => d!.Value));
        Assert.Equal(0, OnnxModelEditor.CountDynamicReshapes(original, channels));

        var edited = File.ReadAllBytes(files.BatchVariantPath!);
        var (ein, eout) = OnnxModelEditor.ReadSignature(edited, name);
        Assert.Equal([null, 3, null, null], ein[0].Dims);
        Assert.Null(eout[0].Dims[0]);
        Assert.Equal(channels, eout[0].Dims[2]);
        Assert.Equal(3, OnnxModelEditor.CountDynamicReshapes(edited, channels)); // one per stride
    }

    [Fact]
    public void BatchOfNEqualsNRunsOfBatchOne()
    {
        var files = TestModels.Fetch("yolox_nano_coco_416");
        const int n = 3, s = 416, per = 3 * s * s;
        var rng = new Random(5);
        var input = new float[n * per];
        for (int i = 0; i < input.Length; i++) input[i] = rng.Next(256);
        using var so = new SessionOptions { IntraOpNumThreads = 2 };
        using var single = new InferenceSession(files.OriginalPath, so);
        using var batched = new InferenceSession(files.BatchVariantPath!, so);

        using var bIn = OrtValue.CreateTensorValueFromMemory(input, [n, 3, s, s]);
        using var bOut = batched.Run(new RunOptions(), ["images"], [bIn], ["output"]);
        var batchedOut = bOut[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal([n, 3549, 85], bOut[0].GetTensorTypeAndShape().Shape);
        for (int k = 0; k < n; k++)
        {
            using var one = OrtValue.CreateTensorValueFromMemory(input.AsSpan(k * per, per).ToArray(), [1, 3, s, s]);
            using var o = single.Run(new RunOptions(), ["images"], [one], ["output"]);
            var expected = o[0].GetTensorDataAsSpan<float>();
            var got = batchedOut.AsSpan(k * expected.Length, expected.Length);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-4f * Math.Max(1, Math.Abs(expected[i])), $"image {k} value {i}: {expected[i]} vs {got[i]}");
        }
    }

    [Fact]
    public void LargerInputRunsOnTheResizableVariant()
    {
        using var so = new SessionOptions { IntraOpNumThreads = 2 };
        using var batched = new InferenceSession(TestModels.Fetch("yolox_nano_coco_416").BatchVariantPath!, so);
        using var v = OrtValue.CreateTensorValueFromMemory(new float[2 * 3 * 640 * 640], [2, 3, 640, 640]);
        using var o = batched.Run(new RunOptions(), ["images"], [v], ["output"]);
        Assert.Equal([2, 80 * 80 + 40 * 40 + 20 * 20, 85], o[0].GetTensorTypeAndShape().Shape);
    }
}

public class BadModelTests
{
    [Fact]
    public void CorruptOnnxFileIsAClearError()
    {
        using var dir = new TempDir();
        var entry = TestModels.Catalog.Get("yolox_nano_coco_416");
        var good = File.ReadAllBytes(TestModels.Fetch(entry.Name).OriginalPath);
        string path = dir.File("corrupt.onnx");
        File.WriteAllBytes(path, good.AsSpan(0, good.Length / 3).ToArray()); // truncated
        var e = Assert.Throws<EphemeraException>(() => ModelSession.Open(new ModelFiles(entry, path, null), new InferenceOptions()));
        Assert.Contains("yolox_nano_coco_416", e.Message);
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public void ShapesThatContradictTheManifestAreAClearError()
    {
        var entry = TestModels.Catalog.Get("yolox_nano_coco_416") with { };
        var wrongSize = entry with { Input = entry.Input with { Width = 320, Height = 320 } };
        var e = Assert.Throws<EphemeraException>(() => ModelSession.Open(TestModels.Fetch(entry.Name) with { Entry = wrongSize }, new InferenceOptions()));
        Assert.Contains("320x320", e.Message);
        Assert.Contains("images[1,3,416,416]", e.Message);

        var wrongClasses = entry with { Classes = ["person"] };
        var e2 = Assert.Throws<EphemeraException>(() => ModelSession.Open(TestModels.Fetch(entry.Name) with { Entry = wrongClasses }, new InferenceOptions()));
        Assert.Contains("[N,anchors,6]", e2.Message);

        var wrongInput = entry with { Input = entry.Input with { Tensor = "x" } };
        var e3 = Assert.Throws<EphemeraException>(() => ModelSession.Open(TestModels.Fetch(entry.Name) with { Entry = wrongInput }, new InferenceOptions()));
        Assert.Contains("input 'x'", e3.Message);
    }

    [Fact]
    public void MissingProviderListsTheAvailableOnes()
    {
        var e = Assert.Throws<EphemeraException>(() => ModelSession.Open(TestModels.Fetch("yolox_nano_coco_416"), new InferenceOptions("openvino")));
        Assert.Contains("CPUExecutionProvider", e.Message);
        Assert.Contains("openvino", e.Message);
        Assert.Throws<EphemeraException>(() => new InferenceOptions("tpu"));
    }
}
