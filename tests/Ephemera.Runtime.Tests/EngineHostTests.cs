using Ephemera.Cli;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Runtime;
using Ephemera.TestSupport;

namespace Ephemera.Runtime.Tests;

/// <summary>Whole-engine runs on real video: isolation of bad cameras, back-pressure, the summary's pixel proof.</summary>
[Collection("engine")] // engine runs share the process-wide pixel ledger and the CPU: one at a time
public sealed class EngineHostTests : IDisposable
{
    private readonly TempDir _dir = new();
    private static string Manifests(string file) => Path.Combine(RepoPaths.Root, "configs", "manifests", file);
    private static readonly string Vtest = TestPaths.Video("vtest.avi");

    private EngineConfig Config(double detectFps, params CameraConfig[] cameras) =>
        new(_dir.File("engine.yaml"), new EngineOptions { StorePath = _dir.File("e.db"), DetectFps = detectFps, AuditIntervalSeconds = 1 }, cameras);

    private static CameraConfig Counting(string id, string source, bool paced = true, bool loop = true) => new()
    {
        Id = id, Source = source, Manifest = Manifests("case3-outdoor-counts.yaml"), Loop = loop, Paced = paced,
        Analytics = new AnalyticsConfig { Lines = [new LineConfig("mid", 384, 0, 384, 576)] },
    };

    [Fact]
    public void BadCamerasAreRefusedOrFailAloneWhileTheOthersRun()
    {
        var corrupt = _dir.File("corrupt.avi");
        File.WriteAllBytes(corrupt, Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        var cfg = Config(5,
            Counting("plaza-count-1", Vtest),
            Counting("plaza-count-2", corrupt),
            Counting("plaza-count-3", "/nonexistent/video.avi"),
            Counting("plaza-count-4", Vtest) with { Manifest = null },
            Counting("someone-else", Vtest),                                   // the manifest does not cover this id
            Counting("plaza-count-5", Vtest) with { Manifest = _dir.File("missing.yaml") });
        var before = PixelLedger.Snapshot();
        RunSummary summary;
        using (var host = new EngineHost(cfg, new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(4) }))
            { host.Run(); summary = RunSummary.From(host); }

        var byId = summary.Cameras.ToDictionary(c => c.Id);
        Assert.Equal("stopped", byId["plaza-count-1"].State);
        Assert.InRange(byId["plaza-count-1"].FramesDecoded, 25, 60); // paced at 10 fps for ~4 s
        Assert.True(byId["plaza-count-1"].Detections > 0);
        Assert.Equal("failed", byId["plaza-count-2"].State);
        Assert.Contains("corrupt.avi", byId["plaza-count-2"].Error);
        Assert.Equal("failed", byId["plaza-count-3"].State);
        Assert.Contains("/nonexistent/video.avi", byId["plaza-count-3"].Error);
        Assert.Equal("refused", byId["plaza-count-4"].State);
        Assert.Contains("manifest", byId["plaza-count-4"].Error);
        Assert.Equal("refused", byId["someone-else"].State);
        Assert.Contains("not 'someone-else'", byId["someone-else"].Error);
        Assert.Equal("refused", byId["plaza-count-5"].State);
        Assert.Contains("missing.yaml", byId["plaza-count-5"].Error);
        AssertPixelsAccountedFor(summary, before);
    }

