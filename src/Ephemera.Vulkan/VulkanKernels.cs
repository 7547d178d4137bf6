using Ephemera.Inference.Models;
using Ephemera.Inference.Preprocess;

namespace Ephemera.Vulkan;

/// <summary>How a frame reached the GPU on the last run.</summary>
public enum FramePath
{
    /// <summary>Nothing ran yet.</summary>
    None = 0,
    /// <summary>The decode pool's pages imported as a buffer (VK_EXT_external_memory_host): no copy.</summary>
    ZeroCopy = 1,
    /// <summary>Copied into a staging buffer (itself a wiped pixel buffer).</summary>
    Staging = 2,
    /// <summary>A format the GPU kernels do not take (BGR24, Gray8): the SIMD path ran.</summary>
    Simd = 3,
}

/// <summary>
/// The Vulkan kernels of one device: its buffer pool and the compute pipelines built from
/// <c>shaders/</c>. Shared by threads; each thread makes its own <see cref="VulkanPreprocessor"/>.
/// </summary>
public sealed class VulkanKernels : IPreprocessKernels, IDisposable
{
    public VulkanDevice Device { get; }
    public GpuBufferPool Pool { get; }
    internal ComputeKernel Preprocess { get; }
    internal ComputeKernel Mask { get; }
    /// <summary>Whether preprocessors import the frame's memory in place (needs <see cref="VulkanDevice.CanImportHostMemory"/>).</summary>
    public bool ZeroCopy { get; }

    /// <param name="zeroCopy">Import frames in place where the device allows it; false = always staging.</param>
    /// <param name="poolCap">Cap on GPU buffers: each preprocessor (one per camera) holds 3, each masker 1;
    /// 256 serves about 80 cameras (about 4.5 MB each at 1080p).</param>
    public VulkanKernels(VulkanDevice device, bool zeroCopy = true, int poolCap = 256)
    {
        Device = device;
        ZeroCopy = zeroCopy && device.CanImportHostMemory && device.ImportAlignment <= (ulong)Environment.SystemPageSize;
        Pool = new GpuBufferPool(device, poolCap);
        try
        {
            Preprocess = new ComputeKernel(device, "preprocess", bindings: 3, pushBytes: 12);
            Mask = new ComputeKernel(device, "mask", bindings: 1, pushBytes: 36);
        }
        catch { Preprocess?.Dispose(); Pool.Dispose(); throw; }
    }

    /// <summary>Opens the best device and its kernels; throws <see cref="VulkanUnavailableException"/> naming what is missing.</summary>
    public static VulkanKernels Open(bool zeroCopy = true)
    {
        var device = VulkanDevice.Open(allowHostImport: zeroCopy);
        try { return new VulkanKernels(device, zeroCopy); }
        catch { device.Dispose(); throw; }
    }

    public string Describe() => $"vulkan on {Device.Name} ({Device.Kind}, frames by {(ZeroCopy ? "zero copy (VK_EXT_external_memory_host)" : "staging buffer")})";

    /// <summary>
    /// A GPU preprocessor; when the buffer pool is at its cap (more cameras than it serves), the SIMD
    /// one, counted in <see cref="SimdFallbacks"/>: a camera keeps detecting rather than failing.
    /// </summary>
    public IFramePreprocessor Create(InputContract contract, int tensorWidth, int tensorHeight)
    {
        try { return Track(new VulkanPreprocessor(this, contract, tensorWidth, tensorHeight)); }
        catch (GpuPoolExhaustedException)
        {
            Interlocked.Increment(ref _simdFallbacks);
            return new FramePreprocessor(contract, tensorWidth, tensorHeight);
        }
    }

    private int _simdFallbacks;
    /// <summary>Preprocessors handed out as SIMD because the GPU buffer pool was at its cap.</summary>
    public int SimdFallbacks => Volatile.Read(ref _simdFallbacks);

    // Preprocessors and maskers made on this device: disposed (their buffers wiped) before the device
    // goes, whoever still holds them (a camera's detection request may outlive the detector).
    private readonly HashSet<IDisposable> _users = new();
    private bool _disposed;

    internal T Track<T>(T user) where T : IDisposable
    {
        lock (_users)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _users.Add(user);
        }
        return user;
    }

    internal void Untrack(IDisposable user)
    {
        lock (_users) _users.Remove(user);
    }

    public void Dispose()
    {
        IDisposable[] users;
        lock (_users)
        {
            if (_disposed) return;
            _disposed = true;
            users = _users.ToArray();
        }
        foreach (var u in users) u.Dispose();
        Mask.Dispose();
        Preprocess.Dispose();
        Pool.Dispose();
        Device.Dispose();
    }
}
