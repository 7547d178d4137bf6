using Ephemera.Config;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Config.Tests;

public class ConfigLoaderTests
{
    private static string Write(TempDir dir, string yaml)
    {
        var path = dir.File("engine.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void DemoConfigLoadsWithItsCamerasAndManifests()
    {
        var cfg = ConfigLoader.Load(Path.Combine(RepoPaths.Root, "configs", "demo.yaml"));
        Assert.True(cfg.Cameras.Count >= 4);
        Assert.All(cfg.Cameras, c => Assert.False(string.IsNullOrEmpty(c.Manifest)));
        // The plaza cameras share vtest.avi; the case-4 street camera and the case-1 entrance camera have their own clips.
        Assert.All(cfg.Cameras.Where(c => !c.Id.StartsWith("case", StringComparison.Ordinal)), c => Assert.EndsWith("vtest.avi", c.Source));
        Assert.EndsWith("street.mp4", Assert.Single(cfg.Cameras, c => c.Id.StartsWith("case4", StringComparison.Ordinal)).Source);
        Assert.EndsWith("entrance.mp4", Assert.Single(cfg.Cameras, c => c.Id.StartsWith("case1", StringComparison.Ordinal)).Source);
        Assert.Equal(cfg.Cameras.Count, cfg.Cameras.Select(c => c.Id).Distinct().Count());
    }

    [Fact]
    public void AForecastSectionIsReadWithItsDefaults()
    {
        using var dir = new TempDir();
        var cfg = ConfigLoader.Load(Write(dir, "cameras:\n  - id: a\n    source: x\n    forecast: {service_rate: 24, max_tills: 6}\n  - id: b\n    source: y\n"));
        Assert.Equal(new ForecastConfig(24, TargetWaitMinutes: 2, CheckoutShare: 1, MaxTills: 6), cfg.Cameras[0].Forecast);
        Assert.Null(cfg.Cameras[1].Forecast);
    }

    [Fact]
    public void RelativePathsResolveAgainstTheConfigDirectory()
    {
        using var dir = new TempDir();
        var cfg = ConfigLoader.Load(Write(dir, "cameras:\n  - id: a\n    source: clips/a.mp4\n    manifest: m/a.yaml\n"));
        Assert.Equal(Path.Combine(dir.Path, "clips", "a.mp4"), cfg.Cameras[0].Source);
        Assert.Equal(Path.Combine(dir.Path, "m", "a.yaml"), cfg.Cameras[0].Manifest);
    }

    [Fact]
    public void DetectorShapeAndParallelRunsAreRead()
    {
        using var dir = new TempDir();
        var defaults = ConfigLoader.Load(Write(dir, "cameras:\n  - id: a\n    source: x\n"));
        Assert.Equal((InputFit.Auto, 0, DecodeQuality.Fast), (defaults.Engine.InputFit, defaults.Engine.ParallelRuns, defaults.Engine.Decode));
        var set = ConfigLoader.Load(Write(dir, "engine:\n  input_fit: square\n  parallel_runs: 3\n  decode: exact\ncameras:\n  - id: a\n    source: x\n"));
        Assert.Equal((InputFit.Square, 3, DecodeQuality.Exact), (set.Engine.InputFit, set.Engine.ParallelRuns, set.Engine.Decode));
        Assert.Equal(KernelChoice.Simd, defaults.Engine.Kernels);
        Assert.Equal(KernelChoice.Vulkan, ConfigLoader.Load(Write(dir, "engine:\n  kernels: vulkan\ncameras:\n  - id: a\n    source: x\n")).Engine.Kernels);
        Assert.Equal(DetectorPrecision.Fp32, defaults.Engine.Precision);
        Assert.Equal(DetectorPrecision.Auto, ConfigLoader.Load(Write(dir, "engine:\n  precision: auto\ncameras:\n  - id: a\n    source: x\n")).Engine.Precision);
        Assert.Equal(DetectorPrecision.Int8, ConfigLoader.Load(Write(dir, "engine:\n  precision: int8\ncameras:\n  - id: a\n    source: x\n")).Engine.Precision);
    }

    [Fact]
    public void ScheduleIsFullByDefaultAndByNeedIsRead()
    {
        using var dir = new TempDir();
        var defaults = ConfigLoader.Load(Write(dir, "cameras:\n  - id: a\n    source: x\n"));
        Assert.Equal(ScheduleMode.Full, defaults.Engine.Schedule.Mode);
        var set = ConfigLoader.Load(Write(dir, "engine:\n  schedule: { mode: by_need, floor_fps: 2, empty_floor_fps: 0.5, motion_threshold: 0.01, pixel_delta: 20, guard_band_px: 30 }\ncameras:\n  - id: a\n    source: x\n"));
        Assert.Equal(new ScheduleOptions { Mode = ScheduleMode.ByNeed, FloorFps = 2, EmptyFloorFps = 0.5, MotionThreshold = 0.01, PixelDelta = 20, GuardBandPx = 30 }, set.Engine.Schedule);
    }

    [Fact]
    public void UrlsAreKeptAsWritten()
    {
        using var dir = new TempDir();
        var cfg = ConfigLoader.Load(Write(dir, "cameras:\n  - id: a\n    source: rtsp://127.0.0.1:8554/cam\n"));
        Assert.Equal("rtsp://127.0.0.1:8554/cam", cfg.Cameras[0].Source);
    }

    [Theory]
    [InlineData("cameras:\n  - id: a\n    sourse: x.mp4\n", "cameras[0].sourse", "unknown key")]
    [InlineData("cameras:\n  - source: x.mp4\n", "cameras[0].id", "missing")]
    [InlineData("cameras:\n  - id: a\n", "cameras[0].source", "missing")]
    [InlineData("cameras:\n  - id: a\n    source: x\n  - id: a\n    source: y\n", "cameras[1].id", "duplicate")]
    [InlineData("engine:\n  detect_fps: fast\ncameras:\n  - id: a\n    source: x\n", "engine.detect_fps", "not a number")]
    [InlineData("engine:\n  score_threshold: 3\ncameras:\n  - id: a\n    source: x\n", "engine.score_threshold", "outside")]
    [InlineData("cameras:\n  - id: a\n    source: x\n    loop: maybe\n", "cameras[0].loop", "true/false")]
    [InlineData("cameras:\n  - id: 'a b'\n    source: x\n", "cameras[0].id", "letters")]
    [InlineData("cameras: []\n", "cameras", "at least one camera")]
    [InlineData("engine:\n  input_fit: wide\ncameras:\n  - id: a\n    source: x\n", "engine.input_fit", "'wide' is not one of: auto, square")]
    [InlineData("engine:\n  schedule: { mode: sometimes }\ncameras:\n  - id: a\n    source: x\n", "engine.schedule.mode", "'sometimes' is not one of: full, by_need")]
    [InlineData("engine:\n  schedule: { floor_fps: 0 }\ncameras:\n  - id: a\n    source: x\n", "engine.schedule.floor_fps", "outside")]
    [InlineData("engine:\n  schedule: { empty_floor_fps: 0 }\ncameras:\n  - id: a\n    source: x\n", "engine.schedule.empty_floor_fps", "outside")]
    [InlineData("engine:\n  schedule: { guard_band: 3 }\ncameras:\n  - id: a\n    source: x\n", "engine.schedule.guard_band", "unknown key")]
    [InlineData("engine:\n  decode: cheap\ncameras:\n  - id: a\n    source: x\n", "engine.decode", "'cheap' is not one of: fast, exact")]
    [InlineData("engine:\n  kernels: cuda\ncameras:\n  - id: a\n    source: x\n", "engine.kernels", "'cuda' is not one of: simd, vulkan, auto")]
    [InlineData("engine:\n  precision: fp16\ncameras:\n  - id: a\n    source: x\n", "engine.precision", "'fp16' is not one of: auto, fp32, int8")]
    [InlineData("engine:\n  parallel_runs: -1\ncameras:\n  - id: a\n    source: x\n", "engine.parallel_runs", "outside")]
    [InlineData("cameras:\n  - id: a\n    source: x\n    analytics:\n      lines:\n        - points: [1, 2, 3]\n", "lines[0].points", "expected 4 numbers")]
    [InlineData("cameras:\n  - id: a\n    source: x\n    analytics:\n      zones:\n        - polygon: [0, 0, 1, 1]\n", "zones[0].polygon", "at least 3 points")]
    [InlineData("cameras:\n  - id: a\n    source: x\n    forecast:\n      target_wait_minutes: 2\n", "cameras[0].forecast.service_rate", "missing")]
    [InlineData("cameras:\n  - id: a\n    source: x\n    forecast: {service_rate: 0}\n", "cameras[0].forecast.service_rate", "outside")]
    [InlineData("cameras:\n  - id: a\n    source: x\n    forecast: {service_rate: 30, checkout_share: 0}\n", "cameras[0].forecast.checkout_share", "above 0")]
    [InlineData("cameras:\n  - id: a\n    source: x\n    forecast: {service_rate: 30, tills: 4}\n", "cameras[0].forecast.tills", "unknown key")]
    [InlineData("cameras:\n  - id: a\n    source: x\n    analytics:\n      calibration:\n        - image: [0, 0]\n          floor: [0, 0]\n", "calibration", "at least 4")]
    public void ErrorsNameTheFileTheKeyAndTheProblem(string yaml, string key, string problem)
    {
        using var dir = new TempDir();
        var path = Write(dir, yaml);
        var e = Assert.Throws<EphemeraException>(() => ConfigLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(key, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void YamlSyntaxErrorsNameLineAndColumn()
    {
        using var dir = new TempDir();
        var path = Write(dir, "cameras:\n  - id: a\n    source: [unclosed\n");
        var e = Assert.Throws<EphemeraException>(() => ConfigLoader.Load(path));
        Assert.Contains(path + ":", e.Message);
        Assert.Contains("YAML syntax error", e.Message);
    }

    [Fact]
    public void MissingFileIsAClearError()
    {
        var e = Assert.Throws<EphemeraException>(() => ConfigLoader.Load("/nonexistent/engine.yaml"));
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void AnalyticsSettingsAreBound()
    {
        using var dir = new TempDir();
        var cfg = ConfigLoader.Load(Write(dir, """
            engine:
              detect_fps: 2.5
            cameras:
              - id: a
                source: x.avi
                detect_fps: 3
                analytics:
                  lines:
                    - name: door
                      points: [10, 20, 30, 40]
                  zones:
                    - name: shelf
                      polygon: [0, 0, 10, 0, 10, 10]
                      shelf_front: true
                  floor_size: [20, 10]
            """));
        Assert.Equal(2.5, cfg.Engine.DetectFps);
        var cam = cfg.Cameras[0];
        Assert.Equal(3, cam.DetectFps);
        Assert.Equal(new LineConfig("door", 10, 20, 30, 40), cam.Analytics.Lines[0]);
        Assert.True(cam.Analytics.Zones[0].ShelfFront);
        Assert.Equal(3, cam.Analytics.Zones[0].Polygon.Count);
        Assert.Equal(new[] { 20.0, 10.0 }, cam.Analytics.FloorSize);
    }
}
