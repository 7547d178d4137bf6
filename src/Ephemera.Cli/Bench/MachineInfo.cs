using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace Ephemera.Cli.Bench;

/// <summary>
/// The machine a bench ran on, for a report that is handed on: CPU model and flags from
/// <c>/proc/cpuinfo</c> (the SIMD and VNNI flags decide which kernels ONNX Runtime and the engine
/// use), logical cores, memory, OS, runtime, and the ONNX Runtime provider the detector ran on.
/// </summary>
public static class MachineInfo
{
    /// <summary>Flags worth a reader's eye first (the rest are listed too, in <c>cpu_flags</c>).</summary>
    private static readonly string[] s_simdFlags = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16"];

    public static JsonObject Describe(string provider)
    {
        string model = "", flags = "";
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon < 0) continue;
                string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                if (model.Length == 0 && key == "model name") model = value;
                else if (flags.Length == 0 && key is "flags" or "Features") flags = value;
                if (model.Length > 0 && flags.Length > 0) break;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        if (model.Length == 0) model = RuntimeInformation.ProcessArchitecture.ToString();
        var all = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        return new JsonObject
        {
            ["cpu_model"] = model,
            ["cores"] = Environment.ProcessorCount,
            ["simd"] = new JsonArray(s_simdFlags.Where(all.Contains).Select(f => (JsonNode)f).ToArray()),
            ["cpu_flags"] = flags,
            ["memory_mb"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024.0)),
            ["os"] = RuntimeInformation.OSDescription,
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["provider"] = provider,
        };
    }
}
