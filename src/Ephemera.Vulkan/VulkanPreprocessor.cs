using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Preprocess;
using Silk.NET.Vulkan;

namespace Ephemera.Vulkan;

/// <summary>
/// The detector preprocess on the GPU (<c>shaders/preprocess.comp</c>): YUV420P or NV12 frame →
/// letterboxed, normalised NCHW tensor, equal to <see cref="FramePreprocessor"/> within float
/// rounding. Other formats run the SIMD preprocessor. One instance per thread.
///
/// Per frame: the frame reaches the GPU by import (zero copy) or through the staging buffer; one
/// submission runs the kernel (and wipes the staging buffer); the tensor is copied into the slot;
/// a second submission wipes the output buffer. Every buffer that held pixels is zeroed with
/// <c>vkCmdFillBuffer</c> before the call returns and counted in the ledger. The staging and wipe
/// command buffers are recorded once per frame shape; the import one per frame (its buffer is new).
/// </summary>
public sealed unsafe class VulkanPreprocessor : IFramePreprocessor
{
    private readonly VulkanKernels _k;
    private readonly VulkanDevice _d;
    private readonly FramePreprocessor _simd;
    private readonly InputContract _contract;
    private readonly GpuBuffer _out, _params;
    private readonly CommandPool _commandPool;
    private readonly CommandBuffer _runCmd, _importCmd, _wipeOutCmd;
    private readonly Fence _fence;
    private GpuBuffer? _staging;
    private DescriptorSet _stagingSet;
    private Shape _shape;
    private bool _disposed;

    public int TensorWidth { get; }
    public int TensorHeight { get; }
    public int SlotLength => 3 * TensorWidth * TensorHeight;
    /// <summary>How the last frame reached the GPU.</summary>
    public FramePath LastPath { get; private set; }
    /// <summary>For the wipe tests: the buffers that held pixels.</summary>
    internal GpuBuffer OutputBuffer => _out;
    internal GpuBuffer? StagingBuffer => _staging;

    // The frame geometry the recorded command buffers and the parameter block are for.
    private readonly record struct Shape(int W, int H, PixelFormat Format, int S0, int S1, int S2, bool FullRange, long Need0, long Need1, long Need2);

    [StructLayout(LayoutKind.Sequential)]
    private struct Params // std430 block `Params` of preprocess.comp
    {
        public int SrcW, SrcH, Nw, Nh, Tw, Th, Nv12, Rgb, Stride0, Stride1, Stride2, Pad1;
        public float ScaleX, ScaleY, Pad2, Pad3;
        public Vector4Data YCoef, CCoef, Mean, InvStd, PadNorm;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Vector4Data { public float X, Y, Z, W; }

    [StructLayout(LayoutKind.Sequential)]
    private struct Offsets { public uint Off0, Off1, Off2; }

    internal VulkanPreprocessor(VulkanKernels kernels, InputContract contract, int tensorWidth, int tensorHeight)
    {
        _k = kernels; _d = kernels.Device; _contract = contract;
        _simd = new FramePreprocessor(contract, tensorWidth, tensorHeight);
        TensorWidth = tensorWidth; TensorHeight = tensorHeight;
        _commandPool = _d.CreateCommandPool();
        _runCmd = _d.AllocateCommandBuffer(_commandPool);
        _importCmd = _d.AllocateCommandBuffer(_commandPool);
        _wipeOutCmd = _d.AllocateCommandBuffer(_commandPool);
        _fence = _d.CreateFence();
        try
        {
            _out = kernels.Pool.Rent((ulong)SlotLength * sizeof(float));
            _params = kernels.Pool.Rent((ulong)sizeof(Params));
        }
        catch
        {
            if (_out != null) kernels.Pool.Return(_out);
            _d.Vk.DestroyFence(_d.Device, _fence, null);
            _d.Vk.DestroyCommandPool(_d.Device, _commandPool, null);
            throw;
        }
        _d.Begin(_wipeOutCmd);
        _d.CmdWipe(_wipeOutCmd, _out.Handle);
        _d.Barrier(_wipeOutCmd);
        _d.End(_wipeOutCmd);
    }

