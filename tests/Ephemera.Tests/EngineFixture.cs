using Ephemera.Config;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Tests;

/// <summary>What the front-door tests share: a temp store, the sample clip and the case-3 counting manifest.</summary>
internal static class Samples
{
    public static readonly string Vtest = TestPaths.Video("vtest.avi");
    public static string Manifest(string file) => Path.Combine(RepoPaths.Root, "configs", "manifests", file);
    public static ManifestSource Counts => ManifestSource.File(Manifest("case3-outdoor-counts.yaml"));

    public static CameraSpec Counting(string id, double detectFps = 5) => new(id, Vtest)
    {
        Loop = true, DetectFps = detectFps,
        Analytics = new AnalyticsConfig { Lines = [new LineConfig("mid", 384, 0, 384, 576)] },
    };

    public static EphemeraOptions Options(TempDir dir) => new() { StorePath = dir.File("e.db"), AuditIntervalSeconds = 1, MaxCameras = 4 };
}
