namespace Ephemera.Analytics.Tests;

/// <summary>Writes rendered images for a human to look at when <c>EPHEMERA_PREVIEW_DIR</c> is set (never in git).</summary>
internal static class Preview
{
    public static void Save(string name, byte[] png)
    {
        if (Environment.GetEnvironmentVariable("EPHEMERA_PREVIEW_DIR") is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, name), png);
        }
    }
}
