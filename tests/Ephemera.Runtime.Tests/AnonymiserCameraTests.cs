using Ephemera.Cli;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.TestSupport;

namespace Ephemera.Runtime.Tests;

/// <summary>A case-4 camera in the engine: its frames are anonymised on the held frame, checked, encoded and stored; nothing else leaves.</summary>
[Collection("engine")]
public sealed class AnonymiserCameraTests : IDisposable
{
    private readonly TempDir _dir = new();
    private static string Case4 => Path.Combine(RepoPaths.Root, "configs", "manifests", "case4-vehicle-streetscape.yaml");

    private static CameraConfig Taxi(string? manifest = null) => new()
    {
        Id = "case4-taxi-dashcam", Source = RepoPaths.Data("mot15/ADL-Rundle-6/video.mp4"), Manifest = manifest ?? Case4, Loop = true, DetectFps = 2,
    };

    [Fact]
    public void ACase4CameraStoresAnonymisedImagesThroughTheOnePublishingPath()
    {
        var before = PixelLedger.Snapshot();
        var config = new EngineConfig("(test)", new EngineOptions { StorePath = _dir.File("e.db"), AuditIntervalSeconds = 2 }, [Taxi()]);
        var images = new List<AnonymisedImageRecord>();
        RunSummary summary;
        using (var host = new EngineHost(config, new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(14) }))
        {
            host.Records.AddSink(new Sink(r => { if (r is AnonymisedImageRecord a) lock (images) images.Add(a); }));
            host.Run();
            summary = RunSummary.From(host);
        }
        var cam = summary.Cameras.Single();
        Assert.True(cam.PixelStageProcessed > 0, "the anonymiser never ran");
        // Every 10th detected frame is anonymised; each one was released or withheld by the output check, never both.
        Assert.NotEmpty(images);
        Assert.All(images, a => Assert.Equal(DataClass.AnonymisedImage, a.Class));
        Assert.All(images, a => Assert.True(a.Jpeg.Length > 1000 && a.Jpeg.Span[0] == 0xFF && a.Jpeg.Span[1] == 0xD8, "not a JPEG"));
        Assert.Equal(images.Count, cam.Outputs!["AnonymisedImage"].Records);
        using (var store = EphemeraStore.Open(_dir.File("e.db")))
            Assert.Equal(images.Count, store.CountRows("case4-taxi-dashcam", DataClass.AnonymisedImage));
        var after = PixelLedger.Snapshot();
        Assert.True(after.Allocated - before.Allocated == after.Wiped - before.Wiped,
            $"allocated {after.Allocated - before.Allocated}, wiped {after.Wiped - before.Wiped}, in use {after.InUse} (before {before.InUse}); " +
            $"processed {cam.PixelStageProcessed}, skipped {cam.PixelStageSkipped}, images {images.Count}, state {cam.State} {cam.Error}");
        Assert.Equal(before.Leaked, after.Leaked);
        Assert.Equal(cam.FramesDecoded, cam.FramesDestroyed);
    }

    [Fact]
    public void ACase4CameraWhoseManifestDoesNotDeclareAnonymisedImagesIsRefused()
    {
        var yaml = File.ReadAllLines(Case4).Where(l => !l.Contains("{class: AnonymisedImage")).ToList();
        // The recipient's classes would name an undeclared class too: drop the recipients block.
        int r = yaml.FindIndex(l => l.StartsWith("recipients:"));
        int end = yaml.FindIndex(r + 1, l => l.Length > 0 && !char.IsWhiteSpace(l[0]));
        yaml.RemoveRange(r, end - r);
        yaml.Insert(r, "recipients: []");
        var path = _dir.File("case4-no-images.yaml");
        File.WriteAllLines(path, yaml);
        var config = new EngineConfig("(test)", new EngineOptions { StorePath = _dir.File("e.db") }, [Taxi(path)]);
        using var host = new EngineHost(config);
        var cam = host.Cameras.Single();
        Assert.Equal(CameraState.Refused, cam.State);
        Assert.Contains("AnonymisedImage", cam.Error);
        Assert.Equal(0, cam.FramesDecoded);
    }

    private sealed class Sink(Action<DerivedRecord> write) : IOutputSink
    {
        public void Write(DerivedRecord record) => write(record);
    }

    public void Dispose() => _dir.Dispose();
}
