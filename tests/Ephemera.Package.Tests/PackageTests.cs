using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Package.Tests;

/// <summary>
/// <c>dotnet pack src/Ephemera</c> into a temporary feed, once for the class. The package version is
/// unique per run (a prerelease of the project's version), so no copy cached by an earlier restore
/// can stand in for the package under test.
/// </summary>
public sealed class PackedFeed : IDisposable
{
    public TempDir Dir { get; } = new();
    public string Feed => Dir.File("feed");
    public string Version { get; } = "0.2.0-test" + DateTime.UtcNow.ToString("yyyyMMddHHmmss");
    public string Nupkg => Path.Combine(Feed, $"Ephemera.{Version}.nupkg");
    public static string Configuration => AppContext.BaseDirectory.Contains("/Debug/") ? "Debug" : "Release";

    public PackedFeed()
    {
        string project = Path.Combine(RepoPaths.Root, "src", "Ephemera");
        var args = new List<string> { "pack", project, "-c", Configuration, "-o", Feed, "-nologo", $"-p:PackageVersion={Version}" };
        // `./ephemera test` has built the solution: pack what was built rather than build again.
        if (File.Exists(Path.Combine(project, "bin", Configuration, "net10.0", "Ephemera.dll"))) args.Add("--no-build");
        var r = PackageTests.Dotnet(args, RepoPaths.Root, TimeSpan.FromMinutes(4));
        if (r.ExitCode != 0 || !File.Exists(Nupkg))
        {
            Dir.Dispose(); // xunit does not dispose a fixture whose constructor threw
            throw new InvalidOperationException($"dotnet pack failed ({r.ExitCode}):\n{r.StdOut}\n{r.StdErr}");
        }
    }

    public void Dispose() => Dir.Dispose();
}

/// <summary>The package a host references: its content, and samples/ConsoleHost built and run from it outside the repository.</summary>
public class PackageTests(PackedFeed packed) : IClassFixture<PackedFeed>
{
    private static readonly string[] s_engineAssemblies =
        ["Ephemera", "Ephemera.Core", "Ephemera.Decode", "Ephemera.Config", "Ephemera.Inference", "Ephemera.Tracking",
         "Ephemera.Governance", "Ephemera.Analytics", "Ephemera.Runtime", "Ephemera.Vulkan"];

