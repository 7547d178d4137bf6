using Ephemera.Cli;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Runtime;
using Ephemera.TestSupport;

namespace Ephemera.Runtime.Tests;

/// <summary>
/// Faults an operator meets in the field: a camera that is off when the engine starts, a normal stop
/// by SIGTERM, a store whose disk fills up, and the one door for derived data (nothing below k in
/// the summary).
/// </summary>
[Collection("engine")]
public sealed class HardeningTests : IDisposable
{
    private readonly TempDir _dir = new();
    private static string Manifests(string file) => Path.Combine(RepoPaths.Root, "configs", "manifests", file);
    private static readonly string Vtest = TestPaths.Video("vtest.avi");

    private EngineConfig Config(string store, params CameraConfig[] cameras) =>
        new(_dir.File("engine.yaml"), new EngineOptions { StorePath = store, DetectFps = 5, AuditIntervalSeconds = 1 }, cameras);

    private static CameraConfig Counting(string id, string source, bool paced = true, bool loop = true) => new()
    {
        Id = id, Source = source, Manifest = Manifests("case3-outdoor-counts.yaml"), Loop = loop, Paced = paced,
        Analytics = new AnalyticsConfig { Lines = [new LineConfig("mid", 384, 0, 384, 576)] },
    };

    [Fact]
    public void ANetworkCameraDownAtStartIsRetriedAndItsGapIsReportedAndAudited()
    {
        int port = RtspTestServer.FreePort();
        RtspTestServer? server = null;
        var rtsp = Counting("plaza-count-1", $"rtsp://127.0.0.1:{port}/test", paced: false, loop: false);
        var file = Counting("plaza-count-2", Vtest);
        var before = PixelLedger.Snapshot();
        var statesBeforeServer = new List<CameraState>();
        RunSummary summary;
        try
        {
            using var host = new EngineHost(Config(_dir.File("e.db"), rtsp, file), new EngineRunOptions
            {
                MaxDuration = TimeSpan.FromSeconds(12),
                OnTick = h =>
                {
                    if (server is null) statesBeforeServer.Add(h.Cameras[0].State);
                    if (server is null && h.Elapsed.TotalSeconds >= 4) server = RtspTestServer.Start(port);
                },
            });
            { host.Run(); summary = RunSummary.From(host); }
        }
        finally { server?.Dispose(); }

        Assert.Contains(CameraState.Reconnecting, statesBeforeServer);
        Assert.DoesNotContain(CameraState.Failed, statesBeforeServer);
        var cam = summary.Cameras.Single(c => c.Id == "plaza-count-1");
        Assert.NotEqual("failed", cam.State);
        Assert.True(cam.FramesDecoded > 10, $"the camera never came up after its server started ({cam.FramesDecoded} frames)");
        var gap = Assert.Single(cam.Gaps);
        Assert.Contains("offline at start", gap.Cause);
        Assert.InRange(gap.Seconds, 2.5, 10);
        // The file camera never noticed.
        Assert.Empty(summary.Cameras.Single(c => c.Id == "plaza-count-2").Gaps);

        using var store = EphemeraStore.Open(_dir.File("e.db"));
        var gaps = store.Audit.Read().Where(e => e.Kind == "source-gap").ToList();
        var audited = Assert.Single(gaps);
        Assert.Equal("plaza-count-1", audited.CameraId);
        Assert.Contains("offline at start", audited.BodyJson);
        Assert.True(store.Audit.Verify().Intact);
        Assert.Equal(summary.FramesDecoded, summary.FramesDestroyed);
        Assert.Equal(0, summary.PixelBuffersLeaked);
    }

    [Fact]
    public void TheSummaryShowsOnlyWhatPassedTheGatesAsNestedObjects()
    {
        var flow = new CameraConfig
        {
            Id = "plaza-flow-1", Source = Vtest, Manifest = Manifests("case2-store-flow.yaml"), Loop = true,
            Analytics = new AnalyticsConfig
            {
                Zones = [new ZoneConfig("shelf-front", [(0, 300), (768, 300), (768, 576), (0, 576)], false, true)],
                Lines = [],
                Calibration = [new(0, 576, 0, 0), new(768, 576, 16, 0), new(640, 150, 16, 20), new(128, 150, 0, 20)],
                FloorSize = [16, 20],
            },
        };
        RunSummary summary;
        using (var host = new EngineHost(Config(_dir.File("e.db"), Counting("plaza-count-1", Vtest), flow),
                   new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(8) }))
            { host.Run(); summary = RunSummary.From(host); }

