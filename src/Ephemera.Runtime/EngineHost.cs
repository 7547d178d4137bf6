using System.Diagnostics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Inference;
using Ephemera.Inference.Runtime;

namespace Ephemera.Runtime;

/// <summary>Knobs of a run that do not belong in the config file (tests, bench, embedding hosts).</summary>
public sealed record EngineRunOptions
{
    /// <summary>Stop after this long (null = until cancelled or every camera ended).</summary>
    public TimeSpan? MaxDuration { get; init; }
    /// <summary>Clock for manifest gates and retention (tests use a fake one).</summary>
    public IClock Clock { get; init; } = SystemClock.Instance;
    /// <summary>Called about once a second with the live cameras (for a progress display).</summary>
    public Action<EngineHost>? OnTick { get; init; }
    /// <summary>Decoder threads per source (0 = FFmpeg's auto; many streams prefer 1).</summary>
    public int DecoderThreads { get; init; } = -1;
}

/// <summary>
/// The engine for one config: store, manifests and gates, one shared detector behind a
/// cross-stream batcher, and one <see cref="CameraWorker"/> per camera. A camera whose manifest is
/// missing, invalid or not yet allowed to start is refused with its reason; the others run.
/// Periodically it appends a pixel audit record per camera, publishes closed time bins through the
/// governance gates, and applies retention.
/// </summary>
public sealed class EngineHost : IDisposable
{
    private readonly EngineConfig _config;
    private readonly EngineRunOptions _run;
    private ObjectDetector? _detector;
    private CrossStreamBatcher? _batcher;
    private readonly List<CameraWorker> _cameras = new();
    private readonly Dictionary<string, (long Decoded, long Destroyed)> _audited = new();
    private readonly DateTimeOffset _epochUtc;
    private LedgerSnapshot _ledgerAtLastAudit;
    private readonly LedgerSnapshot _ledgerAtStart;
    private long _outputs;
    private DateTimeOffset _lastAudit;

    public EphemeraStore Store { get; }
    public StageTimes Stages { get; } = new();
    public DetectionFairness Fairness { get; } = new();
    public EngineMetrics Metrics { get; } = new();
    public IReadOnlyList<CameraWorker> Cameras => _cameras;
    public CrossStreamBatcher? Batcher => _batcher;
    /// <summary>The detector's input tensor size (0×0 = the model's own), chosen at start (see <see cref="EngineOptions.InputFit"/>).</summary>
    public (int Width, int Height) DetectorInput { get; private set; }
    public long OutputsEmitted => Interlocked.Read(ref _outputs);
    public TimeSpan Elapsed => _watch.Elapsed;
    private readonly Stopwatch _watch = new();

