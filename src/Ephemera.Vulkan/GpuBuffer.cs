using System.Diagnostics;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace Ephemera.Vulkan;

/// <summary>
/// One storage buffer with host-visible, coherent memory mapped for its whole life (the host writes
/// frames in and reads tensors out through <see cref="Pointer"/>). Host memory imported without a copy
/// (the decode pool's pages, which that pool owns and wipes) is a <see cref="HostImport"/> instead.
/// A buffer that held pixels is zeroed by <c>vkCmdFillBuffer</c> before reuse or release and counted
/// in <see cref="GpuLedger"/>: <see cref="OnPixelsWritten"/> when pixels enter, <see cref="OnWiped"/> after the fill.
/// </summary>
public sealed unsafe class GpuBuffer : IDisposable
{
    private readonly VulkanDevice _device;
    private DeviceMemory _memory;
    private long _pixelsSince = -1;

    internal VkBuffer Handle { get; private set; }
    /// <summary>Host address of the buffer's first byte (its mapped memory).</summary>
    public byte* Pointer { get; }
    public ulong Size { get; }
    /// <summary>Whether pixels were written since the last wipe.</summary>
    public bool HoldsPixels => _pixelsSince >= 0;

    private GpuBuffer(VulkanDevice device, VkBuffer handle, DeviceMemory memory, byte* pointer, ulong size)
    {
        _device = device; Handle = handle; _memory = memory; Pointer = pointer; Size = size;
    }

    /// <summary>A new host-visible storage buffer of <paramref name="bytes"/> (the pool zeroes it before first use).</summary>
    internal static GpuBuffer Allocate(VulkanDevice device, ulong bytes)
    {
        var vk = device.Vk;
        var bci = new BufferCreateInfo
        {
            SType = StructureType.BufferCreateInfo, Size = bytes, SharingMode = SharingMode.Exclusive,
            Usage = BufferUsageFlags.StorageBufferBit | BufferUsageFlags.TransferDstBit | BufferUsageFlags.TransferSrcBit,
        };
        VkBuffer buffer;
        VulkanDevice.Check(vk.CreateBuffer(device.Device, &bci, null, &buffer), "vkCreateBuffer");
        vk.GetBufferMemoryRequirements(device.Device, buffer, out var req);
        // Host-visible and coherent (no flushes); cached when the device offers it, for fast read-back.
        uint type = device.MemoryType(req.MemoryTypeBits, MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit, MemoryPropertyFlags.HostCachedBit);
        var mai = new MemoryAllocateInfo { SType = StructureType.MemoryAllocateInfo, AllocationSize = req.Size, MemoryTypeIndex = type };
        DeviceMemory memory;
        var r = vk.AllocateMemory(device.Device, &mai, null, &memory);
        if (r != Result.Success) { vk.DestroyBuffer(device.Device, buffer, null); VulkanDevice.Check(r, "vkAllocateMemory"); }
        VulkanDevice.Check(vk.BindBufferMemory(device.Device, buffer, memory, 0), "vkBindBufferMemory");
        void* p;
        VulkanDevice.Check(vk.MapMemory(device.Device, memory, 0, Vk.WholeSize, 0, &p), "vkMapMemory");
        return new GpuBuffer(device, buffer, memory, (byte*)p, bytes);
    }

    /// <summary>
    /// Wraps host memory [pointer, pointer + bytes) as a buffer without copying it. Both must be
    /// multiples of <see cref="VulkanDevice.ImportAlignment"/>. Invalid (default) when the device refuses this memory.
    /// </summary>
    internal static HostImport Import(VulkanDevice device, byte* pointer, ulong bytes)
    {
        uint types = device.HostPointerMemoryTypes(pointer);
        if (types == 0) return default;
        var vk = device.Vk;
        var ext = new ExternalMemoryBufferCreateInfo { SType = StructureType.ExternalMemoryBufferCreateInfo, HandleTypes = ExternalMemoryHandleTypeFlags.HostAllocationBitExt };
        var bci = new BufferCreateInfo
        {
            SType = StructureType.BufferCreateInfo, PNext = &ext, Size = bytes, SharingMode = SharingMode.Exclusive,
            Usage = BufferUsageFlags.StorageBufferBit | BufferUsageFlags.TransferDstBit | BufferUsageFlags.TransferSrcBit,
        };
        VkBuffer buffer;
        if (vk.CreateBuffer(device.Device, &bci, null, &buffer) != Result.Success) return default;
        vk.GetBufferMemoryRequirements(device.Device, buffer, out var req);
        uint allowed = types & req.MemoryTypeBits;
        if (allowed == 0 || req.Size > bytes) { vk.DestroyBuffer(device.Device, buffer, null); return default; }
        var import = new ImportMemoryHostPointerInfoEXT { SType = StructureType.ImportMemoryHostPointerInfoExt, HandleType = ExternalMemoryHandleTypeFlags.HostAllocationBitExt, PHostPointer = pointer };
        var mai = new MemoryAllocateInfo { SType = StructureType.MemoryAllocateInfo, PNext = &import, AllocationSize = bytes, MemoryTypeIndex = device.MemoryType(allowed, MemoryPropertyFlags.HostVisibleBit) };
        DeviceMemory memory;
        if (vk.AllocateMemory(device.Device, &mai, null, &memory) != Result.Success) { vk.DestroyBuffer(device.Device, buffer, null); return default; }
        if (vk.BindBufferMemory(device.Device, buffer, memory, 0) != Result.Success)
        {
            vk.FreeMemory(device.Device, memory, null); vk.DestroyBuffer(device.Device, buffer, null); return default;
        }
        return new HostImport(device, buffer, memory);
    }

