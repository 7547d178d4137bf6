using Ephemera.Core;

namespace Ephemera.TestSupport;

/// <summary>Files the tests read from <c>../shared</c> (never copied into the repository).</summary>
public static class TestPaths
{
    public static string Video(string name) => Existing(RepoPaths.Data(Path.Combine("video", name)));
    public static string Mot15(string relative) => Existing(RepoPaths.Data(Path.Combine("mot15", relative)));
    public static string Image(string name) => Existing(RepoPaths.Data(Path.Combine("images", name)));
    public static string Model(string file) => Existing(Path.Combine(RepoPaths.ModelMirror, file));

    private static string Existing(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"test asset missing: {path} (is ../shared beside the repository?)", path);
}

/// <summary>A temporary directory removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ephemera-test-" + Guid.NewGuid().ToString("N")[..12]);
    public TempDir() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
