using Ephemera.Core;

namespace Ephemera.Vulkan;

/// <summary>
/// The Vulkan path cannot run here: no loader library, no driver (ICD), no device, no compute queue
/// or a missing feature. The message names which; the engine logs it once and runs the SIMD kernels.
/// </summary>
public sealed class VulkanUnavailableException : EphemeraException
{
    public VulkanUnavailableException(string message) : base(message) { }
    public VulkanUnavailableException(string message, Exception inner) : base(message, inner) { }
}
