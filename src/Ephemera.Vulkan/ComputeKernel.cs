using Silk.NET.Core.Native;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace Ephemera.Vulkan;

/// <summary>
/// One compute shader from <c>shaders/</c> (SPIR-V embedded at build time) as a pipeline:
/// <see cref="Bindings"/> storage buffers in set 0 and <see cref="PushBytes"/> of push constants.
/// Descriptor sets come from the kernel's own pool; a set is written once per buffer combination.
/// </summary>
internal sealed unsafe class ComputeKernel : IDisposable
{
    private readonly VulkanDevice _device;
    private readonly ShaderModule _module;
    private readonly DescriptorSetLayout _setLayout;
    private readonly DescriptorPool _descriptorPool;
    private readonly object _poolLock = new(); // descriptor pools are externally synchronised; kernels are shared by threads
    internal PipelineLayout Layout { get; }
    internal Pipeline Pipeline { get; }
    public int Bindings { get; }
    public uint PushBytes { get; }

    public ComputeKernel(VulkanDevice device, string shaderName, int bindings, uint pushBytes, uint maxSets = 256)
    {
        _device = device; Bindings = bindings; PushBytes = pushBytes;
        var vk = device.Vk; var dev = device.Device;
        byte[] code = LoadSpirv(shaderName);
        fixed (byte* c = code)
        {
            var smci = new ShaderModuleCreateInfo { SType = StructureType.ShaderModuleCreateInfo, CodeSize = (nuint)code.Length, PCode = (uint*)c };
            ShaderModule m;
            VulkanDevice.Check(vk.CreateShaderModule(dev, &smci, null, &m), $"vkCreateShaderModule({shaderName})");
            _module = m;
        }
        var b = stackalloc DescriptorSetLayoutBinding[bindings];
        for (int i = 0; i < bindings; i++)
            b[i] = new DescriptorSetLayoutBinding { Binding = (uint)i, DescriptorType = DescriptorType.StorageBuffer, DescriptorCount = 1, StageFlags = ShaderStageFlags.ComputeBit };
        var dslci = new DescriptorSetLayoutCreateInfo { SType = StructureType.DescriptorSetLayoutCreateInfo, BindingCount = (uint)bindings, PBindings = b };
        DescriptorSetLayout sl;
        VulkanDevice.Check(vk.CreateDescriptorSetLayout(dev, &dslci, null, &sl), "vkCreateDescriptorSetLayout");
        _setLayout = sl;
        var range = new PushConstantRange { StageFlags = ShaderStageFlags.ComputeBit, Offset = 0, Size = pushBytes };
        var plci = new PipelineLayoutCreateInfo { SType = StructureType.PipelineLayoutCreateInfo, SetLayoutCount = 1, PSetLayouts = &sl, PushConstantRangeCount = pushBytes > 0 ? 1u : 0u, PPushConstantRanges = &range };
        PipelineLayout pl;
        VulkanDevice.Check(vk.CreatePipelineLayout(dev, &plci, null, &pl), "vkCreatePipelineLayout");
        Layout = pl;
        var entry = (byte*)SilkMarshal.StringToPtr("main");
        var cpci = new ComputePipelineCreateInfo
        {
            SType = StructureType.ComputePipelineCreateInfo, Layout = pl,
            Stage = new PipelineShaderStageCreateInfo { SType = StructureType.PipelineShaderStageCreateInfo, Stage = ShaderStageFlags.ComputeBit, Module = _module, PName = entry },
        };
        Pipeline p;
        var r = vk.CreateComputePipelines(dev, default, 1, &cpci, null, &p);
        SilkMarshal.Free((nint)entry);
        VulkanDevice.Check(r, $"vkCreateComputePipelines({shaderName})");
        Pipeline = p;
        var size = new DescriptorPoolSize { Type = DescriptorType.StorageBuffer, DescriptorCount = maxSets * (uint)bindings };
        var dpci = new DescriptorPoolCreateInfo { SType = StructureType.DescriptorPoolCreateInfo, Flags = DescriptorPoolCreateFlags.FreeDescriptorSetBit, MaxSets = maxSets, PoolSizeCount = 1, PPoolSizes = &size };
        DescriptorPool dp;
        VulkanDevice.Check(vk.CreateDescriptorPool(dev, &dpci, null, &dp), "vkCreateDescriptorPool");
        _descriptorPool = dp;
    }

