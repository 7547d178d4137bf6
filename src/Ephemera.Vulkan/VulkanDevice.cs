using System.Runtime.InteropServices;
using System.Text;
using Silk.NET.Core.Native;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace Ephemera.Vulkan;

/// <summary>What kind of device runs the kernels (Vulkan's <c>VkPhysicalDeviceType</c>).</summary>
public enum GpuKind { Other = 0, Integrated = 1, Discrete = 2, Virtual = 3, Cpu = 4 }

/// <summary>
/// One Vulkan instance, the chosen physical device (discrete over integrated over virtual over a CPU
/// driver such as Mesa's lavapipe), a logical device with one compute queue, and what the device can
/// do for us: whether it imports host memory (<c>VK_EXT_external_memory_host</c>: the decode pool's
/// pages are read where FFmpeg wrote them) and with which pointer alignment. Thread-safe: queue
/// submissions are serialised by <see cref="Submit"/>.
/// </summary>
public sealed unsafe class VulkanDevice : IDisposable
{
    private const string HostMemoryExtension = "VK_EXT_external_memory_host";
    private readonly object _queueLock = new();
    private delegate* unmanaged[Cdecl]<Device, ExternalMemoryHandleTypeFlags, void*, MemoryHostPointerPropertiesEXT*, Result> _getHostPointerProperties;
    private PhysicalDeviceMemoryProperties _memory;
    private bool _disposed;

    internal Vk Vk { get; }
    internal Instance Instance { get; }
    internal PhysicalDevice Physical { get; }
    internal Device Device { get; }
    internal Queue Queue { get; }
    internal uint QueueFamily { get; }

    /// <summary>The driver's device name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".</summary>
    public string Name { get; }
    public GpuKind Kind { get; }
    /// <summary>True on a real GPU (discrete or integrated): the only devices <c>kernels: auto</c> considers.</summary>
    public bool IsHardware => Kind is GpuKind.Discrete or GpuKind.Integrated;
    /// <summary>Whether host memory (decode pool pages) can be imported as a buffer without a copy.</summary>
    public bool CanImportHostMemory { get; }
    /// <summary>minImportedHostPointerAlignment: imported ranges start and end on this boundary.</summary>
    public ulong ImportAlignment { get; }

    private VulkanDevice(Vk vk, Instance instance, PhysicalDevice physical, Device device, uint family, string name, GpuKind kind, bool import, ulong importAlignment)
    {
        Vk = vk; Instance = instance; Physical = physical; Device = device; QueueFamily = family;
        Name = name; Kind = kind; CanImportHostMemory = import; ImportAlignment = importAlignment;
        vk.GetDeviceQueue(device, family, 0, out var q);
        Queue = q;
        vk.GetPhysicalDeviceMemoryProperties(physical, out _memory);
        if (import)
        {
            var fn = vk.GetDeviceProcAddr(device, "vkGetMemoryHostPointerPropertiesEXT");
            _getHostPointerProperties = (delegate* unmanaged[Cdecl]<Device, ExternalMemoryHandleTypeFlags, void*, MemoryHostPointerPropertiesEXT*, Result>)(void*)fn.Handle;
        }
    }

