using Ephemera.Core;
using Ephemera.Inference;
using Ephemera.Inference.Runtime;
using Xunit.Abstractions;

namespace Ephemera.Vulkan.Tests;

/// <summary>The engine's wiring: a detector given the Vulkan kernels preprocesses on the GPU and finds what the SIMD detector finds.</summary>
public sealed class DetectorKernelsTests(ITestOutputHelper output)
{
    [VulkanFact]
    public void ADetectorWithVulkanKernelsFindsTheSameObjectsAsSimd()
    {
        using var kernels = VulkanKernels.Open();
        var inference = new InferenceOptions("cpu", intraOpThreads: 1, parallelRuns: 1);
        using var simd = ObjectDetector.Open(new DetectorOptions { Inference = inference, MaxBatch = 1, InputWidth = 416, InputHeight = 320 });
        using var gpu = ObjectDetector.Open(new DetectorOptions { Inference = inference, MaxBatch = 1, InputWidth = 416, InputHeight = 320, Kernels = kernels });
        using (var p = gpu.CreateKernelPreprocessor()) Assert.IsType<VulkanPreprocessor>(p);
        var a = new Detections(); var b = new Detections();
        int boxes = 0;
        Inputs.ForFrames(Inputs.Vtest, count: 3, every: 30, lease =>
        {
            simd.Detect(lease.View, a);
            gpu.Detect(lease.View, b);
            Assert.Equal(a.Count, b.Count);
            for (int i = 0; i < a.Count; i++)
            {
                Assert.Equal(a.ClassIds[i], b.ClassIds[i]);
                Assert.Equal(a.Scores[i], b.Scores[i], 0.01f);
                Assert.Equal(a.Boxes[i].X, b.Boxes[i].X, 1f);
                Assert.Equal(a.Boxes[i].Y, b.Boxes[i].Y, 1f);
            }
            boxes += a.Count;
        });
        output.WriteLine($"{boxes} detections in 3 vtest frames, equal with SIMD and Vulkan preprocess");
        Assert.True(boxes > 3, "vtest frames should hold people");
    }
}
