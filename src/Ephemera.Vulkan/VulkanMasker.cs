using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ephemera.Anonymisation;
using Ephemera.Core;
using Silk.NET.Vulkan;

namespace Ephemera.Vulkan;

/// <summary>
/// The case-4 mask on the GPU (<c>shaders/mask.comp</c>): solid fill or mosaic over boxes, in place
/// on a YUV420P picture, equal to <see cref="Masker.Apply"/> box after box. The geometry (expansion
/// ×1.3 or more, clipping, even snapping, cell ≥ 1/5 of the short side) is <see cref="Masker"/>'s own;
/// only the pixel work runs on the GPU. The planes are imported in place (zero copy) where the device
/// allows, else staged: copied in, masked, copied back, and the staging buffer wiped and counted.
/// One instance per thread.
/// </summary>
public sealed unsafe class VulkanMasker : IDisposable
{
    private readonly VulkanKernels _k;
    private readonly VulkanDevice _d;
    private readonly CommandPool _commandPool;
    private readonly CommandBuffer _cmd, _wipeCmd;
    private readonly Fence _fence;
    private GpuBuffer? _staging;
    private DescriptorSet _stagingSet;
    private bool _disposed;

    /// <summary>How the last picture reached the GPU.</summary>
    public FramePath LastPath { get; private set; }
    /// <summary>For the wipe tests: the staging buffer (null until a picture was staged).</summary>
    internal GpuBuffer? StagingBuffer => _staging;

    [StructLayout(LayoutKind.Sequential)]
    private struct BoxConstants { public uint Off; public int Stride, X0, Y0, W, H, Cell, Mode; public uint Value; }

    public VulkanMasker(VulkanKernels kernels)
    {
        _k = kernels; _d = kernels.Device;
        _commandPool = _d.CreateCommandPool();
        _cmd = _d.AllocateCommandBuffer(_commandPool);
        _wipeCmd = _d.AllocateCommandBuffer(_commandPool);
        _fence = _d.CreateFence();
        kernels.Track(this);
    }

    /// <summary>Masks every box in order; returns the luma pixels written (as <see cref="Masker.Apply"/> summed).</summary>
    public long Apply(YuvPlanes p, ReadOnlySpan<BoxF> boxes, MaskOptions options)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        options.Validate();
        int ch = p.Height / 2, cw = p.Width / 2;
        long needY = (long)p.StrideY * (p.Height - 1) + p.Width, needC = (long)p.StrideC * (ch - 1) + cw;
        if (p.StrideY < p.Width || p.StrideC < cw || p.Y.Length < needY || p.U.Length < needC || p.V.Length < needC)
            throw new EphemeraException($"YUV420P {p.Width}x{p.Height}: planes of {p.Y.Length}/{p.U.Length}/{p.V.Length} bytes with strides {p.StrideY}/{p.StrideC} are too short");
        long written = 0;
        bool any = false;
        foreach (var b in boxes)
            if (Masker.MaskRect(b, p.Width, p.Height, options.Expand, out _, out _, out _, out _)) { any = true; break; }
        if (!any) return 0;