    /// <summary>
    /// Opens the best device. <paramref name="allowHostImport"/> = false never uses host-memory import
    /// (the staging path everywhere: for tests and the zero-copy comparison).
    /// Throws <see cref="VulkanUnavailableException"/> naming what is missing.
    /// </summary>
    public static VulkanDevice Open(bool allowHostImport = true)
    {
        Vk vk;
        try { vk = Vk.GetApi(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new VulkanUnavailableException($"no Vulkan loader (libvulkan.so.1) could be loaded: {e.Message}", e);
        }

        var app = new ApplicationInfo { SType = StructureType.ApplicationInfo, ApiVersion = Vk.Version12 };
        var appName = (byte*)SilkMarshal.StringToPtr("ephemera");
        app.PApplicationName = appName; app.PEngineName = appName;
        var ici = new InstanceCreateInfo { SType = StructureType.InstanceCreateInfo, PApplicationInfo = &app };
        Instance instance;
        var r = vk.CreateInstance(&ici, null, &instance);
        SilkMarshal.Free((nint)appName);
        if (r != Result.Success)
        {
            vk.Dispose();
            throw new VulkanUnavailableException($"no Vulkan driver: vkCreateInstance returned {r} (check VK_ICD_FILENAMES / an installed ICD such as mesa-vulkan-drivers)");
        }
        try { return OpenDevice(vk, instance, allowHostImport); }
        catch
        {
            vk.DestroyInstance(instance, null);
            vk.Dispose();
            throw;
        }
    }

    private static VulkanDevice OpenDevice(Vk vk, Instance instance, bool allowHostImport)
    {
        uint n = 0;
        var r = vk.EnumeratePhysicalDevices(instance, &n, null);
        if (r != Result.Success || n == 0) throw new VulkanUnavailableException($"no Vulkan device: the driver lists none ({r})");
        var devices = new PhysicalDevice[n];
        fixed (PhysicalDevice* pd = devices) vk.EnumeratePhysicalDevices(instance, &n, pd);

        // Rank: discrete > integrated > virtual > other > CPU; only devices with a compute queue and 8-bit storage buffers.
        PhysicalDevice best = default; int bestRank = -1; uint bestFamily = 0; string why = "";
        foreach (var d in devices)
        {
            vk.GetPhysicalDeviceProperties(d, out var p);
            string name = DeviceName(p);
            if (!TryComputeFamily(vk, d, out uint family)) { why += $"{name}: no compute queue; "; continue; }
            if (!Has8BitStorage(vk, d)) { why += $"{name}: no 8-bit storage buffers; "; continue; }
            int rank = p.DeviceType switch
            {
                PhysicalDeviceType.DiscreteGpu => 4, PhysicalDeviceType.IntegratedGpu => 3,
                PhysicalDeviceType.VirtualGpu => 2, PhysicalDeviceType.Other => 1, _ => 0,
            };
            if (rank > bestRank) { best = d; bestRank = rank; bestFamily = family; }
        }
        if (bestRank < 0) throw new VulkanUnavailableException($"no usable Vulkan device: {why.TrimEnd(' ', ';')}");

        vk.GetPhysicalDeviceProperties(best, out var props);
        bool import = allowHostImport && HasExtension(vk, best, HostMemoryExtension);
        ulong alignment = 0;
        if (import)
        {
            var host = new PhysicalDeviceExternalMemoryHostPropertiesEXT { SType = StructureType.PhysicalDeviceExternalMemoryHostPropertiesExt };
            var p2 = new PhysicalDeviceProperties2 { SType = StructureType.PhysicalDeviceProperties2, PNext = &host };
            vk.GetPhysicalDeviceProperties2(best, &p2);
            alignment = host.MinImportedHostPointerAlignment;
            if (alignment == 0 || (alignment & (alignment - 1)) != 0) import = false;
        }

        float priority = 1f;
        var qci = new DeviceQueueCreateInfo { SType = StructureType.DeviceQueueCreateInfo, QueueFamilyIndex = bestFamily, QueueCount = 1, PQueuePriorities = &priority };
        var storage8 = new PhysicalDevice8BitStorageFeatures { SType = StructureType.PhysicalDevice8BitStorageFeatures, StorageBuffer8BitAccess = true };
        var ext = SilkMarshal.StringArrayToPtr(import ? [HostMemoryExtension] : Array.Empty<string>());
        var dci = new DeviceCreateInfo
        {
            SType = StructureType.DeviceCreateInfo, PNext = &storage8, QueueCreateInfoCount = 1, PQueueCreateInfos = &qci,
            EnabledExtensionCount = import ? 1u : 0u, PpEnabledExtensionNames = (byte**)ext,
        };
        Device device;
        r = vk.CreateDevice(best, &dci, null, &device);
        SilkMarshal.Free(ext);
        if (r != Result.Success) throw new VulkanUnavailableException($"Vulkan device {DeviceName(props)} could not be opened: vkCreateDevice returned {r}");
        var kind = props.DeviceType switch
        {
            PhysicalDeviceType.DiscreteGpu => GpuKind.Discrete, PhysicalDeviceType.IntegratedGpu => GpuKind.Integrated,
            PhysicalDeviceType.VirtualGpu => GpuKind.Virtual, PhysicalDeviceType.Cpu => GpuKind.Cpu, _ => GpuKind.Other,
        };
        return new VulkanDevice(vk, instance, best, device, bestFamily, DeviceName(props), kind, import, alignment);
    }

    private static string DeviceName(PhysicalDeviceProperties p) => SilkMarshal.PtrToString((nint)p.DeviceName) ?? "?";

    private static bool TryComputeFamily(Vk vk, PhysicalDevice d, out uint family)
    {
        uint n = 0;
        vk.GetPhysicalDeviceQueueFamilyProperties(d, &n, null);
        var families = new QueueFamilyProperties[n];
        fixed (QueueFamilyProperties* f = families) vk.GetPhysicalDeviceQueueFamilyProperties(d, &n, f);
        // Prefer a compute-only family (async compute on GPUs), else any family with compute.
        family = uint.MaxValue;
        for (uint i = 0; i < n; i++)
        {
            var flags = families[i].QueueFlags;
            if ((flags & QueueFlags.ComputeBit) == 0) continue;
            if ((flags & QueueFlags.GraphicsBit) == 0) { family = i; return true; }
            if (family == uint.MaxValue) family = i;
        }
        return family != uint.MaxValue;
    }

    private static bool Has8BitStorage(Vk vk, PhysicalDevice d)
    {
        var s8 = new PhysicalDevice8BitStorageFeatures { SType = StructureType.PhysicalDevice8BitStorageFeatures };
        var f2 = new PhysicalDeviceFeatures2 { SType = StructureType.PhysicalDeviceFeatures2, PNext = &s8 };
        vk.GetPhysicalDeviceFeatures2(d, &f2);
        return s8.StorageBuffer8BitAccess;
    }

    private static bool HasExtension(Vk vk, PhysicalDevice d, string name)
    {
        uint n = 0;
        vk.EnumerateDeviceExtensionProperties(d, (byte*)null, &n, null);
        var exts = new ExtensionProperties[n];
        fixed (ExtensionProperties* e = exts) vk.EnumerateDeviceExtensionProperties(d, (byte*)null, &n, e);
        foreach (var e in exts)
            if (SilkMarshal.PtrToString((nint)e.ExtensionName) == name) return true;
        return false;
    }

    /// <summary>A memory type index allowed by <paramref name="typeBits"/> with all of <paramref name="need"/>, preferring <paramref name="want"/> too.</summary>
    internal uint MemoryType(uint typeBits, MemoryPropertyFlags need, MemoryPropertyFlags want = 0)
    {
        int fallback = -1;
        for (int i = 0; i < _memory.MemoryTypeCount; i++)
        {
            if ((typeBits & (1u << i)) == 0) continue;
            var f = _memory.MemoryTypes[i].PropertyFlags;
            if ((f & need) != need) continue;
            if ((f & want) == want) return (uint)i;
            if (fallback < 0) fallback = i;
        }
        if (fallback < 0) throw new VulkanUnavailableException($"Vulkan device {Name} has no memory type with {need}");
        return (uint)fallback;
    }

    /// <summary>Memory types a host pointer can be imported into (0 when it cannot).</summary>
    internal uint HostPointerMemoryTypes(void* pointer)
    {
        if (_getHostPointerProperties == null) return 0;
        var p = new MemoryHostPointerPropertiesEXT { SType = StructureType.MemoryHostPointerPropertiesExt };
        var r = _getHostPointerProperties(Device, ExternalMemoryHandleTypeFlags.HostAllocationBitExt, pointer, &p);
        return r == Result.Success ? p.MemoryTypeBits : 0;
    }

    /// <summary>Submits one command buffer and waits for its fence (the queue is shared: serialised here).</summary>
    internal void Submit(CommandBuffer cmd, Fence fence)
    {
        var si = new SubmitInfo { SType = StructureType.SubmitInfo, CommandBufferCount = 1, PCommandBuffers = &cmd };
        Result r;
        lock (_queueLock) r = Vk.QueueSubmit(Queue, 1, &si, fence);
        Check(r, "vkQueueSubmit");
        Check(Vk.WaitForFences(Device, 1, &fence, true, ulong.MaxValue), "vkWaitForFences");
        Check(Vk.ResetFences(Device, 1, &fence), "vkResetFences");
    }

    internal Fence CreateFence()
    {
        var fci = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
        Fence f;
        Check(Vk.CreateFence(Device, &fci, null, &f), "vkCreateFence");
        return f;
    }

    internal CommandPool CreateCommandPool()
    {
        var ci = new CommandPoolCreateInfo { SType = StructureType.CommandPoolCreateInfo, QueueFamilyIndex = QueueFamily, Flags = CommandPoolCreateFlags.ResetCommandBufferBit };
        CommandPool pool;
        Check(Vk.CreateCommandPool(Device, &ci, null, &pool), "vkCreateCommandPool");
        return pool;
    }

    internal CommandBuffer AllocateCommandBuffer(CommandPool pool)
    {
        var ai = new CommandBufferAllocateInfo { SType = StructureType.CommandBufferAllocateInfo, CommandPool = pool, Level = CommandBufferLevel.Primary, CommandBufferCount = 1 };
        CommandBuffer cmd;
        Check(Vk.AllocateCommandBuffers(Device, &ai, &cmd), "vkAllocateCommandBuffers");
        return cmd;
    }

    internal void Begin(CommandBuffer cmd)
    {
        var bi = new CommandBufferBeginInfo { SType = StructureType.CommandBufferBeginInfo };
        Check(Vk.BeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
    }

    internal void End(CommandBuffer cmd) => Check(Vk.EndCommandBuffer(cmd), "vkEndCommandBuffer");

    /// <summary>Makes writes of earlier commands (shader or transfer) visible to later ones, and to the host.</summary>
    internal void Barrier(CommandBuffer cmd)
    {
        var mb = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit,
            DstAccessMask = AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit | AccessFlags.HostReadBit,
        };
        Vk.CmdPipelineBarrier(cmd, PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit,
            PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit | PipelineStageFlags.HostBit, 0, 1, &mb, 0, null, 0, null);
    }

    /// <summary>Zeroes a whole buffer on the queue (the wipe).</summary>
    internal void CmdWipe(CommandBuffer cmd, VkBuffer buffer) => Vk.CmdFillBuffer(cmd, buffer, 0, Vk.WholeSize, 0);

    internal static void Check(Result r, string call)
    {
        if (r != Result.Success) throw new VulkanUnavailableException($"{call} failed: {r}");
    }

    public override string ToString() => $"{Name} ({Kind}, {(CanImportHostMemory ? $"host import, alignment {ImportAlignment}" : "staging")})";

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Vk.DeviceWaitIdle(Device);
        Vk.DestroyDevice(Device, null);
        Vk.DestroyInstance(Instance, null);
        Vk.Dispose();
    }
}