        var json = JsonNode.Parse(summary.ToJson())!;
        int released = 0;
        foreach (var cam in json["cameras"]!.AsArray())
        {
            string id = cam!["id"]!.GetValue<string>();
            var manifest = ManifestLoader.Load(id == "plaza-flow-1" ? Manifests("case2-store-flow.yaml") : Manifests("case3-outdoor-counts.yaml")).ForCamera(id);
            var outputs = Assert.IsType<JsonObject>(cam["outputs"]); // an object, not JSON escaped in a string
            released += outputs.Count;
            int k = manifest.Privacy.MinCellCount;
            foreach (var (cls, tally) in outputs)
            {
                Assert.True(manifest.Declares(Enum.Parse<DataClass>(cls)), $"{id}: summary shows {cls}, which its manifest does not declare");
                Assert.True(tally!["records"]!.GetValue<long>() > 0);
                if (tally["released_total"] is JsonValue v && v.GetValue<long>() is var total)
                    Assert.True(total == 0 || total >= k, $"{id}: {cls} total {total} is below k = {k}");
            }
            // Nothing of the raw analytics (per-line in/out, histograms) is in the summary at all.
            Assert.DoesNotContain("\"in\"", cam.ToJsonString());
            Assert.DoesNotContain("\"out\"", cam.ToJsonString());
        }
        Assert.True(released > 0, "nothing was released at all");
    }

    [Fact]
    public void AFullDiskIsAStoreFaultNotACrashAndRowsWaitUntilSpaceReturns()
    {
        using var fs = SmallFilesystem.Mount(_dir.File("tmpfs"), megabytes: 4);
        string db = Path.Combine(fs.Path, "e.db");
        var before = PixelLedger.Snapshot();
        var errorsSeen = new List<string>();
        string? filler = null;
        RunSummary summary;
        using (var host = new EngineHost(Config(db, Counting("plaza-count-1", Vtest), Counting("plaza-count-2", Vtest)), new EngineRunOptions
        {
            MaxDuration = TimeSpan.FromSeconds(8),
            OnTick = h =>
            {
                if (filler is null && h.Elapsed.TotalSeconds >= 2) filler = fs.FillUp();
                if (h.StoreError is { } e) errorsSeen.Add(e);
            },
        }))
            { host.Run(); summary = RunSummary.From(host); }

        // The disk stayed full to the end: the store says so, the cameras ran through it and wiped everything.
        Assert.NotEmpty(errorsSeen);
        Assert.False(summary.StoreHealthy);
        Assert.Contains("full", summary.StoreError!, StringComparison.OrdinalIgnoreCase);
        Assert.True(summary.StorePendingRows > 0, "the final bins should wait in memory, not vanish");
        Assert.All(summary.Cameras, c => Assert.Equal("stopped", c.State));
        Assert.All(summary.Cameras, c => Assert.True(c.Detections > 10, $"{c.Id} stopped detecting"));
        Assert.Equal(summary.FramesDecoded, summary.FramesDestroyed);
        Assert.Equal(0, summary.PixelBuffersLeaked);
        var after = PixelLedger.Snapshot();
        Assert.Equal(after.Allocated - before.Allocated, after.Wiped - before.Wiped);
    }

    [Fact]
    public void TheEngineSignsHeadsWithAKeyApartFromTheStoreAndAWitnessProvesThemOutsideIt()
    {
        string db = _dir.File("store/e.db"), key = _dir.File("keys/audit.key"), witness = _dir.File("witness/heads.jsonl");
        var cfg = Config(db, Counting("plaza-count-1", Vtest)) is var c ? c with { Engine = c.Engine with { AuditKeyPath = key, AuditWitnessPath = witness } } : null!;
        using (var host = new EngineHost(cfg, new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(3) }))
            host.Run();
        Assert.True(File.Exists(key) && File.Exists(key + ".pub"), "the key was not written where the config put it");
        Assert.False(File.Exists(db + ".key"), "a key beside the store as well");
        Assert.True(new FileInfo(witness).Length > 0, "no signed head reached the witness");
        var ok = AuditChain.VerifyFile(db, key + ".pub", null, [witness]);
        Assert.True(ok.Intact && ok.SignaturesChecked, ok.Message);
        Assert.True(ok.WitnessedHeads > 0);
    }

    [Fact]
    public void AStoreThatCannotBeCreatedIsAClearError()
    {
        var ex = Assert.Throws<EphemeraException>(() => new EngineHost(Config("/proc/ephemera/e.db", Counting("plaza-count-1", Vtest))));
        Assert.Contains("/proc/ephemera", ex.Message);
    }

    private string RunConfig() => $"""
            engine:
              detect_fps: 5
              store: {_dir.File("e.db")}
              audit_interval_seconds: 1
            cameras:
              - id: plaza-count-1
                source: {Vtest}
                manifest: {Manifests("case3-outdoor-counts.yaml")}
                loop: true
                analytics:
                  lines:
                    - name: west
                      points: [300, 0, 300, 576]
                    - name: east
                      points: [500, 576, 500, 0]
            """;

    /// <summary>Starts `run` on the test's config; returns once the detector is up.</summary>
    private (Process P, List<string> Out, System.Text.StringBuilder Err) StartRun(string maxSeconds)
    {
        File.WriteAllText(_dir.File("run.yaml"), RunConfig());
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { ChildProcess.CliDll, "run", "--config", _dir.File("run.yaml"), "--max-seconds", maxSeconds }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var stdout = new List<string>(); var stderr = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (stdout) stdout.Add(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine(); p.BeginErrorReadLine();
        // Wait until the camera is detecting (the detector line is printed at start), then a few seconds more: mid-bin.
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!stderr.ToString().Contains("tensor banks") && DateTime.UtcNow < deadline && !p.HasExited) Thread.Sleep(100);
        return (p, stdout, stderr);
    }

    [Fact]
    public void SigtermDrainsTheRunOpenBinsAreStoredAndTheSummaryPrinted()
    {
        var (p, stdout, stderr) = StartRun("120");
        using var _ = p;
        Thread.Sleep(5000);
        Assert.False(p.HasExited, stderr.ToString());
        Assert.Equal(0, Libc.kill(p.Id, 15));
        Assert.True(p.WaitForExit(30_000), "the run did not drain within 30 s of SIGTERM");
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        var last = JsonNode.Parse(stdout.Last())!;
        Assert.Equal(1, last["streams"]!.GetValue<int>());
        Assert.True(last["detections"]!.GetValue<long>() > 10);
        Assert.Equal(last["frames_decoded"]!.GetValue<long>(), last["frames_destroyed"]!.GetValue<long>());

        // The open 15-minute bin was closed as partial and stored; the chain has the last pixel record and a checkpoint.
        using var store = EphemeraStore.Open(_dir.File("e.db"));
        Assert.True(store.CountRows("plaza-count-1", DataClass.Count) >= 1, "the open bin was lost");
        var kinds = store.Audit.Read().Select(e => e.Kind).ToList();
        Assert.Contains("pixels", kinds);
        var v = store.Audit.Verify();
        Assert.True(v.Intact, v.Message);
        Assert.True(v.CheckpointsChecked >= 1, "no checkpoint after the drain");
    }

    [Fact]
    public void AfterKill9TheRestartAuditsTheCrashAndRecoversTheOpenBinsWithoutCountingTwice()
    {
        var (a, _, errA) = StartRun("120");
        using (a)
        {
            Thread.Sleep(10_000);
            Assert.False(a.HasExited, errA.ToString());
            a.Kill(); // SIGKILL: no drain, nothing flushed
            a.WaitForExit();
        }
        // What the crashed run had checkpointed (raw, internal): the line crossings of its open bin.
        var checkpointed = RawOpenBins(_dir.File("e.db"));
        Assert.NotEmpty(checkpointed);

        var (b, outB, errB) = StartRun("4");
        using (b)
        {
            Assert.True(b.WaitForExit(90_000), errB.ToString());
            b.WaitForExit();
            Assert.True(b.ExitCode == 0, errB.ToString());
        }
        var summary = JsonNode.Parse(outB.Last())!;
        Assert.Equal(checkpointed.Count, summary["bins_recovered"]!.GetValue<int>());
        Assert.Contains("did not stop cleanly", errB.ToString());

        using var store = EphemeraStore.Open(_dir.File("e.db"));
        var crash = Assert.Single(store.Audit.Read(), e => e.Kind == "unclean-shutdown");
        Assert.Contains($"\"BinsRecovered\":{checkpointed.Count}", crash.BodyJson);
        Assert.True(store.Audit.Verify().Intact);
        // Each recovered bin was released once, merged with the restart's own counts of that bin.
        foreach (var (binStart, crossings) in checkpointed)
        {
            var rows = store.Query(Role.Operator).Read("plaza-count-1", DataClass.Count, binStart, binStart.AddMinutes(15));
            var row = Assert.Single(rows, r => r.BinStart == binStart);
            using var doc = JsonDocument.Parse(row.PayloadJson);
            var total = doc.RootElement.GetProperty("total");
            if (crossings >= 5) Assert.True(total.ValueKind == JsonValueKind.Number && total.GetInt32() >= crossings,
                $"bin {binStart:O}: released total {total} lost the crashed run's {crossings} crossings");
        }
        // The clean stop leaves nothing to recover.
        Assert.Empty(RawOpenBins(_dir.File("e.db")));
    }

    /// <summary>An MP4 whose index (moov, at the front) announces 10 s of vtest but whose data stops after about 40% of it.</summary>
    private string TruncatedClip()
    {
        string full = _dir.File("full.mp4"), cut = _dir.File("truncated.mp4");
        var r = ChildProcess.Run("ffmpeg", ["-v", "error", "-y", "-i", Vtest, "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-movflags", "+faststart", full]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        var bytes = File.ReadAllBytes(full);
        File.WriteAllBytes(cut, bytes[..(int)(bytes.Length * 0.4)]);
        return cut;
    }

    [Fact]
    public void AFileThatEndsEarlyIsTruncatedWithTheFrameReachedAndALoopOfItWarnsOnce()
    {
        string cut = TruncatedClip();
        RunSummary summary;
        using (var host = new EngineHost(Config(_dir.File("e.db"), Counting("plaza-count-1", cut, paced: false, loop: false)),
                   new EngineRunOptions { MaxDuration = TimeSpan.FromSeconds(30) }))
            { host.Run(); summary = RunSummary.From(host); }
        var cam = Assert.Single(summary.Cameras);
        Assert.Equal("truncated", cam.State);
        Assert.Contains("of the 100", cam.Error);
        Assert.Equal(cam.FramesDecoded, cam.FramesDestroyed);

        // In loop mode the fragment repeats: the source says so once, with the frames its first pass reached.
        using var looped = VideoSource.Open(cut, SourceOptions.Default with { Loop = true });
        long read = 0;
        while (looped.Loops < 2 && read < 1000)
        {
            var st = looped.Read(out var f);
            if (st == ReadStatus.Frame) { f!.Dispose(); read++; }
        }
        Assert.Equal(2, looped.Loops);
        Assert.InRange(looped.ShortPassFrames, 10, 90);
        Assert.Equal(100, looped.ExpectedFrames);

        // A complete file is not truncated.
        using var whole = VideoSource.Open(_dir.File("full.mp4"));
        Assert.Equal(100, whole.ExpectedFrames);
    }

    private static List<(DateTimeOffset BinStart, int Crossings)> RawOpenBins(string db)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT bin_start_ms, raw FROM open_bins WHERE class = 'Count'";
        using var rd = cmd.ExecuteReader();
        var list = new List<(DateTimeOffset, int)>();
        while (rd.Read())
        {
            using var doc = JsonDocument.Parse(rd.GetString(1));
            int sum = doc.RootElement.GetProperty("counts").EnumerateArray().SelectMany(r => r.EnumerateArray()).Sum(v => v.GetInt32());
            list.Add((DateTimeOffset.FromUnixTimeMilliseconds(rd.GetInt64(0)), sum));
        }
        return list;
    }

    public void Dispose() => _dir.Dispose();
}