        fixed (byte* y = p.Y, u = p.U, v = p.V) // pinned: the GPU may work on these pages in place
        {
            uint iy = 0, iu = 0, iv = 0;
            var imported = _k.ZeroCopy
                ? GpuBuffer.ImportCovering(_d, (nuint)y, needY, (nuint)u, needC, (nuint)v, needC, out iy, out iu, out iv)
                : default;
            if (imported.IsValid)
            {
                var set = _k.Mask.CreateSet([imported.Handle]);
                try { written = Record(set, iy, iu, iv, p, boxes, options); _d.Submit(_cmd, _fence); }
                finally { _k.Mask.FreeSet(set); imported.Dispose(); }
                LastPath = FramePath.ZeroCopy;
                return written;
            }

            uint oy = 0, ou = (uint)Align4(needY), ov = (uint)(Align4(needY) + Align4(needC));
            EnsureStaging((ulong)(ov + Align4(needC)));
            byte* s = _staging!.Pointer;
            _staging.OnPixelsWritten();
            try
            {
                Unsafe.CopyBlockUnaligned(s + oy, y, (uint)needY);
                Unsafe.CopyBlockUnaligned(s + ou, u, (uint)needC);
                Unsafe.CopyBlockUnaligned(s + ov, v, (uint)needC);
                written = Record(_stagingSet, oy, ou, ov, p, boxes, options);
                _d.Submit(_cmd, _fence);
                Unsafe.CopyBlockUnaligned(y, s + oy, (uint)needY);
                Unsafe.CopyBlockUnaligned(u, s + ou, (uint)needC);
                Unsafe.CopyBlockUnaligned(v, s + ov, (uint)needC);
            }
            finally
            {
                _d.Submit(_wipeCmd, _fence);
                _staging.OnWiped();
            }
            LastPath = FramePath.Staging;
            return written;
        }
    }

    /// <summary>Records one dispatch per box and plane, with a barrier after each (later boxes see earlier masks, as on the CPU).</summary>
    private long Record(DescriptorSet set, uint offY, uint offU, uint offV, YuvPlanes p, ReadOnlySpan<BoxF> boxes, MaskOptions options)
    {
        long written = 0;
        _d.Vk.ResetCommandBuffer(_cmd, 0);
        _d.Begin(_cmd);
        bool bound = false;
        foreach (var box in boxes)
        {
            if (!Masker.MaskRect(box, p.Width, p.Height, options.Expand, out int x0, out int y0, out int x1, out int y1)) continue;
            if (!bound) { _k.Mask.Bind(_cmd, set); bound = true; }
            int w = x1 - x0, h = y1 - y0;
            written += (long)w * h;
            bool solid = options.Style == MaskStyle.SolidFill;
            int cell = solid ? 0 : Masker.MosaicCell(w, h, options.CellsOnShortSide);
            Dispatch(new BoxConstants { Off = offY, Stride = p.StrideY, X0 = x0, Y0 = y0, W = w, H = h, Cell = cell, Mode = solid ? 0 : 1, Value = 16 });
            Dispatch(new BoxConstants { Off = offU, Stride = p.StrideC, X0 = x0 / 2, Y0 = y0 / 2, W = w / 2, H = h / 2, Cell = cell / 2, Mode = solid ? 0 : 1, Value = 128 });
            Dispatch(new BoxConstants { Off = offV, Stride = p.StrideC, X0 = x0 / 2, Y0 = y0 / 2, W = w / 2, H = h / 2, Cell = cell / 2, Mode = solid ? 0 : 1, Value = 128 });
        }
        _d.End(_cmd);
        return written;
    }

    private void Dispatch(in BoxConstants c)
    {
        if (c.W <= 0 || c.H <= 0) return;
        _k.Mask.Push(_cmd, c);
        // Solid: workgroups stride over rows; mosaic: one workgroup per cell.
        uint groups = c.Mode == 0 ? (uint)Math.Min(c.H, 1024) : (uint)(((c.W + c.Cell - 1) / c.Cell) * ((c.H + c.Cell - 1) / c.Cell));
        _d.Vk.CmdDispatch(_cmd, groups, 1, 1);
        _d.Barrier(_cmd);
    }

    private void EnsureStaging(ulong bytes)
    {
        if (_staging != null && _staging.Size >= bytes) return;
        if (_stagingSet.Handle != 0) { _k.Mask.FreeSet(_stagingSet); _stagingSet = default; }
        if (_staging != null) _k.Pool.Return(_staging);
        _staging = null;
        _staging = _k.Pool.Rent(bytes);
        _stagingSet = _k.Mask.CreateSet([_staging.Handle]);
        _d.Vk.ResetCommandBuffer(_wipeCmd, 0);
        _d.Begin(_wipeCmd);
        _d.CmdWipe(_wipeCmd, _staging.Handle);
        _d.Barrier(_wipeCmd);
        _d.End(_wipeCmd);
    }

    private static long Align4(long n) => (n + 3) & ~3L;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _k.Untrack(this);
        if (_stagingSet.Handle != 0) _k.Mask.FreeSet(_stagingSet);
        if (_staging != null) _k.Pool.Return(_staging);
        _d.Vk.DestroyFence(_d.Device, _fence, null);
        _d.Vk.DestroyCommandPool(_d.Device, _commandPool, null);
    }
}
