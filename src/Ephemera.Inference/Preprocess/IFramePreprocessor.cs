using Ephemera.Core;
using Ephemera.Inference.Models;

namespace Ephemera.Inference.Preprocess;

/// <summary>
/// The detector's preprocess kernel: one decoded frame into one NCHW float tensor slot. The SIMD
/// <see cref="FramePreprocessor"/> is the reference; the Vulkan one (Ephemera.Vulkan) matches it.
/// One instance per thread. Dispose frees what the kernel holds (GPU buffers, wiped first).
/// </summary>
public interface IFramePreprocessor : IDisposable
{
    int TensorWidth { get; }
    int TensorHeight { get; }
    /// <summary>Floats in one tensor slot (3·H·W).</summary>
    int SlotLength { get; }
    /// <summary>Fills <paramref name="slot"/> (3·H·W floats, NCHW) from <paramref name="frame"/>.</summary>
    TensorPlacement Run(in FrameView frame, Span<float> slot);
    /// <summary>Zeroes any scratch that held pixels.</summary>
    void WipeScratch();
}

/// <summary>
/// Which preprocess kernels a detector uses, chosen once at engine start (<c>kernels:</c> in the
/// engine options). Null on <see cref="DetectorOptions.Kernels"/> means SIMD.
/// </summary>
public interface IPreprocessKernels
{
    /// <summary>"simd", "vulkan (device name, path)": for the start-up log line.</summary>
    string Describe();
    IFramePreprocessor Create(InputContract contract, int tensorWidth, int tensorHeight);
}
