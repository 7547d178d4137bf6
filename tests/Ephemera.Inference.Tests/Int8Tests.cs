using System.Security.Cryptography;
using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Onnx;
using Ephemera.Inference.Runtime;
using Ephemera.TestSupport;
using Xunit.Abstractions;

namespace Ephemera.Inference.Tests;

/// <summary>The project's int8 QDQ graph of YOLOX-Nano: accuracy parity with fp32, determinism, and refusal of a wrong graph.</summary>
public class Int8Tests(ITestOutputHelper log)
{
    [Fact]
    public void Int8FindsThePeopleFp32FindsOnAdlRundle6()
    {
        // Every 5th frame, the engine's 1080p input (416×256), the same score threshold: recall and
        // precision at IoU 0.5 against the MOT15 ground truth within 0.01 of fp32.
        var fp32 = GroundTruthTests.Evaluate(416, 0.3f, every: 5, inputHeight: 256, precision: DetectorPrecision.Fp32);
        var int8 = GroundTruthTests.Evaluate(416, 0.3f, every: 5, inputHeight: 256, precision: DetectorPrecision.Int8);
        log.WriteLine($"ADL-Rundle-6 every 5th frame, 416x256, score>0.3: fp32 recall {fp32.Recall:F4} precision {fp32.Precision:F4} {fp32.MsPerFrame:F1} ms; " +
                      $"int8 recall {int8.Recall:F4} precision {int8.Precision:F4} {int8.MsPerFrame:F1} ms");
        Assert.InRange(int8.Recall, fp32.Recall - 0.01, fp32.Recall + 0.01);
        Assert.InRange(int8.Precision, fp32.Precision - 0.01, fp32.Precision + 0.01);
    }

    [Fact]
    public void TheQuantisedGraphIsTheSameBytesEveryTimeAndMatchesTheManifest()
    {
        var entry = ModelCatalog.Load().Get("yolox_nano_coco_416");
        var files = TestModels.Fetch(entry.Name);
        byte[] dyn = File.ReadAllBytes(files.BatchVariantPath!);
        string a = Convert.ToHexStringLower(SHA256.HashData(ModelFetcher.DeriveInt8(entry, dyn)));
        string b = Convert.ToHexStringLower(SHA256.HashData(ModelFetcher.DeriveInt8(entry, dyn)));
        Assert.Equal(a, b);
        Assert.Equal(entry.Int8!.Sha256, a);
        Assert.Equal(entry.Int8.Sha256, ModelFetcher.Sha256Of(files.Int8Path!));
    }

    [Fact]
    public void ACorruptOrWronglyCalibratedInt8GraphIsRefusedOrDerivedAgain()
    {
        using var dir = new TempDir();
        var entry = ModelCatalog.Load().Get("yolox_nano_coco_416");
        var fetcher = new ModelFetcher(modelsDir: dir.Path);
        var files = fetcher.Fetch(entry);

        // Flipped bytes in the derived file: the next load notices (sha256) and quantises again.
        var bytes = File.ReadAllBytes(files.Int8Path!);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(files.Int8Path!, bytes);
        Assert.Equal(entry.Int8!.Sha256, ModelFetcher.Sha256Of(fetcher.Fetch(entry).Int8Path!));

        // A manifest whose hash is not what the quantiser derives (another table, other options, a
        // changed quantiser): the graph is refused, naming both hashes, and nothing is written.
        File.Delete(files.Int8Path!);
        string other = new('0', 64);
        var e = Assert.Throws<EphemeraException>(() => fetcher.Fetch(entry with { Int8 = entry.Int8 with { Sha256 = other } }));
        Assert.Contains($"int8 graph has sha256 {entry.Int8.Sha256}, the models manifest expects {other}", e.Message);
        Assert.False(File.Exists(files.Int8Path!));

        // A calibration table that lacks a tensor the graph needs is a clear error, not a broken graph.
        var table = new CalibrationTable();
        table.Ranges["images"] = new ActivationRange(0, 255);
        var e2 = Assert.Throws<EphemeraException>(() => QdqQuantizer.Quantize(File.ReadAllBytes(files.BatchVariantPath!), table, new QdqOptions(), "test graph"));
        Assert.Contains("no range for tensor", e2.Message);
        Assert.Throws<EphemeraException>(() => CalibrationTable.Parse("x\t1\t0\n", "bad table")); // min > max
        Assert.Throws<EphemeraException>(() => QdqQuantizer.Quantize([1, 2, 3, 4], table, new QdqOptions(), "garbage"));
    }

    [Fact]
    public void AutoMeasuresBothAndRecordsTheDecision()
    {
        using var detector = ObjectDetector.Open(new DetectorOptions
        {
            Inference = new InferenceOptions(parallelRuns: 1), InputWidth = 416, InputHeight = 256, Precision = DetectorPrecision.Auto,
        });
        var d = detector.Precision;
        log.WriteLine($"auto: {d.Chosen} ({d.Reason}); fp32 {d.Fp32MsPerImage:F1} ms, int8 {d.Int8MsPerImage:F1} ms per image; cpu flags: {d.CpuFlags}");
        Assert.NotNull(d.Fp32MsPerImage);
        Assert.NotNull(d.Int8MsPerImage);
        bool int8Pays = d.Fp32MsPerImage >= d.Int8MsPerImage * PrecisionProbe.Margin;
        Assert.Equal(int8Pays ? DetectorPrecision.Int8 : DetectorPrecision.Fp32, d.Chosen);
        Assert.Equal(d.Chosen, detector.Session.Precision);
    }
}