    public TensorPlacement Run(in FrameView frame, Span<float> slot)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (frame.Format is not (PixelFormat.Yuv420P or PixelFormat.Nv12))
        {
            LastPath = FramePath.Simd;
            return _simd.Run(frame, slot);
        }
        if (slot.Length < SlotLength) throw new ArgumentException($"tensor slot has {slot.Length} floats, needs {SlotLength}");
        FramePreprocessor.CheckPlanes(frame);
        var (nw, nh) = _simd.ResizedSize(frame.Width, frame.Height);
        try { Prepare(frame, nw, nh); }
        catch (GpuPoolExhaustedException)
        {
            // No staging buffer to be had (the pool is at its cap): this frame runs SIMD.
            LastPath = FramePath.Simd;
            return _simd.Run(frame, slot);
        }

        // Pinned for the whole run: managed planes must not move while the GPU reads them in place.
        fixed (byte* pin0 = frame.Plane0, pin1 = frame.Plane1, pin2 = frame.Plane2)
        {
            try
            {
                _out.OnPixelsWritten();
                if (!(_k.ZeroCopy && TryRunImported(frame))) RunStaged(frame);
                new ReadOnlySpan<float>(_out.Pointer, SlotLength).CopyTo(slot);
            }
            finally
            {
                _d.Submit(_wipeOutCmd, _fence);
                _out.OnWiped();
            }
        }
        return new TensorPlacement((float)nw / frame.Width, (float)nh / frame.Height, nw, nh, frame.Width, frame.Height);
    }

    private void RunStaged(in FrameView f)
    {
        var s = _shape;
        byte* dst = _staging!.Pointer;
        _staging.OnPixelsWritten();
        f.Plane0[..(int)s.Need0].CopyTo(new Span<byte>(dst, (int)s.Need0));
        f.Plane1[..(int)s.Need1].CopyTo(new Span<byte>(dst + Align4(s.Need0), (int)s.Need1));
        if (s.Need2 > 0) f.Plane2[..(int)s.Need2].CopyTo(new Span<byte>(dst + Align4(s.Need0) + Align4(s.Need1), (int)s.Need2));
        _d.Submit(_runCmd, _fence); // the kernel, then vkCmdFillBuffer of the staging buffer
        _staging.OnWiped();
        LastPath = FramePath.Staging;
    }

    /// <summary>Imports the pages under the frame's planes and runs on them in place; false when the device refuses them.</summary>
    private bool TryRunImported(in FrameView f)
    {
        var s = _shape;
        var imported = GpuBuffer.ImportCovering(_d, Address(f.Plane0), s.Need0, Address(f.Plane1), s.Need1, s.Need2 > 0 ? Address(f.Plane2) : 0, s.Need2,
            out uint off0, out uint off1, out uint off2);
        if (!imported.IsValid) return false;
        DescriptorSet set = default;
        try
        {
            set = _k.Preprocess.CreateSet([imported.Handle, _out.Handle, _params.Handle]);
            _d.Vk.ResetCommandBuffer(_importCmd, 0);
            _d.Begin(_importCmd);
            RecordKernel(_importCmd, set, new Offsets { Off0 = off0, Off1 = off1, Off2 = off2 });
            _d.End(_importCmd);
            _d.Submit(_importCmd, _fence);
        }
        finally
        {
            if (set.Handle != 0) _k.Preprocess.FreeSet(set);
            imported.Dispose(); // the decode pool owns (and wipes) those pages
        }
        LastPath = FramePath.ZeroCopy;
        return true;
    }