    [Fact]
    public void AnOutputTheManifestDoesNotDeclareRefusesTheCamera()
    {
        // The street-counting manifest (case 3) declares counts, not zone occupancy (M2).
        var cam = Counting("plaza-count-1", Vtest) with
        {
            Analytics = new AnalyticsConfig { Zones = [new ZoneConfig("all", [(0, 0), (768, 0), (768, 576), (0, 576)], false, false)] },
        };
        using var host = new EngineHost(Config(5, cam), new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(1) });
        var worker = Assert.Single(host.Cameras);
        Assert.Equal(CameraState.Refused, worker.State);
        Assert.Contains("ZoneOccupancy", worker.Error);
    }

    [Fact]
    public void ACameraNotYetAllowedToStartIsRefused()
    {
        var beforePublication = new FixedClock(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var host = new EngineHost(Config(5, Counting("plaza-count-1", Vtest)), new EngineRunOptions { Clock = beforePublication, MaxDuration = TimeSpan.FromSeconds(1) });
        var cam = Assert.Single(host.Cameras);
        Assert.Equal(CameraState.Refused, cam.State);
        Assert.Contains("PN", cam.Error); // the pre-notice / start-date rule names its requirement id
    }

    [Fact]
    public void TheDetectorInputIsFittedToTheCamerasFramesUnlessAskedSquareOrUnknown()
    {
        var auto = new EngineOptions();
        string adl = RepoPaths.Data("mot15/ADL-Rundle-6/video.mp4");
        Assert.Equal((416, 320), EngineHost.ChooseDetectorInput(auto, [Counting("a", Vtest)]));
        Assert.Equal((416, 320), EngineHost.ChooseDetectorInput(auto, [Counting("a", Vtest), Counting("b", adl)]));
        Assert.Equal((416, 256), EngineHost.ChooseDetectorInput(auto, [Counting("b", adl)]));
        Assert.Equal((640, 384), EngineHost.ChooseDetectorInput(auto with { InputSize = 640 }, [Counting("b", adl)]));
        // Square: the model's own static graph (0×0) or the size asked for.
        Assert.Equal((0, 0), EngineHost.ChooseDetectorInput(auto with { InputFit = InputFit.Square }, [Counting("a", Vtest)]));
        Assert.Equal((640, 640), EngineHost.ChooseDetectorInput(auto with { InputFit = InputFit.Square, InputSize = 640 }, [Counting("a", Vtest)]));
        // A network camera's frame size is unknown before it connects; a missing file is that camera's own error later.
        Assert.Equal((0, 0), EngineHost.ChooseDetectorInput(auto, [Counting("a", Vtest), Counting("r", "rtsp://127.0.0.1:1/none")]));
        Assert.Equal((0, 0), EngineHost.ChooseDetectorInput(auto, [Counting("a", Vtest), Counting("m", _dir.File("missing.avi"))]));
        // A model whose graph cannot take another size keeps its own.
        Assert.Equal((0, 0), EngineHost.ChooseDetectorInput(auto with { Model = "ultraface_version-RFB-320" }, [Counting("a", Vtest)]));
    }

    [Fact]
    public void FramesNoDetectionNeedsAreNotDecodedAndTheDetectionRateHolds()
    {
        // ADL-Rundle-6: H.264 1080p30 with B-frames; detection at 5/s needs one frame in six.
        var street = Counting("plaza-count-2", RepoPaths.Data("mot15/ADL-Rundle-6/video.mp4"));
        var plaza = Counting("plaza-count-1", Vtest); // MPEG-4, no B-frames: every frame is a reference
        var before = PixelLedger.Snapshot();
        RunSummary summary;
        using (var host = new EngineHost(Config(5, street, plaza), new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(6) }))
            { host.Run(); summary = RunSummary.From(host); }

        var s = summary.Cameras.Single(c => c.Id == "plaza-count-2");
        var p = summary.Cameras.Single(c => c.Id == "plaza-count-1");
        long seen = s.FramesDecoded + s.FramesNotDecoded;
        Assert.True(s.FramesNotDecoded > seen / 5, $"street: {s.FramesNotDecoded} of {seen} frames not decoded");
        Assert.Equal(0, p.FramesNotDecoded);
        Assert.Equal(s.FramesNotDecoded + p.FramesNotDecoded, summary.FramesNotDecoded);
        // Skipping never costs the camera its detections: about 5/s (the run includes start-up).
        Assert.True(s.Detections >= 0.6 * 5 * summary.Seconds, $"street: {s.Detections} detections in {summary.Seconds} s");
        Assert.All(summary.Cameras, c => Assert.Equal(0, c.FramesDropped));
        AssertPixelsAccountedFor(summary, before);
    }

    [Fact]
    public void ASlowDetectorNeverGrowsMemoryItSkipsDetections()
    {
        // Six unpaced cameras asking for a detection on every frame: far more than the detector can run.
        var cams = Enumerable.Range(1, 6).Select(i => Counting($"plaza-count-{i}", Vtest, paced: false)).ToArray();
        var before = PixelLedger.Snapshot();
        long maxInUse = 0;
        RunSummary summary;
        using (var host = new EngineHost(Config(1000, cams), new EngineRunOptions
        {
            MaxDuration = TimeSpan.FromSeconds(5),
            OnTick = _ => maxInUse = Math.Max(maxInUse, PixelLedger.Snapshot().InUse),
        }))
            { host.Run(); summary = RunSummary.From(host); }

        Assert.All(summary.Cameras, c => Assert.Equal(0, c.FramesDropped));
        // The detector ran far fewer detections than asked (1000/s per camera), and nearly every due
        // detection was refused at first (its camera's previous frame still in flight) and retried.
        Assert.InRange(summary.Detections, 6, 6 * 1000 * summary.Seconds / 10);
        long skipped = summary.Cameras.Sum(c => c.DetectionsSkipped);
        Assert.True(skipped >= summary.Detections * 0.8, $"expected most due detections to be refused first: {summary.Detections} run, {skipped} refused");
        // The saturated detector is shared fairly: no camera starves while another takes the slots.
        long most = summary.Cameras.Max(c => c.Detections), least = summary.Cameras.Min(c => c.Detections);
        Assert.True(least >= most / 2, $"detections per camera ranged {least}..{most}");
        // Bounded by configuration: each source holds at most its pool (32 blocks), never a backlog.
        Assert.InRange(maxInUse, 0, 6 * SourceOptions.Default.PoolBuffers);
        AssertPixelsAccountedFor(summary, before);
    }

    [Fact]
    public void AnRtspCameraThatDropsIsAGapForItAloneAndResumes()
    {
        using var server = RtspTestServer.Start();
        var rtsp = Counting("plaza-count-1", server.Url, paced: false, loop: false);
        var file = Counting("plaza-count-2", Vtest);
        var before = PixelLedger.Snapshot();
        long fileFramesAtKill = 0, rtspFramesAtKill = 0;
        bool killed = false, restarted = false;
        RunSummary summary;
        using (var host = new EngineHost(Config(5, rtsp, file), new EngineRunOptions
        {
            MaxDuration = TimeSpan.FromSeconds(14),
            OnTick = h =>
            {
                var t = h.Elapsed.TotalSeconds;
                if (!killed && t >= 3)
                {
                    killed = true;
                    rtspFramesAtKill = h.Cameras[0].FramesDecoded; fileFramesAtKill = h.Cameras[1].FramesDecoded;
                    server.Kill();
                }
                else if (killed && !restarted && t >= 6) { restarted = true; server.Restart(); }
            },
        }))
        {
            { host.Run(); summary = RunSummary.From(host); }
            Assert.True(host.Cameras[0].Gaps >= 1, "the RTSP camera never reported a gap");
        }
        var byId = summary.Cameras.ToDictionary(c => c.Id);
        Assert.True(rtspFramesAtKill > 0, "no RTSP frames before the kill");
        Assert.True(byId["plaza-count-1"].FramesDecoded > rtspFramesAtKill + 10, "the RTSP camera did not resume after the server came back");
        Assert.NotEqual("failed", byId["plaza-count-1"].State);
        // The outage is in the summary with its cause, and in the audit chain.
        Assert.Contains(byId["plaza-count-1"].Gaps, g => g.Cause == "connection dropped" && g.Seconds is >= 1 and <= 14);
        Assert.Empty(byId["plaza-count-2"].Gaps);
        using (var store = EphemeraStore.Open(_dir.File("e.db")))
            Assert.Contains(store.Audit.Read(), e => e.Kind == "source-gap" && e.CameraId == "plaza-count-1" && e.BodyJson.Contains("connection dropped"));
        // The file camera kept its 10 fps through the whole outage.
        Assert.True(byId["plaza-count-2"].FramesDecoded - fileFramesAtKill >= 80, $"file camera slowed: {byId["plaza-count-2"].FramesDecoded - fileFramesAtKill} frames after the kill");
        AssertPixelsAccountedFor(summary, before);
    }

    [Fact]
    public void TheRunStoresGatedOutputsAndAnIntactAuditChain()
    {
        var cam = Counting("plaza-count-1", Vtest);
        var crowd = new CameraConfig
        {
            Id = "plaza-crowd-1", Source = Vtest, Manifest = Manifests("case5-station-crowd.yaml"), Loop = true,
            Analytics = new AnalyticsConfig
            {
                Zones = [new ZoneConfig("north", [(0, 0), (768, 0), (768, 300), (0, 300)], false, false)],
                Calibration = [new(0, 576, 0, 0), new(768, 576, 16, 0), new(640, 150, 16, 20), new(128, 150, 0, 20)],
                FloorSize = [16, 20], IconIntervalSeconds = 1,
            },
        };
        RunSummary summary;
        using (var host = new EngineHost(Config(5, cam, crowd), new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(6) }))
            { host.Run(); summary = RunSummary.From(host); }
        Assert.All(summary.Cameras, c => Assert.Equal("stopped", c.State));
        using var store = EphemeraStore.Open(_dir.File("e.db"));
        Assert.True(store.CountRows("plaza-crowd-1", DataClass.ZoneOccupancy) >= 1, "no occupancy table stored");
        var icon = store.Query(Role.Operator).ReadLatest("plaza-crowd-1", DataClass.IconImage);
        Assert.NotNull(icon);
        Assert.Equal("image/png", icon!.MediaType);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, icon.Blob[..4]);
        var verify = store.Audit.Verify();
        Assert.True(verify.Intact, verify.Message);
        Assert.True(verify.Records >= 4); // two manifest registrations + pixel audits
        Assert.True(summary.Events >= 3);
    }

    private static void AssertPixelsAccountedFor(RunSummary s, LedgerSnapshot before)
    {
        Assert.Equal(s.FramesDecoded, s.FramesDestroyed);
        Assert.Equal(0, s.PixelBuffersLeaked);
        var after = PixelLedger.Snapshot();
        Assert.Equal(after.Allocated - before.Allocated, after.Wiped - before.Wiped);
        Assert.Equal(0, after.InUse);
    }

    public void Dispose() => _dir.Dispose();

    private sealed class FixedClock(DateTimeOffset now) : IClock { public DateTimeOffset Now => now; }
}