    /// <summary>
    /// Imports the pages under up to three planes (pointer, bytes; bytes 0 = unused) as one buffer and
    /// gives each plane's byte offset inside it. Invalid (stage instead) when import is off, the device
    /// refuses the memory, or the planes lie far apart (separate allocations: unrelated memory between).
    /// The caller keeps the planes pinned and alive until the GPU is done, then disposes the buffer.
    /// </summary>
    internal static HostImport ImportCovering(VulkanDevice device, nuint p0, long n0, nuint p1, long n1, nuint p2, long n2, out uint off0, out uint off1, out uint off2)
    {
        off0 = off1 = off2 = 0;
        if (!device.CanImportHostMemory) return default;
        if (n2 == 0) p2 = p0;
        if (n1 == 0) p1 = p0;
        nuint lo = Math.Min(p0, Math.Min(p1, p2));
        nuint hi = Math.Max(p0 + (nuint)n0, Math.Max(p1 + (nuint)n1, p2 + (nuint)n2));
        nuint align = (nuint)device.ImportAlignment;
        nuint start = lo & ~(align - 1), end = (hi + align - 1) & ~(align - 1);
        if (end - start > (nuint)(2 * (n0 + n1 + n2)) + 2 * align || end - start > uint.MaxValue) return default;
        var b = Import(device, (byte*)start, end - start);
        if (!b.IsValid) return default;
        off0 = (uint)(p0 - start); off1 = (uint)(p1 - start); off2 = (uint)(p2 - start);
        return b;
    }

    /// <summary>Pixels entered this buffer: counted as one allocated pixel buffer until the next wipe.</summary>
    internal void OnPixelsWritten()
    {
        if (_pixelsSince >= 0) return;
        _pixelsSince = Stopwatch.GetTimestamp();
        GpuLedger.OnAllocated();
    }

    /// <summary>A recorded <c>vkCmdFillBuffer</c> of this buffer has completed: counted as wiped.</summary>
    internal void OnWiped()
    {
        if (_pixelsSince < 0) return;
        var lifetime = Stopwatch.GetElapsedTime(_pixelsSince);
        _pixelsSince = -1;
        GpuLedger.OnWiped(lifetime);
    }

    /// <summary>Frees the buffer. Pool buffers are wiped by their pool first; see <see cref="GpuBufferPool"/>.</summary>
    public void Dispose()
    {
        if (Handle.Handle == 0) return;
        var vk = _device.Vk;
        vk.UnmapMemory(_device.Device, _memory);
        vk.DestroyBuffer(_device.Device, Handle, null);
        vk.FreeMemory(_device.Device, _memory, null);
        Handle = default; _memory = default;
    }
}

/// <summary>
/// Host memory imported as a buffer without a copy (VK_EXT_external_memory_host): the decode pool's
/// pages under a frame. A struct, so the per-frame import allocates nothing managed. Never wiped or
/// counted here: the pool owning the pages wipes them. Dispose once the GPU is done with it.
/// </summary>
internal readonly unsafe struct HostImport(VulkanDevice device, VkBuffer handle, DeviceMemory memory) : IDisposable
{
    public VkBuffer Handle { get; } = handle;
    public bool IsValid => Handle.Handle != 0;

    public void Dispose()
    {
        if (!IsValid) return;
        device.Vk.DestroyBuffer(device.Device, Handle, null);
        device.Vk.FreeMemory(device.Device, memory, null);
    }
}