    /// <summary>The SPIR-V glslc compiled from <c>shaders/NAME.comp</c> at build time (embedded; else beside the assembly).</summary>
    internal static byte[] LoadSpirv(string name)
    {
        using var s = typeof(ComputeKernel).Assembly.GetManifestResourceStream($"shaders/{name}.spv");
        if (s != null)
        {
            var bytes = new byte[s.Length];
            s.ReadExactly(bytes);
            return bytes;
        }
        string file = Path.Combine(AppContext.BaseDirectory, "shaders", name + ".spv");
        if (File.Exists(file)) return File.ReadAllBytes(file);
        throw new VulkanUnavailableException($"SPIR-V for shader '{name}' is missing (embedded resource and {file}): build with glslc installed");
    }

    /// <summary>A descriptor set binding <paramref name="buffers"/> to bindings 0..n-1.</summary>
    public DescriptorSet CreateSet(ReadOnlySpan<VkBuffer> buffers)
    {
        lock (_poolLock) return CreateSetLocked(buffers);
    }

    private DescriptorSet CreateSetLocked(ReadOnlySpan<VkBuffer> buffers)
    {
        var vk = _device.Vk;
        var layout = _setLayout;
        var ai = new DescriptorSetAllocateInfo { SType = StructureType.DescriptorSetAllocateInfo, DescriptorPool = _descriptorPool, DescriptorSetCount = 1, PSetLayouts = &layout };
        DescriptorSet set;
        VulkanDevice.Check(vk.AllocateDescriptorSets(_device.Device, &ai, &set), "vkAllocateDescriptorSets");
        var infos = stackalloc DescriptorBufferInfo[buffers.Length];
        var writes = stackalloc WriteDescriptorSet[buffers.Length];
        for (int i = 0; i < buffers.Length; i++)
        {
            infos[i] = new DescriptorBufferInfo { Buffer = buffers[i], Offset = 0, Range = Vk.WholeSize };
            writes[i] = new WriteDescriptorSet { SType = StructureType.WriteDescriptorSet, DstSet = set, DstBinding = (uint)i, DescriptorCount = 1, DescriptorType = DescriptorType.StorageBuffer, PBufferInfo = &infos[i] };
        }
        vk.UpdateDescriptorSets(_device.Device, (uint)buffers.Length, writes, 0, null);
        return set;
    }

    public void FreeSet(DescriptorSet set)
    {
        lock (_poolLock) _device.Vk.FreeDescriptorSets(_device.Device, _descriptorPool, 1, &set);
    }

    /// <summary>Binds the pipeline and <paramref name="set"/> into <paramref name="cmd"/>.</summary>
    public void Bind(CommandBuffer cmd, DescriptorSet set)
    {
        _device.Vk.CmdBindPipeline(cmd, PipelineBindPoint.Compute, Pipeline);
        _device.Vk.CmdBindDescriptorSets(cmd, PipelineBindPoint.Compute, Layout, 0, 1, &set, 0, null);
    }

    public void Push<T>(CommandBuffer cmd, in T constants) where T : unmanaged
    {
        fixed (T* p = &constants) _device.Vk.CmdPushConstants(cmd, Layout, ShaderStageFlags.ComputeBit, 0, (uint)sizeof(T), p);
    }

    public void Dispose()
    {
        var vk = _device.Vk; var dev = _device.Device;
        vk.DestroyDescriptorPool(dev, _descriptorPool, null);
        vk.DestroyPipeline(dev, Pipeline, null);
        vk.DestroyPipelineLayout(dev, Layout, null);
        vk.DestroyDescriptorSetLayout(dev, _setLayout, null);
        vk.DestroyShaderModule(dev, _module, null);
    }
}
