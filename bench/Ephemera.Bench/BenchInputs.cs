using Ephemera.Core;

namespace Ephemera.Bench;

/// <summary>Shared benchmark inputs from the data mirror, checked once with a clear error.</summary>
internal static class BenchInputs
{
    /// <summary>ADL-Rundle-6 <c>video.mp4</c>: 1920×1080, 30 fps H.264 with B-frames.</summary>
    public const string AdlRundle6 = "mot15/ADL-Rundle-6/video.mp4";
    /// <summary>Frames in <see cref="AdlRundle6"/>.</summary>
    public const int AdlRundle6Frames = 525;

    /// <summary>The mirror path of <paramref name="relative"/>; throws naming it when it is missing.</summary>
    public static string Require(string relative)
    {
        string file = RepoPaths.Data(relative);
        if (!File.Exists(file)) throw new FileNotFoundException($"benchmark input missing: {file}");
        return file;
    }
}
