using System.Diagnostics;
using System.Text;

namespace Ephemera.TestSupport;

/// <summary>Runs an external program (ffmpeg, python3, the CLI) and captures its output.</summary>
public static class ChildProcess
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result Run(string file, IEnumerable<string> args, TimeSpan? timeout = null,
        IDictionary<string, string>? env = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env != null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = new StringBuilder(); var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine(); p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The CLI's built dll (same configuration as the test assembly).</summary>
    public static string CliDll
    {
        get
        {
            var cfg = AppContext.BaseDirectory.Contains("/Debug/") ? "Debug" : "Release";
            return System.IO.Path.Combine(Ephemera.Core.RepoPaths.Root, "src", "Ephemera.Cli", "bin", cfg, "net10.0", "Ephemera.Cli.dll");
        }
    }

    /// <summary>Runs <c>dotnet Ephemera.Cli.dll ARGS</c>.</summary>
    public static Result Cli(params string[] args) => Run("dotnet", new[] { CliDll }.Concat(args), TimeSpan.FromMinutes(10));
}