    public EngineHost(EngineConfig config, EngineRunOptions? run = null)
    {
        _config = config; _run = run ?? new EngineRunOptions();
        var e = config.Engine;
        _ledgerAtStart = PixelLedger.Snapshot(); // before the detector allocates its batch tensors (pixel buffers too)
        try { Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(e.StorePath))!); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new EphemeraException($"cannot create the store's folder for {e.StorePath}: {ex.Message}", ex);
        }
        Store = EphemeraStore.Open(e.StorePath, _run.Clock, new AuditOptions
        {
            KeyPath = e.AuditKeyPath,
            Witnesses = e.AuditWitnessPath is { } w ? [new FileWitness(w)] : [],
        });
        var nowUtc = _run.Clock.Now.ToUniversalTime();
        _epochUtc = new DateTimeOffset(nowUtc.Date, TimeSpan.Zero); // analytics seconds count from UTC midnight: bins align to wall clock
        double epochSeconds = (nowUtc - _epochUtc).TotalSeconds;

        var admitted = new List<(CameraConfig Cam, CameraManifest Manifest, AnalyticsBinder.Binding Binding)>();
        foreach (var cam in config.Cameras)
        {
            try
            {
                if (cam.Manifest is null) throw new EphemeraException($"no manifest: a camera runs only under a purpose manifest (BP-a)");
                var manifest = ManifestLoader.Load(cam.Manifest).ForCamera(cam.Id);
                var decision = Store.AuthorizeStart(manifest);
                if (!decision.Allowed) throw new EphemeraException(string.Join("; ", decision.Reasons));
                var binding = AnalyticsBinder.Bind(cam, manifest);
                foreach (var cls in binding.Produces) ManifestGate.EnsureDeclared(manifest, cls);
                admitted.Add((cam, manifest, binding));
            }
            catch (EphemeraException ex)
            {
                var refused = new CameraWorker(cam, ex.Message);
                _cameras.Add(refused);
                Metrics.CameraUp.WithLabels(cam.Id).Set(0);
                Console.Error.WriteLine($"ephemera: camera {cam.Id} refused: {ex.Message}");
            }
        }

        if (admitted.Count > 0)
        {
            DetectorInput = ChooseDetectorInput(e, admitted.Select(a => a.Cam));
            _detector = ObjectDetector.Open(new DetectorOptions
            {
                Model = e.Model,
                Inference = new InferenceOptions(e.Provider, e.IntraOpThreads, parallelRuns: e.ParallelRuns),
                MaxBatch = e.MaxBatch,
                InputWidth = DetectorInput.Width, InputHeight = DetectorInput.Height,
                Decode = new Inference.Postprocess.DecodeOptions(e.ScoreThreshold),
            });
            // One bank per camera (plus one): each camera has at most one frame in flight, so a burst of
            // cameras whose frames arrive together is absorbed instead of refused, the detector never
            // idles between retries, and the queue is bounded by the camera count (2 MB per bank at 416²).
            int banks = Math.Clamp(admitted.Count + 1, 2, 64);
            _batcher = new CrossStreamBatcher(_detector, new BatcherOptions(e.MaxBatch, TimeSpan.FromMilliseconds(e.BatchDeadlineMs), banks));
            _batcher.WarmUp();
            Console.Error.WriteLine($"ephemera: detector {_detector.Model.Name} at {_detector.InputWidth}x{_detector.InputHeight}, " +
                $"{_batcher.Workers} run(s) at once × {_detector.Options.Inference.EffectiveIntraOpThreads} thread(s), {banks} tensor banks");
        }
        int decoderThreads = _run.DecoderThreads >= 0 ? _run.DecoderThreads : (admitted.Count >= Environment.ProcessorCount ? 1 : 0);
        var sourceOptions = SourceOptions.Default with { DecoderThreads = decoderThreads };
        for (int i = 0; i < admitted.Count; i++)
        {
            var (cam, manifest, binding) = admitted[i];
            // Phases spread evenly over the detection interval: an even load instead of a burst per interval.
            var worker = new CameraWorker(cam, manifest, binding.Options, _batcher, cam.DetectFps ?? e.DetectFps, sourceOptions, Stages, epochSeconds,
                Fairness, detectPhase: (double)i / admitted.Count);
            if (worker.Analytics!.Crowd is { } crowd)
                crowd.Rendered += snap =>
                {
                    // A failing store must not take the detector thread (which runs this) down with it.
                    if (!Guard($"camera {cam.Id}: icon image", () => OutputPublisher.PublishIcon(Store, manifest, snap))) return;
                    worker.Outputs.Record(DataClass.IconImage);
                    Interlocked.Increment(ref _outputs);
                };
            _cameras.Add(worker);
        }
        Fairness.SetCameras(_cameras);
    }

    /// <summary>
    /// The detector input: the model's own size (0×0, its static graph) unless a size is set or the
    /// input is fitted to the cameras' frames; fitting needs a letterbox model whose graph takes
    /// other sizes, and every camera's frame size (probed from file sources; a network camera
    /// or a file that cannot be probed keeps the square — the camera reports its own error later).
    /// </summary>
    public static (int Width, int Height) ChooseDetectorInput(EngineOptions e, IEnumerable<CameraConfig> cameras)
    {
        var entry = Inference.Models.ModelCatalog.Load().Get(e.Model);
        bool resizable = entry.Input.DynamicSize || entry.HasBatchVariant;
        int side = e.InputSize > 0 ? e.InputSize : entry.Input.Width;
        var square = e.InputSize > 0 ? (side, side) : (0, 0);
        if (e.InputFit != InputFit.Auto || !resizable || entry.Input.Resize != Inference.Models.ResizeRule.Letterbox
            || entry.Input.Width != entry.Input.Height)
            return square;
        var sizes = new List<(int, int)>();
        foreach (var cam in cameras)
        {
            if (cam.Source.Contains("://", StringComparison.Ordinal)) return square;
            try
            {
                using var probe = VideoSource.Open(cam.Source, SourceOptions.Default with { DecoderThreads = 1 });
                sizes.Add((probe.Width, probe.Height));
            }
            catch (EphemeraException) { return square; }
        }
        var fitted = Inference.Preprocess.InputShape.FitToSources(side, sizes);
        return fitted == (side, side) ? square : fitted;
    }

    /// <summary>Starts every admitted camera, runs until the duration ends, cancellation, or every camera ended.</summary>
    public RunSummary Run(CancellationToken cancel = default)
    {
        if (_run.MaxDuration is { } d && d <= TimeSpan.Zero) throw new EphemeraException($"max duration must be positive, got {d}");
        _ledgerAtLastAudit = PixelLedger.Snapshot();
        _lastAudit = _run.Clock.Now;
        RecoverUncleanRun();
        _watch.Start();
        foreach (var c in _cameras) { c.Start(); _audited[c.Id] = (0, 0); }
        double auditEvery = _config.Engine.AuditIntervalSeconds;
        var nextAudit = TimeSpan.FromSeconds(auditEvery);
        var nextTick = TimeSpan.FromSeconds(1);
        while (!cancel.IsCancellationRequested)
        {
            if (_run.MaxDuration is { } max && _watch.Elapsed >= max) break;
            if (_cameras.All(c => !c.IsAlive && c.State is not CameraState.Starting)) break;
            Thread.Sleep(50);
            if (_watch.Elapsed >= nextTick)
            {
                nextTick += TimeSpan.FromSeconds(1);
                Fairness.Tick();
                UpdateMetrics();
                _run.OnTick?.Invoke(this);
            }
            if (_watch.Elapsed >= nextAudit)
            {
                nextAudit += TimeSpan.FromSeconds(auditEvery);
                Store.RetryPending();
                PublishClosedBins(final: false);
                Guard("open-bin checkpoint", CheckpointOpenBins);
                Guard("pixel audit", AppendPixelAudit);
                Guard("gap audit", () => AppendGapAudit(final: false), writes: false);
            }
        }
        foreach (var c in _cameras) c.Stop(TimeSpan.FromSeconds(10));
        _watch.Stop();
        // Pixel lifetimes are read before the detector goes: its batch tensors live as long as the
        // detector (they are wiped after every inference), and their final free is not a pixel lifetime.
        var lifetimes = PixelLedger.Snapshot();
        ReleaseDetector(); // the tensors are pixel buffers too: freed before the counts are read
        PublishClosedBins(final: true);
        Store.RetryPending();
        Guard("pixel audit", AppendPixelAudit);
        Guard("gap audit", () => AppendGapAudit(final: true), writes: false);
        Guard("audit checkpoint", () => Store.Audit.Checkpoint());
        Guard("retention", () => Store.ApplyRetention());
        // Every bin is out (or waiting in a failing store's buffer, lost with the process: then the
        // next start recovers them from the last checkpoint instead).
        if (Store.Healthy) Guard("run marker", Store.MarkRunStopped);
        UpdateMetrics();
        return RunSummary.From(this, _ledgerAtStart, PixelLedger.Snapshot(), lifetimes);
    }

    private void UpdateMetrics()
    {
        var l = PixelLedger.Snapshot();
        Metrics.PixelBuffers.WithLabels("allocated").Set(l.Allocated);
        Metrics.PixelBuffers.WithLabels("wiped").Set(l.Wiped);
        Metrics.PixelBuffers.WithLabels("in_use").Set(l.InUse);
        Metrics.PixelBuffers.WithLabels("leaked").Set(l.Leaked);
        double secs = Math.Max(1e-3, _watch.Elapsed.TotalSeconds);
        foreach (var c in _cameras)
        {
            Metrics.CameraUp.WithLabels(c.Id).Set(c.State == CameraState.Running ? 1 : 0);
            Metrics.DecodeFps.WithLabels(c.Id).Set(c.FramesDecoded / secs);
            Metrics.DetectFps.WithLabels(c.Id).Set(c.DetectionsDone / secs);
            Metrics.FramesDecoded.WithLabels(c.Id).IncTo(c.FramesDecoded);
            Metrics.Detections.WithLabels(c.Id).IncTo(c.DetectionsDone);
            Metrics.DetectionsSkipped.WithLabels(c.Id).IncTo(c.DetectionsSkipped);
            Metrics.FramesDropped.WithLabels(c.Id, "pool").IncTo(c.FramesDroppedForPool);
            Metrics.FramesNotDecoded.WithLabels(c.Id).IncTo(c.FramesNotDecoded);
        }
    }

    /// <summary>Writes time bins that have closed (all bins at the end of the run) through the gates.</summary>
    private void PublishClosedBins(bool final)
    {
        foreach (var c in _cameras)
        {
            if (c.Manifest is null || c.Analytics is null) continue;
            try
            {
                var results = c.WithAnalytics(a => final ? a.Snapshot() : a.Flush(c.NowSeconds()));
                Interlocked.Add(ref _outputs, OutputPublisher.Publish(Store, c.Manifest, results, _epochUtc, c.Outputs, _carry));
                // Recovered bins this run will not produce again (they ended while the engine was down).
                var now = _epochUtc.AddSeconds(c.NowSeconds());
                foreach (var t in _carry.TakeEnded(c.Id, c.Manifest.Privacy.TimeBin, final ? null : now))
                {
                    c.Outputs.Table(t.Class, Store.WriteCountTable(c.Id, t.Class, t.BinStart, c.Manifest.Privacy.TimeBin, t.Rows, t.Cols, t.Counts));
                    Interlocked.Increment(ref _outputs);
                }
            }
            catch (EphemeraException ex)
            {
                Console.Error.WriteLine($"ephemera: camera {c.Id}: output refused: {ex.Message}");
            }
        }
    }

    /// <summary>
    /// Runs a store step (audit, checkpoint, retention) that may fail on a full disk or an I/O error.
    /// A failing store is a health state, not a crash: the cameras keep running and wiping, the
    /// failure is logged once until the store works again, and audit deltas are kept for the next
    /// record (the counters only advance after a record was written).
    /// </summary>
    private bool Guard(string what, Action step, bool writes = true)
    {
        try
        {
            step();
            if (writes && _storeFailing is not null && Store.Healthy) { Console.Error.WriteLine($"ephemera: store {Store.Path} writes again"); _storeFailing = null; }
            return true;
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException) // the store, or a witness on the same full disk
        {
            if (_storeFailing is null) Console.Error.WriteLine($"ephemera: store {Store.Path} is failing ({what}): {ex.Message}; cameras keep running, records wait in memory");
            _storeFailing = ex.Message;
            return false;
        }
    }
    private volatile string? _storeFailing;

    /// <summary>The store's health: null when writing, else the last error (records wait in a bounded buffer).</summary>
    public string? StoreError => _storeFailing ?? Store.LastError;

    private readonly Dictionary<string, int> _gapsAudited = new();
    private readonly OpenBinCarry _carry = new();

    /// <summary>Raw open bins recovered at start from a run that did not stop cleanly (0 after a clean stop).</summary>
    public int BinsRecovered { get; private set; }

    /// <summary>
    /// After kill -9, a power cut or a crash, the store still marks the previous run as running. The
    /// engine audits that, with the previous run's last checkpoint and the chain's last record, and
    /// takes the raw open bins it checkpointed: each is merged into the same bin of this run before
    /// suppression, or released alone once it has ended, so a split bin is released once, whole.
    /// </summary>
    private void RecoverUncleanRun()
    {
        EphemeraStore.UncleanRun? previous;
        try { previous = Store.MarkRunStarted(); }
        catch (System.Data.Common.DbException ex) { Console.Error.WriteLine($"ephemera: store {Store.Path}: cannot mark the run: {ex.Message}"); return; }
        if (previous is null) return;
        var known = _cameras.Where(c => c.Manifest != null).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var b in previous.OpenBins)
        {
            if (!known.Contains(b.CameraId))
            {
                Console.Error.WriteLine($"ephemera: recovered bin of camera {b.CameraId} ({b.Class}, {b.BinStart:O}) dropped: the camera is not running under a manifest now");
                continue;
            }
            _carry.Add(b.CameraId, RawBinTable.FromJson(b.Class, b.BinStart, b.RawJson));
            BinsRecovered++;
        }
        long lastSeq = Store.Audit.Verify().Records;
        Guard("unclean-shutdown audit", () => Store.Audit.Append(new UncleanShutdownRecord(previous.Started, previous.LastCheckpoint, lastSeq, BinsRecovered)));
        Console.Error.WriteLine($"ephemera: the previous run (started {previous.Started:O}) did not stop cleanly; last checkpoint {previous.LastCheckpoint:O}, " +
                                $"{BinsRecovered} open bin(s) recovered");
    }

    /// <summary>The crash checkpoint: every camera's raw open bins (merged with any recovered ones), replaced in one transaction.</summary>
    private void CheckpointOpenBins()
    {
        var bins = new List<EphemeraStore.OpenBin>();
        foreach (var c in _cameras)
        {
            if (c.Manifest is null || c.Analytics is null) continue;
            var open = OutputPublisher.Tables(c.Manifest, c.WithAnalytics(a => a.Snapshot()), _epochUtc).Select(t => _carry.Peek(c.Id, t)).ToList();
            var seen = open.Select(t => (t.Class, t.BinStart)).ToHashSet();
            open.AddRange(_carry.Pending(c.Id).Where(t => !seen.Contains((t.Class, t.BinStart))));
            bins.AddRange(open.Select(t => new EphemeraStore.OpenBin(c.Id, t.Class, t.BinStart, t.ToJson())));
        }
        Store.SaveOpenBins(bins);
    }

    /// <summary>Each finished source gap (and at the end, the open ones) becomes one audit record.</summary>
    private void AppendGapAudit(bool final)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var c in _cameras)
        {
            if (c.Manifest is null) continue;
            var gaps = c.GapList;
            int done = _gapsAudited.GetValueOrDefault(c.Id);
            for (int i = done; i < gaps.Count; i++)
            {
                var g = gaps[i];
                if (g.End is null && !final) break;
                Store.Audit.Append(new SourceGapRecord(c.Id, g.Start, g.End ?? now, Math.Round(g.Seconds(now), 3), g.Cause));
                _gapsAudited[c.Id] = i + 1;
            }
        }
    }

    /// <summary>H1 proof of destruction: per camera, frames decoded and wiped since the last record, plus the pixel ledger.</summary>
    private void AppendPixelAudit()
    {
        var now = _run.Clock.Now;
        var l = PixelLedger.Snapshot();
        foreach (var c in _cameras)
        {
            if (c.Manifest is null) continue;
            var (d0, w0) = _audited[c.Id];
            long d = c.FramesDecoded, w = c.FramesDestroyed;
            Store.Audit.Append(new PixelAuditRecord(c.Id, _lastAudit, now, d - d0, w - w0,
                l.Allocated - _ledgerAtLastAudit.Allocated, l.Wiped - _ledgerAtLastAudit.Wiped,
                l.LifetimeMaxMs, l.LifetimeP99Ms, OutputsEmitted, c.Manifest.VersionHash));
            _audited[c.Id] = (d, w);
        }
        _ledgerAtLastAudit = l;
        _lastAudit = now;
    }

    private void ReleaseDetector()
    {
        if (_batcher is { } b && b.Counters.Frames is > 0 and var frames)
            Stages.Add(Stage.Inference, (long)(b.InferenceMsPerFrame * frames * System.Diagnostics.Stopwatch.Frequency / 1000.0), frames);
        _batcher?.Dispose(); _batcher = null;
        _detector?.Dispose(); _detector = null;
    }

    public void Dispose()
    {
        foreach (var c in _cameras) { c.Stop(TimeSpan.FromSeconds(5)); c.Dispose(); }
        ReleaseDetector();
        Metrics.Dispose();
        Store.Dispose();
    }
}
