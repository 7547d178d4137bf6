namespace Ephemera.Core;

/// <summary>
/// Where the engine finds its repository, the shared mirror of models and data, and its working
/// directory (<c>var/</c>). Every path can be overridden by an environment variable so that an
/// embedding host, a test or CI can point the engine elsewhere.
/// </summary>
public static class RepoPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The directory that holds <c>Engine.sln</c> (or <c>EPHEMERA_HOME</c> when set).</summary>
    public static string Root => s_root.Value;

    /// <summary><c>../shared</c> beside the repository, when present.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    /// <summary>Mirror of data sets: <c>EPHEMERA_DATA_MIRROR</c>, else <c>../shared/data</c>.</summary>
    public static string DataMirror =>
        Environment.GetEnvironmentVariable("EPHEMERA_DATA_MIRROR") is { Length: > 0 } d ? d : Path.Combine(Shared, "data");

    /// <summary>Mirror of model weights: <c>EPHEMERA_MODEL_MIRROR</c>, else <c>../shared/models</c>.</summary>
    public static string ModelMirror =>
        Environment.GetEnvironmentVariable("EPHEMERA_MODEL_MIRROR") is { Length: > 0 } d ? d : Path.Combine(Shared, "models");

    /// <summary>The engine's working directory: <c>EPHEMERA_VAR</c>, else <c>var/</c> in the repository.</summary>
    public static string Var =>
        Environment.GetEnvironmentVariable("EPHEMERA_VAR") is { Length: > 0 } d ? d : Path.Combine(Root, "var");

    /// <summary>Fetched, sha256-checked model files (never committed).</summary>
    public static string Models => Path.Combine(Var, "models");

    /// <summary>A file under the shared data mirror, e.g. <c>Data("video/vtest.avi")</c>.</summary>
    public static string Data(string relative) => Path.Combine(DataMirror, relative);

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("EPHEMERA_HOME") is { Length: > 0 } home) return Path.GetFullPath(home);
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}
