using Ephemera.Anonymisation;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Inference.Runtime;
using Ephemera.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// Case-4 anonymised images in the JetStream object store against a real nats-server: a frame
/// anonymised by the real anonymiser under the case-4 manifest goes in with its camera, manifest and
/// expiry, comes back byte for byte, and the collector's sweep deletes it at its retention's end,
/// audited.
/// </summary>
public sealed class ImageObjectTests
{
    [Fact]
    public async Task An_anonymised_image_is_stored_with_its_expiry_and_the_collector_deletes_it_at_the_end_of_its_retention_audited()
    {
        using var nats = BrokerProcess.Nats();
        using var dir = new TempDir();
        var m = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case4-vehicle-streetscape.yaml")).ForCamera("case4-taxi-dashcam");
        var at = DateTimeOffset.UtcNow;
        Governance.Records.AnonymisedImageRecord record;
        using (var source = VideoSource.Open(TestPaths.Video("traffic_640x360.mp4"), new SourceOptions { Hardware = HardwareDecode.None, PoolBuffers = 4, DecoderThreads = 1 }))
        using (var anonymiser = new StreetAnonymiser(m, null, new InferenceOptions(intraOpThreads: 2, parallelRuns: 1)))
        {
            Assert.Equal(ReadStatus.Frame, source.Read(out var frame));
            using (frame)
                record = anonymiser.Anonymise(frame!.View, new Detections(), at).Record
                    ?? throw new Xunit.Sdk.XunitException("the anonymiser withheld the frame");
        }

        await using var c = await ClusterConnection.ConnectAsync(nats.Url, "test");
        var images = await ImageObjects.OpenAsync(c);
        Assert.Empty(await images.ListAsync().WaitAsync(TimeSpan.FromSeconds(10))); // an empty bucket answers at once (the collector sweeps it in its loop)
        string name = await images.PutAsync(record, m);
        Assert.Equal(name, await images.PutAsync(record, m)); // a retry overwrites, never a second copy
        var listed = Assert.Single(await images.ListAsync());
        Assert.Equal((name, m.CameraId), (listed.Name, listed.Camera));
        var retention = m.DataClasses[DataClass.AnonymisedImage].Retention;
        Assert.Equal(record.BinStart + retention, listed.Expires, TimeSpan.FromMilliseconds(1));
        var bytes = await images.GetAsync(name);
        Assert.Equal(record.Jpeg.ToArray(), bytes); // the released JPEG, nothing else
        Assert.True(bytes[0] == 0xFF && bytes[1] == 0xD8);

        using var collector = new Collector(new CollectorOptions { StorePath = dir.File("central.db") }, NullLogger.Instance);
        Assert.Equal(0, await collector.SweepImagesAsync(images, at + retention - TimeSpan.FromMinutes(1))); // not yet
        Assert.Single(await images.ListAsync());
        Assert.Equal(1, await collector.SweepImagesAsync(images, at + retention + TimeSpan.FromSeconds(1)));
        Assert.Empty(await images.ListAsync());
        var audit = collector.Store.Audit.Read();
        Assert.Contains(audit, e => e.Kind == "cluster" && e.CameraId == m.CameraId && e.BodyJson.Contains("image-expired", StringComparison.Ordinal) && e.BodyJson.Contains(name, StringComparison.Ordinal));
        Assert.True(collector.Store.Audit.Verify().Intact);

        // An image under another camera's manifest is refused.
        var other = ManifestLoader.Load(ClusterFixture.Manifest(dir)).ForCamera("plaza-count-1");
        await Assert.ThrowsAsync<EphemeraException>(() => images.PutAsync(record, other));
    }

    [Fact]
    public async Task A_worker_running_the_case_4_camera_puts_its_anonymised_images_into_the_object_store()
    {
        using var nats = BrokerProcess.Nats();
        using var dir = new TempDir();
        // The demo's case-4 camera on a short 640×360 clip (the anonymiser takes seconds per 1080p frame).
        var config = dir.File("case4.yaml");
        File.WriteAllText(config, $"""
            engine:
              detect_fps: 2
            cameras:
              - id: case4-taxi-dashcam
                source: {TestPaths.Video("traffic_640x360.mp4")}
                manifest: {Path.Combine(RepoPaths.Root, "configs", "manifests", "case4-vehicle-streetscape.yaml")}
                loop: true
            """);
        await using var c = await ClusterConnection.ConnectAsync(nats.Url, "test");
        await DesiredState.ApplyAsync(c, DesiredCamera.FromConfig(config));
        var images = await ImageObjects.OpenAsync(c);
        var worker = ClusterFixture.StartWorker(dir, nats.Url, "i1", 1, 6, detectFps: 2);
        try
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while ((await images.ListAsync()).Count == 0 && sw.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(500);
        }
        finally { ClusterFixture.Terminate(worker, TimeSpan.FromSeconds(60)); }
        var listed = await images.ListAsync();
        Assert.True(listed.Count > 0, ClusterFixture.Logs["i1"].ToString());
        var m = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case4-vehicle-streetscape.yaml")).ForCamera("case4-taxi-dashcam");
        var retention = m.DataClasses[DataClass.AnonymisedImage].Retention;
        foreach (var (name, camera, expires) in listed)
        {
            Assert.Equal("case4-taxi-dashcam", camera);
            Assert.InRange(expires, DateTimeOffset.UtcNow + retention - TimeSpan.FromMinutes(10), DateTimeOffset.UtcNow + retention);
            var jpeg = await images.GetAsync(name);
            Assert.True(jpeg.Length > 1000 && jpeg[0] == 0xFF && jpeg[1] == 0xD8, name);
        }
        using var local = EphemeraStore.Open(dir.File("i1.db"));
        Assert.True(local.Audit.Read().Count(e => e.Kind == "cluster" && e.BodyJson.Contains("image-stored", StringComparison.Ordinal)) >= listed.Count);
        Assert.Empty(ClusterFixture.CountRows(dir.File("i1.db"))); // nothing released into the worker's own store
    }
}
