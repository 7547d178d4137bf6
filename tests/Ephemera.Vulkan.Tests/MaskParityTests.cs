using Ephemera.Anonymisation;
using Ephemera.Core;
using Xunit.Abstractions;

namespace Ephemera.Vulkan.Tests;

/// <summary>The GPU mask equals Masker.Apply byte for byte on real frames (solid and mosaic, overlapping and edge boxes).</summary>
public sealed class MaskParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly VulkanKernels _zeroCopy = VulkanKernels.Open(zeroCopy: true);
    private readonly VulkanKernels _staging = VulkanKernels.Open(zeroCopy: false);

    public void Dispose() { _zeroCopy.Dispose(); _staging.Dispose(); }

    [VulkanTheory]
    [InlineData("vtest", MaskStyle.Mosaic, true)]
    [InlineData("vtest", MaskStyle.SolidFill, false)]
    [InlineData("adl6", MaskStyle.Mosaic, false)]
    [InlineData("adl6", MaskStyle.Mosaic, true)]
    [InlineData("adl6", MaskStyle.SolidFill, true)]
    public void MasksEqualTheCpuMasker(string video, MaskStyle style, bool zeroCopy)
    {
        var options = new MaskOptions(style);
        using var masker = new VulkanMasker(zeroCopy ? _zeroCopy : _staging);
        int frames = Inputs.ForFrames(video == "vtest" ? Inputs.Vtest : Inputs.AdlRundle6, count: 2, every: 50, lease =>
        {
            var v = lease.View;
            int w = v.Width & ~1, h = v.Height & ~1, cw = w / 2, ch = h / 2;
            // Two copies of the picture in pinned memory (the GPU may work on it in place).
            byte[] cpu = GC.AllocateArray<byte>(w * h + 2 * cw * ch, pinned: true);
            byte[] gpu = GC.AllocateArray<byte>(cpu.Length, pinned: true);
            for (int y = 0; y < h; y++) v.Plane0.Slice(y * v.Stride0, w).CopyTo(cpu.AsSpan(y * w, w));
            for (int y = 0; y < ch; y++)
            {
                v.Plane1.Slice(y * v.Stride1, cw).CopyTo(cpu.AsSpan(w * h + y * cw, cw));
                v.Plane2.Slice(y * v.Stride2, cw).CopyTo(cpu.AsSpan(w * h + cw * ch + y * cw, cw));
            }
            cpu.CopyTo(gpu, 0);
            var original = (byte[])cpu.Clone();
            var boxes = Boxes(w, h, seed: (int)lease.Index);

            long cpuWritten = 0;
            var pc = Planes(cpu, w, h);
            foreach (var b in boxes) cpuWritten += Masker.Apply(pc, b, options);
            long gpuWritten = masker.Apply(Planes(gpu, w, h), boxes, options);

            Assert.Equal(cpuWritten, gpuWritten);
            Assert.False(cpu.AsSpan().SequenceEqual(original), "the boxes masked nothing");
            for (int i = 0; i < cpu.Length; i++)
                if (cpu[i] != gpu[i]) Assert.Fail($"byte {i} (plane {(i < w * h ? "Y" : i < w * h + cw * ch ? "U" : "V")}) differs: CPU {cpu[i]}, GPU {gpu[i]}");
            Array.Clear(cpu); Array.Clear(gpu); Array.Clear(original);
        });
        Assert.Equal(2, frames);
        output.WriteLine($"{video} {style}: {masker.LastPath}, equal byte for byte");
        Assert.Equal(zeroCopy && _zeroCopy.ZeroCopy ? FramePath.ZeroCopy : FramePath.Staging, masker.LastPath);
    }

    private static YuvPlanes Planes(byte[] d, int w, int h)
    {
        int cw = w / 2, ch = h / 2;
        return new YuvPlanes(w, h, d.AsSpan(0, w * h), w, d.AsSpan(w * h, cw * ch), d.AsSpan(w * h + cw * ch, cw * ch), cw);
    }

    /// <summary>Fixed boxes (overlapping; crossing each edge; tiny) plus seeded random ones.</summary>
    private static BoxF[] Boxes(int w, int h, int seed)
    {
        var list = new List<BoxF>
        {
            new(w * 0.2f, h * 0.2f, w * 0.2f, h * 0.3f), new(w * 0.3f, h * 0.3f, w * 0.15f, h * 0.1f), // overlapping
            new(-20f, -10f, 80f, 60f), new(w - 50f, h - 30f, 90f, 70f), // crossing the edges
            new(w * 0.6f, h * 0.5f, 3f, 5f), // tiny
        };
        var r = new Random(seed);
        for (int i = 0; i < 6; i++)
            list.Add(new BoxF((float)(r.NextDouble() * w), (float)(r.NextDouble() * h), 8 + (float)(r.NextDouble() * w / 4), 8 + (float)(r.NextDouble() * h / 3)));
        return list.ToArray();
    }
}
