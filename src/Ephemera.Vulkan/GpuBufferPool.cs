using Ephemera.Core;
using Silk.NET.Vulkan;

namespace Ephemera.Vulkan;

/// <summary>The GPU buffer pool was at its cap: nothing was allocated (the same rule as the decode pool: it never grows past the cap).</summary>
public sealed class GpuPoolExhaustedException(string message) : EphemeraException(message);

/// <summary>
/// A capped pool of <see cref="GpuBuffer"/>s with the native decode pool's contract: at most
/// <see cref="Cap"/> buffers exist at once (rented or free); <see cref="Rent"/> reuses a free one
/// that is large enough or allocates; <see cref="Return"/> zeroes a buffer that held pixels with
/// <c>vkCmdFillBuffer</c> before it is reusable (counted wiped in the ledger); <see cref="Dispose"/>
/// zeroes and frees everything. Thread-safe.
/// </summary>
public sealed unsafe class GpuBufferPool : IDisposable
{
    private readonly VulkanDevice _device;
    private readonly object _lock = new();
    private readonly List<GpuBuffer> _free = new();
    private readonly HashSet<GpuBuffer> _rented = new();
    private readonly CommandPool _commandPool;
    private readonly CommandBuffer _cmd;
    private readonly Fence _fence;
    private bool _disposed;

    public int Cap { get; }
    public int Rented { get { lock (_lock) return _rented.Count; } }
    public int Free { get { lock (_lock) return _free.Count; } }

    public GpuBufferPool(VulkanDevice device, int cap = 16)
    {
        if (cap < 1) throw new EphemeraException($"GPU buffer pool cap must be at least 1, got {cap}");
        _device = device; Cap = cap;
        _commandPool = device.CreateCommandPool();
        _cmd = device.AllocateCommandBuffer(_commandPool);
        _fence = device.CreateFence();
    }

    /// <summary>A buffer of at least <paramref name="bytes"/>, zeroed. Throws <see cref="GpuPoolExhaustedException"/> at the cap.</summary>
    public GpuBuffer Rent(ulong bytes)
    {
        if (bytes == 0) throw new ArgumentOutOfRangeException(nameof(bytes), "a GPU buffer needs at least one byte");
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Smallest free buffer that fits, so a big one is not spent on a small request.
            int best = -1;
            for (int i = 0; i < _free.Count; i++)
                if (_free[i].Size >= bytes && (best < 0 || _free[i].Size < _free[best].Size)) best = i;
            GpuBuffer b;
            if (best >= 0) { b = _free[best]; _free.RemoveAt(best); }
            else
            {
                if (_rented.Count + _free.Count >= Cap)
                {
                    if (_free.Count == 0) throw new GpuPoolExhaustedException($"GPU buffer pool at its cap of {Cap} buffers, all rented");
                    _free[0].Dispose(); _free.RemoveAt(0); // a free buffer too small: replace it, the count stays within the cap
                }
                b = GpuBuffer.Allocate(_device, bytes);
                WipeLocked([b]); // device memory is not promised to be zero: start clean
            }
            _rented.Add(b);
            return b;
        }
    }

    /// <summary>Zeroes the buffer if it held pixels (counted wiped) and makes it reusable.</summary>
    public void Return(GpuBuffer buffer)
    {
        lock (_lock)
        {
            if (_disposed) return; // the pool already wiped and freed it
            if (!_rented.Remove(buffer)) throw new InvalidOperationException("buffer was not rented from this pool");
            if (buffer.HoldsPixels) WipeLocked([buffer]);
            _free.Add(buffer);
        }
    }

    /// <summary>Zeroes buffers now (one submission) and counts the ones that held pixels as wiped.</summary>
    public void Wipe(ReadOnlySpan<GpuBuffer> buffers)
    {
        lock (_lock) WipeLocked(buffers);
    }

    private void WipeLocked(ReadOnlySpan<GpuBuffer> buffers)
    {
        _device.Vk.ResetCommandBuffer(_cmd, 0);
        _device.Begin(_cmd);
        foreach (var b in buffers) _device.CmdWipe(_cmd, b.Handle);
        _device.Barrier(_cmd);
        _device.End(_cmd);
        _device.Submit(_cmd, _fence);
        foreach (var b in buffers) b.OnWiped();
    }

    /// <summary>Zeroes and frees every buffer, rented ones included (their owners must be done with them).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            var all = _free.Concat(_rented).ToArray();
            if (all.Length > 0) WipeLocked(all);
            foreach (var b in all) b.Dispose();
            _free.Clear(); _rented.Clear();
            _device.Vk.DestroyFence(_device.Device, _fence, null);
            _device.Vk.DestroyCommandPool(_device.Device, _commandPool, null);
        }
    }
}
