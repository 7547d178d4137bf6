using Ephemera.Anonymisation;
using Ephemera.Core;
using Ephemera.Decode;

namespace Ephemera.Vulkan.Tests;

/// <summary>Every GPU buffer that held pixels reads back as zeros after use, and the ledger counts each one allocated and wiped.</summary>
public sealed unsafe class WipeAndLedgerTests : IDisposable
{
    private readonly VulkanKernels _zeroCopy = VulkanKernels.Open(zeroCopy: true);
    private readonly VulkanKernels _staging = VulkanKernels.Open(zeroCopy: false);

    public void Dispose() { _zeroCopy.Dispose(); _staging.Dispose(); }

    private static bool AllZero(GpuBuffer b) => new ReadOnlySpan<byte>(b.Pointer, checked((int)b.Size)).IndexOfAnyExcept((byte)0) < 0;

    [VulkanFact]
    public void AReturnedPoolBufferReadsBackAllZero()
    {
        using var pool = new GpuBufferPool(_staging.Device, cap: 2);
        var b = pool.Rent(1 << 20);
        Assert.True(AllZero(b)); // zeroed before first use too
        new Span<byte>(b.Pointer, 1 << 20).Fill(0xA5);
        b.OnPixelsWritten();
        pool.Return(b);
        Assert.True(AllZero(b), "a returned GPU buffer still holds pixels");
        // The cap holds: two rented, a third refused with a clear error.
        var x = pool.Rent(64); var y = pool.Rent(64);
        var e = Assert.Throws<GpuPoolExhaustedException>(() => pool.Rent(64));
        Assert.Contains("cap of 2", e.Message);
        pool.Return(x); pool.Return(y);
    }

    [VulkanFact]
    public void PastThePoolCapACameraGetsTheSimdPreprocessorInsteadOfAnError()
    {
        using var kernels = new VulkanKernels(VulkanDevice.Open(allowHostImport: false), zeroCopy: false, poolCap: 3);
        using var frame = SyntheticFrame.Create(640, 480, seed: 2);
        using var first = kernels.Create(Inputs.Yolox, 416, 320);
        var slot = new float[first.SlotLength];
        first.Run(frame.View, slot); // output, parameters and staging: the pool's three buffers
        Assert.IsType<VulkanPreprocessor>(first);
        using var second = kernels.Create(Inputs.Yolox, 416, 320);
        Assert.IsType<Inference.Preprocess.FramePreprocessor>(second);
        Assert.Equal(1, kernels.SimdFallbacks);
        var expected = new float[slot.Length];
        second.Run(frame.View, expected);
        Assert.True(PreprocessParityTests.MaxLsb(expected, slot, Inputs.Yolox, 416 * 320) <= 1.0);
    }

    [VulkanFact]
    public void PreprocessAndMaskBuffersAreZeroAfterEveryFrame()
    {
        using var frame = SyntheticFrame.Create(1920, 1080, seed: 9);
        foreach (var kernels in new[] { _staging, _zeroCopy })
        {
            using var pre = (VulkanPreprocessor)kernels.Create(Inputs.Yolox, 416, 256);
            var slot = new float[pre.SlotLength];
            pre.Run(frame.View, slot);
            Assert.Contains(slot, v => v != 114f);
            Assert.True(AllZero(pre.OutputBuffer), $"{pre.LastPath}: the GPU tensor was not wiped");
            if (pre.StagingBuffer != null) Assert.True(AllZero(pre.StagingBuffer), "the staging buffer was not wiped");
        }
        using var masker = new VulkanMasker(_staging);
        masker.Apply(frame.Planes, [new BoxF(100, 100, 300, 200)], new MaskOptions());
        Assert.Equal(FramePath.Staging, masker.LastPath);
        Assert.True(AllZero(masker.StagingBuffer!), "the mask staging buffer was not wiped");
    }

    [VulkanFact]
    public void TheLedgerCountsEveryGpuPixelBufferAllocatedAndWiped()
    {
        var gpu0 = GpuLedger.Take();
        var native0 = PixelLedger.Snapshot();
        using (var frame = SyntheticFrame.Create(1280, 720, seed: 4))
        {
            using var staged = (VulkanPreprocessor)_staging.Create(Inputs.Yolox, 416, 256);
            using var direct = (VulkanPreprocessor)_zeroCopy.Create(Inputs.Yolox, 416, 256);
            using var masker = new VulkanMasker(_staging);
            var slot = new float[staged.SlotLength];
            for (int i = 0; i < 3; i++)
            {
                staged.Run(frame.View, slot);  // staging buffer + output buffer
                direct.Run(frame.View, slot);  // output buffer (zero copy: the frame's own memory)
                masker.Apply(frame.Planes, [new BoxF(10, 10, 100, 100)], new MaskOptions()); // staging buffer
            }
            Array.Clear(slot);
        }
        var gpu = GpuLedger.Take();
        var native = PixelLedger.Snapshot();
        long allocated = gpu.Allocated - gpu0.Allocated, wiped = gpu.Wiped - gpu0.Wiped;
        int directBuffers = _zeroCopy.ZeroCopy ? 1 : 2;
        Assert.Equal(3 * (2 + directBuffers + 1), allocated);
        Assert.Equal(allocated, wiped);
        // The same counts reached the process-wide pixel ledger, which balances.
        Assert.True(native.Allocated - native0.Allocated >= allocated);
        Assert.Equal(native.Allocated - native0.Allocated, native.Wiped - native0.Wiped);
    }
}
