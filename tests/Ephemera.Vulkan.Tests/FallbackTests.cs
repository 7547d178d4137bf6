using Ephemera.TestSupport;

namespace Ephemera.Vulkan.Tests;

public class FallbackTests
{
    // Needs no driver: it proves the engine runs without one.
    [Fact]
    public void KernelsVulkanWithoutADriverLogsOneClearLineAndRunsSimd()
    {
        var r = ChildProcess.Run("dotnet", [typeof(Program).Assembly.Location, "fallback"], TimeSpan.FromMinutes(2),
            env: new Dictionary<string, string> { ["VK_ICD_FILENAMES"] = "/nonexistent/icd.json", ["VK_DRIVER_FILES"] = "/nonexistent/icd.json" });
        Assert.True(r.ExitCode == 0, $"child failed ({r.ExitCode}): {r.StdOut}\n{r.StdErr}");
        var lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // The typed error names the cause.
        var open = Assert.Single(lines, l => l.StartsWith("open error:"));
        Assert.Matches("no Vulkan (driver|device|loader)", open);
        // Exactly one log line, saying Vulkan is unavailable and SIMD runs.
        var log = Assert.Single(lines, l => l.StartsWith("log:"));
        Assert.Contains("unavailable", log);
        Assert.Contains("running the SIMD kernels", log);
        // And the SIMD preprocess ran on a 1080p frame: letterboxed 416×234 content, real pixels.
        var ran = Assert.Single(lines, l => l.StartsWith("ran:"));
        Assert.StartsWith("ran: FramePreprocessor 416x234", ran);
        Assert.DoesNotContain("nonzero=0", ran);
    }

    [VulkanFact]
    public void SimdIsChosenWithoutTouchingVulkanAndAutoRefusesACpuDriver()
    {
        var logs = new List<string>();
        Assert.Null(KernelSelection.Select(Config.KernelChoice.Simd, logs.Add));
        Assert.Empty(logs);
        var auto = KernelSelection.Select(Config.KernelChoice.Auto, logs.Add);
        using (auto as IDisposable)
        {
            using var device = VulkanDevice.Open();
            // lavapipe (a CPU driver) never wins auto; a real GPU only if it measured faster (then the line says so).
            if (!device.IsHardware) Assert.Null(auto);
            Assert.StartsWith("kernels: auto chose", Assert.Single(logs));
        }
    }
}