    private static nuint Address(ReadOnlySpan<byte> span) => (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));

    private void RecordKernel(CommandBuffer cmd, DescriptorSet set, Offsets offsets)
    {
        _k.Preprocess.Bind(cmd, set);
        _k.Preprocess.Push(cmd, offsets);
        _d.Vk.CmdDispatch(cmd, (uint)(TensorWidth + 15) / 16, (uint)(TensorHeight + 15) / 16, 1);
        _d.Barrier(cmd);
    }

    private static long Align4(long n) => (n + 3) & ~3L;

    /// <summary>Rebuilds the parameter block, staging buffer and recorded command buffer when the frame geometry changes.</summary>
    private void Prepare(in FrameView f, int nw, int nh)
    {
        int cw = (f.Width + 1) / 2, ch = (f.Height + 1) / 2;
        bool nv12 = f.Format == PixelFormat.Nv12;
        long need0 = (long)f.Stride0 * (f.Height - 1) + f.Width;
        long need1 = (long)f.Stride1 * (ch - 1) + (nv12 ? 2 * cw : cw);
        long need2 = nv12 ? 0 : (long)f.Stride2 * (ch - 1) + cw;
        var shape = new Shape(f.Width, f.Height, f.Format, f.Stride0, f.Stride1, nv12 ? 0 : f.Stride2, f.FullRange, need0, need1, need2);
        if (shape == _shape) return;

        var colour = new FramePreprocessor.Colour(true, f.FullRange);
        var p = new Params
        {
            SrcW = f.Width, SrcH = f.Height, Nw = nw, Nh = nh, Tw = TensorWidth, Th = TensorHeight, Nv12 = nv12 ? 1 : 0, Rgb = _contract.Rgb ? 1 : 0,
            Stride0 = f.Stride0, Stride1 = f.Stride1, Stride2 = nv12 ? 0 : f.Stride2,
            // The CPU path computes the scale in double; the float here moves a tap by < 1e-4 pixel.
            ScaleX = (float)((double)f.Width / nw), ScaleY = (float)((double)f.Height / nh),
            YCoef = new Vector4Data { X = colour.YScale, Y = colour.YOffset },
            CCoef = new Vector4Data { X = colour.BU, Y = colour.GU, Z = colour.GV, W = colour.RV },
        };
        var mean = _contract.Mean; var std = _contract.Std;
        p.Mean = new Vector4Data { X = mean[0], Y = mean[1], Z = mean[2] };
        p.InvStd = new Vector4Data { X = 1f / std[0], Y = 1f / std[1], Z = 1f / std[2] };
        p.PadNorm = new Vector4Data { X = (_contract.Pad - mean[0]) * p.InvStd.X, Y = (_contract.Pad - mean[1]) * p.InvStd.Y, Z = (_contract.Pad - mean[2]) * p.InvStd.Z };
        *(Params*)_params.Pointer = p;

        // Staging buffer: the planes back to back (4-byte aligned), with their strides.
        ulong stagingBytes = (ulong)(Align4(need0) + Align4(need1) + Align4(need2));
        if (_staging == null || _staging.Size < stagingBytes)
        {
            if (_stagingSet.Handle != 0) { _k.Preprocess.FreeSet(_stagingSet); _stagingSet = default; }
            if (_staging != null) _k.Pool.Return(_staging);
            _staging = null;
            _staging = _k.Pool.Rent(stagingBytes);
            _stagingSet = _k.Preprocess.CreateSet([_staging.Handle, _out.Handle, _params.Handle]);
        }
        var offsets = new Offsets { Off0 = 0, Off1 = (uint)Align4(need0), Off2 = (uint)(Align4(need0) + Align4(need1)) };
        _d.Vk.ResetCommandBuffer(_runCmd, 0);
        _d.Begin(_runCmd);
        RecordKernel(_runCmd, _stagingSet, offsets);
        _d.CmdWipe(_runCmd, _staging.Handle);
        _d.Barrier(_runCmd);
        _d.End(_runCmd);
        _shape = shape;
    }

    public void WipeScratch() => _simd.WipeScratch(); // GPU buffers are wiped inside every Run

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _k.Untrack(this);
        _simd.WipeScratch();
        if (_stagingSet.Handle != 0) _k.Preprocess.FreeSet(_stagingSet);
        if (_staging != null) _k.Pool.Return(_staging);
        _k.Pool.Return(_out);
        _k.Pool.Return(_params);
        _d.Vk.DestroyFence(_d.Device, _fence, null);
        _d.Vk.DestroyCommandPool(_d.Device, _commandPool, null);
    }
}
