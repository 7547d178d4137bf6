using System.Text.Json;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Native.Tests;

/// <summary>
/// samples/c/engine_example.c runs the whole engine through native/include/ephemera_engine.h: one
/// camera on the sample clip under the case-3 counting manifest, records printed as JSON lines,
/// and exit 0 only when the pixel ledger balances.
/// </summary>
public class EngineExampleTests
{
    private static string Root => RepoPaths.Root;
    private static string PublishDir =>
        Environment.GetEnvironmentVariable("EPHEMERA_ENGINE_LIB_DIR") is { Length: > 0 } d ? d
            : Path.Combine(Root, "src", "Ephemera.Native", "bin", "Release", "net10.0", "linux-x64", "publish");

    [Fact]
    public void TheCExampleRunsTheEngineAndPrintsRecordsWithABalancedLedger()
    {
        string lib = EnsurePublished();
        string example = BuildExample(Path.GetDirectoryName(lib)!);
        string clip = SampleClip();
        string manifest = Path.Combine(Root, "configs", "manifests", "case3-outdoor-counts.yaml");

        var r = ChildProcess.Run(example, [clip, manifest, "6"], TimeSpan.FromSeconds(120),
            env: new Dictionary<string, string> { ["EPHEMERA_HOME"] = Root });
        string all = $"exit {r.ExitCode}\n--- stdout\n{r.StdOut}\n--- stderr\n{r.StdErr}";
        Assert.True(r.ExitCode == 0, all);

        var records = r.StdOut.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith('{')).ToList();
        Assert.True(records.Count > 0, "no record line\n" + all);
        foreach (var line in records)
        {
            using var doc = JsonDocument.Parse(line); // every record line is one JSON object
            Assert.Equal("plaza-count-1", doc.RootElement.GetProperty("camera").GetString());
            Assert.True(doc.RootElement.TryGetProperty("class", out _), line);
            Assert.True(doc.RootElement.TryGetProperty("payload", out _), line);
        }
        Assert.Contains(r.StdOut.Split('\n'), l => l.StartsWith("ledger: ") && l.TrimEnd().EndsWith(" balanced"));

        string stats = r.StdOut.Split('\n').Single(l => l.StartsWith("stats: "))["stats: ".Length..];
        using var s = JsonDocument.Parse(stats);
        var px = s.RootElement.GetProperty("pixels");
        Assert.True(px.GetProperty("allocated").GetInt64() > 0, stats);
        Assert.Equal(px.GetProperty("allocated").GetInt64(), px.GetProperty("wiped").GetInt64());
        Assert.Equal(0, px.GetProperty("leaked").GetInt64());
        Assert.Equal(0, px.GetProperty("in_use").GetInt64());
        var cam = s.RootElement.GetProperty("cameras").EnumerateArray().Single();
        Assert.True(cam.GetProperty("frames_decoded").GetInt64() > 0, stats);
    }

    [Fact]
    public void ARefusedCameraFailsTheExampleWithTheRequirementId()
    {
        string lib = EnsurePublished();
        string example = BuildExample(Path.GetDirectoryName(lib)!);
        // case3's manifest covers plaza-count-* and bench-*: another camera id is refused before a frame is read.
        var r = ChildProcess.Run(example, [SampleClip(), Path.Combine(Root, "configs", "manifests", "case3-outdoor-counts.yaml"), "1", "lobby-1"],
            TimeSpan.FromSeconds(60), env: new Dictionary<string, string> { ["EPHEMERA_HOME"] = Root });
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.StdOut}\n{r.StdErr}");
        Assert.Contains("add_camera: -21", r.StdErr);
        Assert.Contains("lobby-1", r.StdErr);
        Assert.Contains("[", r.StdErr);
    }

    private static readonly object s_build = new();
    private static string? s_lib, s_example;

    /// <summary>The published ephemera_engine.so; publishes (NativeAOT, minutes) when missing or older than a source.</summary>
    private static string EnsurePublished()
    {
        lock (s_build)
        {
            if (s_lib != null) return s_lib;
            string lib = Path.Combine(PublishDir, "ephemera_engine.so");
            if (Environment.GetEnvironmentVariable("EPHEMERA_ENGINE_LIB_DIR") is not { Length: > 0 } && Stale(lib))
            {
                var p = ChildProcess.Run("dotnet", ["publish", Path.Combine(Root, "src", "Ephemera.Native"), "-c", "Release", "-r", "linux-x64", "-nologo", "-clp:ErrorsOnly", "-v:q"],
                    TimeSpan.FromMinutes(10), workingDirectory: Root);
                Assert.True(p.ExitCode == 0, $"dotnet publish failed ({p.ExitCode})\n{p.StdOut}\n{p.StdErr}");
            }
            Assert.True(File.Exists(lib), $"{lib} missing after publish");
            foreach (var dep in new[] { "libephemera_native.so", "libonnxruntime.so", "libe_sqlite3.so" })
                Assert.True(File.Exists(Path.Combine(PublishDir, dep)), $"{dep} not beside {lib}: the folder must be self-contained");
            return s_lib = lib;
        }
    }

    private static bool Stale(string lib)
    {
        if (!File.Exists(lib)) return true;
        var built = File.GetLastWriteTimeUtc(lib);
        string[] ext = [".cs", ".csproj", ".props", ".xml", ".c", ".h", ".yaml"];
        return new[] { Path.Combine(Root, "src"), Path.Combine(Root, "native") }
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(f => ext.Contains(Path.GetExtension(f)))
            .Any(f => File.GetLastWriteTimeUtc(f) > built);
    }

    /// <summary>Builds samples/c against the published library (CMake, incremental) and returns the example.</summary>
    private static string BuildExample(string libDir)
    {
        lock (s_build)
        {
            if (s_example != null) return s_example;
            string build = Path.Combine(Root, "build", "samples-c");
            var c = ChildProcess.Run("cmake", ["-S", Path.Combine(Root, "samples", "c"), "-B", build, "-DCMAKE_BUILD_TYPE=Release", $"-DEPHEMERA_ENGINE_LIB_DIR={libDir}"], TimeSpan.FromMinutes(2));
            Assert.True(c.ExitCode == 0, $"cmake configure failed\n{c.StdOut}\n{c.StdErr}");
            var b = ChildProcess.Run("cmake", ["--build", build], TimeSpan.FromMinutes(2));
            Assert.True(b.ExitCode == 0, $"cmake build failed\n{b.StdOut}\n{b.StdErr}");
            string exe = Path.Combine(build, "engine_example");
            Assert.True(File.Exists(exe), $"{exe} was not built\n{c.StdErr}");
            return s_example = exe;
        }
    }

    private static string SampleClip()
    {
        string local = Path.Combine(RepoPaths.Var, "data", "vtest.avi"); // ./ephemera's ensure_data
        return File.Exists(local) ? local : TestPaths.Video("vtest.avi");
    }
}