    [Fact]
    public void PackageCarriesTheEngineAssembliesTheNativeCoreAndTheModelManifestAndDependsOnlyOnThirdPartyPackages()
    {
        using var zip = ZipFile.OpenRead(packed.Nupkg);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (var a in s_engineAssemblies) Assert.Contains($"lib/net10.0/{a}.dll", entries);
        Assert.Contains(entries, e => Regex.IsMatch(e, @"^runtimes/linux-x64/native/libephemera[^/]*\.so$"));
        Assert.Contains("contentFiles/any/any/models/models.yaml", entries);
        var yaml = zip.GetEntry("contentFiles/any/any/models/models.yaml")!;
        using (var s = new StreamReader(yaml.Open()))
            Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Root, "models", "models.yaml")), s.ReadToEnd());

        XNamespace ns = "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd";
        XDocument nuspec;
        using (var s = zip.GetEntry("Ephemera.nuspec")!.Open()) nuspec = XDocument.Load(s);
        var meta = nuspec.Root!.Element(ns + "metadata")!;
        Assert.Equal("Ephemera", meta.Element(ns + "id")!.Value);
        Assert.Equal(packed.Version, meta.Element(ns + "version")!.Value);
        var deps = meta.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        foreach (var id in new[] { "Microsoft.ML.OnnxRuntime", "Microsoft.Data.Sqlite", "YamlDotNet", "prometheus-net",
                     "System.Numerics.Tensors", "Microsoft.Extensions.Logging.Abstractions", "Microsoft.Extensions.Hosting.Abstractions", "Silk.NET.Vulkan" })
            Assert.Contains(id, deps);
        Assert.DoesNotContain(deps, d => d.StartsWith("Ephemera", StringComparison.OrdinalIgnoreCase)); // inside, not beside
        var content = Assert.Single(meta.Element(ns + "contentFiles")!.Elements(ns + "files"));
        Assert.Equal("any/any/models/models.yaml", content.Attribute("include")!.Value);
        Assert.Equal("true", content.Attribute("copyToOutput")!.Value);
    }

    [Fact]
    public void ConsoleHostRestoredFromTheFeedRunsOutsideTheRepositoryAndReleasesCountsWithABalancedLedger()
    {
        string work = packed.Dir.File("host");
        string app = Path.Combine(work, "ConsoleHost");
        Directory.CreateDirectory(app);
        foreach (var f in new[] { "ConsoleHost.csproj", "Program.cs" })
            File.Copy(Path.Combine(RepoPaths.Root, "samples", "ConsoleHost", f), Path.Combine(app, f));
        // The feed under test plus the machine's own sources; restored into a private packages folder,
        // with the machine's packages folder as a fallback so third-party packages are not fetched again.
        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } np ? np
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(work, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><add key="ephemera-under-test" value="{packed.Feed}" /></packageSources>
              <fallbackPackageFolders><add key="machine" value="{machinePackages}" /></fallbackPackageFolders>
            </configuration>
            """);
        string version = $"-p:EphemeraVersion={packed.Version}";
        var restore = Dotnet(["restore", app, "--packages", Path.Combine(work, "packages"), version, "-nologo"], work, TimeSpan.FromMinutes(4));
        Assert.True(restore.ExitCode == 0, restore.StdOut + restore.StdErr);
        var build = Dotnet(["build", app, "--no-restore", "-c", "Release", version, "-nologo", "-v:q"], work, TimeSpan.FromMinutes(4));
        Assert.True(build.ExitCode == 0, build.StdOut + build.StdErr);

        string bin = Path.Combine(app, "bin", "Release", "net10.0");
        Assert.True(File.Exists(Path.Combine(bin, "models", "models.yaml")), "the manifest did not land beside the host");
        Assert.True(File.Exists(Path.Combine(bin, "runtimes", "linux-x64", "native", "libephemera_native.so")), "the native core did not land beside the host");
        using (var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(app, "obj", "project.assets.json"))))
        {
            var libraries = assets.RootElement.GetProperty("libraries");
            Assert.Equal("package", libraries.GetProperty($"Ephemera/{packed.Version}").GetProperty("type").GetString());
            Assert.DoesNotContain(libraries.EnumerateObject(), l => l.Value.GetProperty("type").GetString() == "project");
        }

        // Run from a directory with no repository above it and no EPHEMERA_HOME: the manifest must come
        // from beside the assemblies, the weights from the mirror into the host's models directory.
        string run = Path.Combine(work, "run");
        Directory.CreateDirectory(run);
        var env = new Dictionary<string, string>
        {
            ["EPHEMERA_HOME"] = "", ["EPHEMERA_VAR"] = "", ["EPHEMERA_MODEL_MIRROR"] = RepoPaths.ModelMirror,
        };
        string manifest = Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml");
        var r = ChildProcess.Run("dotnet", [Path.Combine(bin, "ConsoleHost.dll"), TestPaths.Video("vtest.avi"), manifest, "8", "plaza-count-1"],
            TimeSpan.FromMinutes(2), env, run);
        string all = $"exit {r.ExitCode}\n--- stdout\n{r.StdOut}\n--- stderr\n{r.StdErr}";
        Assert.True(r.ExitCode == 0, all);

        var lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var counts = lines.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(j => j.GetProperty("class").GetString() == "count").ToList();
        Assert.True(counts.Count >= 1, all);
        foreach (var c in counts)
        {
            Assert.Equal("plaza-count-1", c.GetProperty("camera").GetString());
            Assert.Contains("crossing-mid:person", c.GetProperty("payload").GetProperty("rows").EnumerateArray().Select(e => e.GetString()));
        }
        var ledger = lines.Select(l => Regex.Match(l, @"^ledger: allocated=(\d+) wiped=(\d+) leaked=(\d+)$")).Single(m => m.Success);
        long allocated = long.Parse(ledger.Groups[1].Value), wiped = long.Parse(ledger.Groups[2].Value), leaked = long.Parse(ledger.Groups[3].Value);
        Assert.True(allocated > 0, all);
        Assert.Equal(allocated, wiped);
        Assert.Equal(0, leaked);
        Assert.True(File.Exists(Path.Combine(bin, "models", "yolox_nano_coco_416.onnx")), "the weights were not fetched into the host's models directory");
        Assert.False(Directory.Exists(Path.Combine(run, "var")), "the engine fell back to a var/ directory in the working directory");
    }

    /// <summary>
    /// Runs the dotnet CLI without EPHEMERA_HOME and without the MSBuild variables a test host may
    /// inherit from <c>dotnet test</c> (they would point the child build at the outer one's SDK state).
    /// </summary>
    internal static ChildProcess.Result Dotnet(IEnumerable<string> args, string workingDirectory, TimeSpan timeout)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var k in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "EPHEMERA_HOME").ToList())
            psi.Environment.Remove(k);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} did not finish in {timeout}");
        }
        return new ChildProcess.Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