internal static partial class Libc
{
    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial int kill(int pid, int sig);
}

/// <summary>A tmpfs of a few MB (needs root, as CI and the launcher run), to fill a store's disk for real.</summary>
internal sealed class SmallFilesystem : IDisposable
{
    public string Path { get; }
    private SmallFilesystem(string path) => Path = path;

    public static SmallFilesystem Mount(string path, int megabytes)
    {
        Directory.CreateDirectory(path);
        var r = ChildProcess.Run("mount", ["-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path]);
        Assert.True(r.ExitCode == 0, $"mounting a {megabytes} MB tmpfs needs root: {r.StdErr}");
        return new SmallFilesystem(path);
    }

    /// <summary>Writes a file until the filesystem is full; returns its path (delete it to free the space).</summary>
    public string FillUp()
    {
        string f = System.IO.Path.Combine(Path, "filler");
        var s = new FileStream(f, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        // Big blocks first, then ever smaller ones, so not even a page is left for the store.
        foreach (int size in new[] { 64 * 1024, 4096, 512, 1 })
        {
            var block = new byte[size];
            try { while (true) s.Write(block); }
            catch (IOException) { }
        }
        try { s.Dispose(); } catch (IOException) { } // the last flush has nowhere to go either
        return f;
    }

    public void Dispose() => ChildProcess.Run("umount", ["-l", Path]);
}
