using System.Diagnostics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Inference;
using Ephemera.Inference.Runtime;
using Ephemera.Governance.Records;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
    /// <summary>Where engine messages go (null = nowhere). The CLI logs to stderr; an embedding host passes its own.</summary>
    public ILoggerFactory? Loggers { get; init; }
    /// <summary>Cameras the detector's tensor banks are sized for (0 = the config's camera count); cameras added later than that still run, sharing banks.</summary>
    public int MaxCameras { get; init; }
    /// <summary>End the run when every camera has ended (the CLI over files); false keeps an embedded engine up for cameras added later.</summary>
    public bool StopWhenCamerasEnd { get; init; } = true;
    /// <summary>Frames each camera's pixel stages may hold at once (their own bounded pool; a frame that finds it full skips the stages, counted).</summary>
    public int PixelStageSlots { get; init; } = 2;
    /// <summary>
    /// The cluster transport's tap (null = none): each camera's raw, not yet suppressed count tables
    /// of its open bins at every checkpoint (<c>closed</c> false) and of the bins it closes
    /// (<c>closed</c> true; at a stop or removal, its partial bins — except on the media-time clock,
    /// where only the media passing a bin's end or the file's end closes it: a camera stopped mid-file
    /// resumes elsewhere). The last argument: on the media-time clock, the frames the tables cover
    /// (<see cref="CameraWorker.MediaFrames"/>), else -1. Only for a transport that merges
    /// the parts of a bin and releases it through <see cref="ReleaseGate"/> (Ephemera.Cluster's
    /// collector): the tables are counts, never pixels, but they are not k-suppressed.
    /// </summary>
    public Action<string, CameraManifest, IReadOnlyList<RawBinTable>, bool, long>? RawBinTap { get; init; }
    /// <summary>
    /// Beside <see cref="RawBinTap"/>, for the same transport: each flush's coarsened visits (not yet
    /// through the unicity gate), and the time before which the camera's bins are closed (bins ending at
    /// or before it get no more tables; <see cref="DateTimeOffset.MinValue"/>: none closed by this flush),
    /// and the media frames as there.
    /// </summary>
    public Action<string, CameraManifest, IReadOnlyList<CoarseVisit>, DateTimeOffset, long>? TrajectoryTap { get; init; }
    /// <summary>
    /// False for a cluster worker: its store keeps the pixel audit and lifecycle, not released records
    /// (the collector's store is the one store of the cluster; a worker's own releases of a bin that a
    /// failover split would sit beside the merged bin, and their difference could be below k).
    /// </summary>
    public bool StoreReleasedRecords { get; init; } = true;
}

/// <summary>The answer to admitting a camera: admitted, or refused with the requirement id (BP-a, G2, H3, …) and the reason.</summary>
public sealed record CameraAdmission(string CameraId, bool Admitted, string? RequirementId, string? Reason)
{
    // Reasons start with the requirement they rest on: "BP-a: …", "G2: …", "H3: …".
    private static readonly System.Text.RegularExpressions.Regex s_requirement = new(@"^([A-Z]{1,3}[0-9]*(?:-[a-z])?):", System.Text.RegularExpressions.RegexOptions.Compiled);

    public static CameraAdmission Refused(string cameraId, string reason)
    {
        var m = s_requirement.Match(reason);
        return new CameraAdmission(cameraId, false, m.Success ? m.Groups[1].Value : null, reason);
    }
}

/// <summary>
/// The engine: store, manifests and gates, one shared detector behind a cross-stream batcher, and
/// one <see cref="CameraWorker"/> per camera. A camera whose manifest is missing, invalid or not yet
/// allowed to start is refused with its reason; the others run. Cameras can be admitted and removed
/// while the engine runs (the detector keeps its batches). Periodically it appends a pixel audit
/// record per camera, publishes closed time bins through the release gate to the sinks (the store
/// first), and applies retention.
/// </summary>
public sealed class EngineHost : IDisposable
{
    private readonly EngineConfig _config;
    private readonly EngineRunOptions _run;
    private readonly ILogger _log;
    private readonly object _sync = new();   // camera list, audit counters, publishing
    private ObjectDetector? _detector;
    private CrossStreamBatcher? _batcher;
    private volatile CameraWorker[] _cameras = [];
    private readonly List<CameraWorker> _retired = new();
    private readonly Dictionary<string, (long Decoded, long Destroyed)> _audited = new();
    private readonly DateTimeOffset _epochUtc;
    private readonly double _epochSeconds;
    private LedgerSnapshot _ledgerAtLastAudit;
    private readonly LedgerSnapshot _ledgerAtStart;
    private long _outputs;
    private int _admittedEver;
    private DateTimeOffset _lastAudit;
    private Thread? _supervisor;
    private volatile bool _stopRequested;
    private readonly ManualResetEventSlim _ended = new();
    private bool _stopped;

    public EphemeraStore Store { get; }
    public StageTimes Stages { get; } = new();
    public DetectionFairness Fairness { get; } = new();
    public EngineMetrics Metrics { get; } = new();
    /// <summary>Released records go here: the store is its first sink; hosts add theirs and readers.</summary>
    public RecordRouter Records { get; }
    /// <summary>The cameras admitted or refused, and still part of the engine (removed ones are in <see cref="RetiredCameras"/>).</summary>
    public IReadOnlyList<CameraWorker> Cameras => _cameras;
    /// <summary>Cameras removed while the engine ran, as they stood when removed.</summary>
    public IReadOnlyList<CameraWorker> RetiredCameras { get { lock (_sync) return _retired.ToArray(); } }
    public CrossStreamBatcher? Batcher => _batcher;
    public bool Started { get; private set; }
    /// <summary>The detector's input tensor size (0×0 = the model's own), chosen at start (see <see cref="EngineOptions.InputFit"/>).</summary>
    public (int Width, int Height) DetectorInput { get; private set; }
    /// <summary>The detector's precision and why (null until the detector is opened).</summary>
    public Inference.Runtime.PrecisionDecision? DetectorPrecision => _detector?.Precision;
    public long OutputsEmitted => Interlocked.Read(ref _outputs);
    public TimeSpan Elapsed => _watch.Elapsed;
    private readonly Stopwatch _watch = new();
    public ILogger Log => _log;

    public EngineHost(EngineConfig config, EngineRunOptions? run = null)
    {
        _config = config; _run = run ?? new EngineRunOptions();
        _log = (_run.Loggers ?? NullLoggerFactory.Instance).CreateLogger("Ephemera.Engine");
        Records = new RecordRouter(_log);
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
        if (_run.StoreReleasedRecords) Records.AddSink(new StoreSink(this));
        var nowUtc = _run.Clock.Now.ToUniversalTime();
        _epochUtc = new DateTimeOffset(nowUtc.Date, TimeSpan.Zero); // analytics seconds count from UTC midnight: bins align to wall clock
        _epochSeconds = (nowUtc - _epochUtc).TotalSeconds;

        // The config's cameras are admitted together: the detector input fits all of them, and their
        // detection phases spread evenly over the interval.
        var admitted = new List<Validated>();
        foreach (var cam in config.Cameras)
        {
            if (Validate(cam, null, out var v, out var refusal)) admitted.Add(v!);
            else AddRefused(cam, refusal!);
        }
        if (admitted.Count > 0) EnsureDetector(admitted.Select(a => a.Cam), Math.Max(admitted.Count, _run.MaxCameras));
        for (int i = 0; i < admitted.Count; i++) AddWorker(admitted[i], (double)i / admitted.Count, start: false);
    }

    private sealed record Validated(CameraConfig Cam, CameraManifest Manifest, AnalyticsBinder.Binding Binding, IReadOnlyList<IPixelStage> Stages);

    /// <summary>Manifest present and valid, the start gate passed, every produced class declared.</summary>
    private bool Validate(CameraConfig cam, CameraManifest? given, out Validated? v, out string? refusal, IReadOnlyList<IPixelStage>? stages = null)
    {
        v = null; refusal = null;
        try
        {
            if (given is null && cam.Manifest is null) throw new EphemeraException("BP-a: no manifest: a camera runs only under a purpose manifest");
            var manifest = (given ?? ManifestLoader.Load(cam.Manifest!)).ForCamera(cam.Id);
            var decision = Store.AuthorizeStart(manifest);
            if (!decision.Allowed) throw new EphemeraException(string.Join("; ", decision.Reasons));
            var binding = AnalyticsBinder.Bind(cam, manifest, CountCategoriesOfDetector());
            foreach (var cls in binding.Produces) ManifestGate.EnsureDeclared(manifest, cls);
            v = new Validated(cam, manifest, binding, stages ?? []);
            return true;
        }
        catch (EphemeraException ex)
        {
            refusal = ex.Message;
            return false;
        }
    }

    private void AddRefused(CameraConfig cam, string reason)
    {
        var refused = new CameraWorker(cam, reason);
        lock (_sync) _cameras = [.. _cameras.Where(c => c.Id != cam.Id || c.State != CameraState.Refused), refused];
        Metrics.CameraUp.WithLabels(cam.Id).Set(0);
        _log.LogWarning("camera {Camera} refused: {Reason}", cam.Id, reason);
    }

    private CountCategories? _countCategories;
    /// <summary>The engine detector's count categories, from the model manifest (the COCO map when it gives none).</summary>
    private CountCategories CountCategoriesOfDetector() =>
        _countCategories ??= Inference.Models.ModelCatalog.Load().Get(_config.Engine.Model).CountCategories ?? CountCategories.Coco;

    /// <summary>The options of the detector an engine under <paramref name="e"/> opens at <paramref name="input"/> (see <see cref="ChooseDetectorInput"/>).</summary>
    public static DetectorOptions DetectorOptionsFor(EngineOptions e, (int Width, int Height) input, Inference.Preprocess.IPreprocessKernels? kernels = null) => new()
    {
        Kernels = kernels,
        Model = e.Model,
        Inference = new InferenceOptions(e.Provider, e.IntraOpThreads, parallelRuns: e.ParallelRuns),
        MaxBatch = e.MaxBatch,
        InputWidth = input.Width, InputHeight = input.Height,
        Decode = new Inference.Postprocess.DecodeOptions(e.ScoreThreshold),
        ModelsDirectory = e.ModelsDirectory,
        Precision = e.Precision,
    };

    private void EnsureDetector(IEnumerable<CameraConfig> cameras, int expectedCameras)
    {
        if (_batcher != null) return;
        var e = _config.Engine;
        DetectorInput = ChooseDetectorInput(e, cameras);
        _kernels ??= Vulkan.KernelSelection.Select(e.Kernels, line => _log.LogInformation("{Kernels}", line));
        _detector = ObjectDetector.Open(DetectorOptionsFor(e, DetectorInput, _kernels));
        var p = _detector.Precision;
        _log.LogInformation("detector precision {Precision}: {Reason} (fp32 {Fp32Ms} ms, int8 {Int8Ms} ms per image at start; cpu flags: {Flags})",
            p.Chosen.ToString().ToLowerInvariant(), p.Reason, p.Fp32MsPerImage?.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) ?? "-",
            p.Int8MsPerImage?.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) ?? "-", p.CpuFlags);
        // One bank per camera (plus one): each camera has at most one frame in flight, so a burst of
        // cameras whose frames arrive together is absorbed instead of refused, the detector never
        // idles between retries, and the queue is bounded by the camera count (2 MB per bank at 416²).
        int banks = Math.Clamp(expectedCameras + 1, 2, 64);
        _batcher = new CrossStreamBatcher(_detector, new BatcherOptions(e.MaxBatch, TimeSpan.FromMilliseconds(e.BatchDeadlineMs), banks));
        _batcher.WarmUp();
        _log.LogInformation("detector {Model} at {Width}x{Height}, {Runs} run(s) at once × {Threads} thread(s), {Banks} tensor banks",
            _detector.Model.Name, _detector.InputWidth, _detector.InputHeight, _batcher.Workers, _detector.Options.Inference.EffectiveIntraOpThreads, banks);
    }

    /// <summary>
    /// The decode a camera under <paramref name="manifest"/> gets: skipped deblocking only where nothing but
    /// the detector sees the picture (<c>engine.decode: fast</c>); a camera whose output is an image
    /// (case 4) keeps the bit-exact decode, so what it releases has no blocking artefacts.
    /// </summary>
    public static SourceOptions DecodeFor(EngineOptions e, CameraManifest manifest, SourceOptions options) =>
        e.Decode == DecodeQuality.Fast && !manifest.Declares(DataClass.AnonymisedImage) ? options.Cheaper() : options;

    private CameraWorker AddWorker(Validated v, double phase, bool start, long resumeFrame = 0)
    {
        var (cam, manifest, binding, stages) = (v.Cam, v.Manifest, v.Binding, v.Stages);
        var e = _config.Engine;
        // As many cameras as cores or more: one decoder thread each (frame threads would only contend).
        int cameras = Math.Max(_config.Cameras.Count, _cameras.Length + 1);
        int decoderThreads = _run.DecoderThreads >= 0 ? _run.DecoderThreads : (cameras >= Environment.ProcessorCount ? 1 : 0);
        var sourceOptions = SourceOptions.Default with { DecoderThreads = decoderThreads };
        sourceOptions = DecodeFor(e, manifest, sourceOptions);
        CameraWorker? worker = null;
        // The purpose's own pixel stages (case 4's anonymiser); what they release takes the one publishing path.
        stages = [.. stages, .. AnalyticsBinder.PixelStagesFor(binding, manifest, e, () => _run.Clock.Now, record => Release(worker!, record),
            () => worker?.Analytics?.Attributes)];
        // Phases spread evenly over the detection interval: an even load instead of a burst per interval.
        worker = new CameraWorker(cam, manifest, binding.Options, _batcher, cam.DetectFps ?? e.DetectFps, sourceOptions, Stages, _epochSeconds,
            Fairness, detectPhase: phase, log: _log, pixelStages: stages, pixelStageSlots: _run.PixelStageSlots, schedule: e.Schedule,
            mediaOffsetSeconds: cam.MediaStart is { } ms ? (ms - _epochUtc).TotalSeconds : null, resumeFrame: resumeFrame);
        if (worker.Analytics!.Crowd is { } crowd)
            crowd.Rendered += snap =>
            {
                // Runs on the camera's thread (never a detector thread); a refused or failing sink is the router's to count.
                IconImageRecord record;
                try { record = ReleaseGate.IconImage(manifest, _run.Clock.Now, snap.Png, snap.People); }
                catch (EphemeraException ex) { _log.LogWarning("camera {Camera}: icon image refused: {Reason}", cam.Id, ex.Message); return; }
                Release(worker, record);
            };
        lock (_sync)
        {
            _cameras = [.. _cameras.Where(c => c.Id != cam.Id), worker]; // a refused entry of the same id gives way
            _audited[cam.Id] = (0, 0);
            _admittedEver++;
            Fairness.SetCameras(_cameras);
        }
        if (start) worker.Start();
        return worker;
    }

    /// <summary>
    /// Admits a camera to a running (or not yet started) engine: the manifest is <paramref name="manifest"/>,
    /// or the file <see cref="CameraConfig.Manifest"/> names. Refused cameras are listed with their
    /// reason and never decode a frame. Optional pixel stages run on the still-held frame after its detections.
    /// </summary>
    /// <param name="resumeFrame">Media-time cameras: the frame from which it is paced (the frames before are caught up unpaced; a camera moved by failover resumes where its previous owner was).</param>
    public CameraAdmission Admit(CameraConfig camera, CameraManifest? manifest = null, IReadOnlyList<IPixelStage>? pixelStages = null, long resumeFrame = 0)
    {
        ArgumentNullException.ThrowIfNull(camera);
        lock (_sync)
        {
            if (_stopRequested) throw new EphemeraException("the engine is stopping; cameras can no longer be added");
            if (_cameras.Any(c => c.Id == camera.Id && c.State != CameraState.Refused))
                return CameraAdmission.Refused(camera.Id, $"camera id {camera.Id} is already running (remove it first)");
            if (!Validate(camera, manifest, out var v, out var refusal, pixelStages))
            {
                AddRefused(camera, refusal!);
                return CameraAdmission.Refused(camera.Id, refusal!);
            }
            EnsureDetector([camera], Math.Max(_run.MaxCameras, _cameras.Length + 1));
            // A camera added later takes a phase by the golden ratio: never on top of the ones already running.
            double phase = (_admittedEver * 0.6180339887) % 1.0;
            var worker = AddWorker(v!, phase, start: Started, resumeFrame);
            if (Started)
                Guard("camera audit", () => Store.Audit.Append(new CameraLifecycleRecord(camera.Id, "added", 0, 0, v!.Manifest.VersionHash)));
            _log.LogInformation("camera {Camera} added ({Source})", camera.Id, camera.Source);
            return new CameraAdmission(camera.Id, true, null, null);
        }
    }

    /// <summary>
    /// Removes a camera while the others run: its thread stops, its last frame is wiped, its open
    /// bins are published (partial), and a pixel audit and a removal record are appended.
    /// False when no such camera is running.
    /// </summary>
    public bool RemoveCamera(string cameraId, TimeSpan timeout)
    {
        lock (_sync)
        {
            var c = _cameras.FirstOrDefault(x => x.Id == cameraId);
            if (c is null) return false;
            c.Stop(timeout);
            if (c.Manifest != null)
            {
                PublishBins(c, final: true);
                Guard("pixel audit", () => AppendPixelAudit(c, PixelLedger.Snapshot(), _run.Clock.Now));
                Guard("gap audit", () => AppendGapAudit(c, final: true), writes: false);
                Guard("camera audit", () => Store.Audit.Append(new CameraLifecycleRecord(c.Id, "removed", c.FramesDecoded, c.FramesDestroyed, c.Manifest.VersionHash)));
            }
            c.MarkRemoved();
            _cameras = _cameras.Where(x => x != c).ToArray();
            _audited.Remove(c.Id);
            _gapsAudited.Remove(c.Id);
            _retired.Add(c);
            Fairness.SetCameras(_cameras);
            Metrics.CameraUp.WithLabels(c.Id).Set(0);
            c.Dispose();
        }
        _log.LogInformation("camera {Camera} removed", cameraId);
        return true;
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

    /// <summary>Starts every admitted camera, runs until the duration ends, cancellation, or every camera ended, then stops.</summary>
    public void Run(CancellationToken cancel = default)
    {
        Start();
        WaitHandle.WaitAny([cancel.WaitHandle, _ended.WaitHandle]);
        Stop();
    }

    /// <summary>
    /// The pixel ledger around the run, once stopped: at construction, just before the detector's
    /// tensors were freed (its lifetimes are the cameras' pictures only), and after everything went.
    /// </summary>
    public (LedgerSnapshot AtStart, LedgerSnapshot Lifetimes, LedgerSnapshot AtStop)? Ledger { get; private set; }

    /// <summary>Starts the cameras admitted so far and the supervisor (audit, publishing, retention); later cameras start as they are admitted.</summary>
    public void Start()
    {
        if (_run.MaxDuration is { } d && d <= TimeSpan.Zero) throw new EphemeraException($"max duration must be positive, got {d}");
        lock (_sync)
        {
            if (Started) return;
            if (_stopRequested) throw new EphemeraException("the engine was stopped; create a new one");
            _ledgerAtLastAudit = PixelLedger.Snapshot();
            _lastAudit = _run.Clock.Now;
            RecoverUncleanRun();
            _watch.Start();
            foreach (var c in _cameras) { c.Start(); _audited[c.Id] = (0, 0); }
            Started = true;
        }
        _supervisor = new Thread(Supervise) { IsBackground = true, Name = "ephemera:supervisor" };
        _supervisor.Start();
    }

    /// <summary>Set when the run ended by itself (duration reached, or every camera ended when <see cref="EngineRunOptions.StopWhenCamerasEnd"/>).</summary>
    public WaitHandle Ended => _ended.WaitHandle;

    private void Supervise()
    {
        double auditEvery = _config.Engine.AuditIntervalSeconds;
        var nextAudit = TimeSpan.FromSeconds(auditEvery);
        var nextTick = TimeSpan.FromSeconds(1);
        while (!_stopRequested)
        {
            if (_run.MaxDuration is { } max && _watch.Elapsed >= max) break;
            var cams = _cameras;
            if (_run.StopWhenCamerasEnd && cams.All(c => !c.IsAlive && c.State is not CameraState.Starting)) break;
            Thread.Sleep(50);
            if (_watch.Elapsed >= nextTick)
            {
                nextTick += TimeSpan.FromSeconds(1);
                Fairness.Tick();
                UpdateMetrics();
                try { _run.OnTick?.Invoke(this); }
                catch (Exception ex) { _log.LogWarning("progress callback failed: {Error}", ex.Message); }
            }
            if (_watch.Elapsed >= nextAudit)
            {
                nextAudit += TimeSpan.FromSeconds(auditEvery);
                lock (_sync)
                {
                    if (_stopRequested) break;
                    Store.RetryPending();
                    foreach (var c in _cameras)
                    {
                        // A media-time file at its end: its last bins are complete, out now (its last detection taken first).
                        if (c.IsMediaTime && c.State is CameraState.Ended or CameraState.Truncated && !c.BinsFinal) c.Stop(TimeSpan.FromSeconds(10));
                        PublishBins(c, final: c.IsMediaTime && c.State is CameraState.Ended or CameraState.Truncated);
                    }
                    Guard("open-bin checkpoint", CheckpointOpenBins);
                    Guard("pixel audit", AppendPixelAudit);
                    Guard("gap audit", () => { foreach (var c in _cameras) AppendGapAudit(c, final: false); }, writes: false);
                }
            }
        }
        _ended.Set();
    }

    /// <summary>Stops every camera, publishes the last bins, writes the final audit, and completes the readers. Idempotent.</summary>
    public void Stop()
    {
        lock (_sync)
        {
            if (_stopped) return;
            _stopped = _stopRequested = true;
        }
        _supervisor?.Join();
        lock (_sync)
        {
            // Every camera is told at once, then waited for: stopped one by one, the last of dozens ran
            // on for a second after the first had stopped (a bench's first cameras then looked short of
            // detections over the run's time), and shutdown took the sum of their waits.
            foreach (var c in _cameras) c.RequestStop();
            _watch.Stop();
            foreach (var c in _cameras) c.Stop(TimeSpan.FromSeconds(10));
            // Pixel lifetimes are read before the detector goes: its batch tensors live as long as the
            // detector (they are wiped after every inference), and their final free is not a pixel lifetime.
            var lifetimes = PixelLedger.Snapshot();
            ReleaseDetector(); // the tensors are pixel buffers too: freed before the counts are read
            foreach (var c in _cameras) PublishBins(c, final: true);
            Store.RetryPending();
            Guard("pixel audit", AppendPixelAudit);
            Guard("gap audit", () => { foreach (var c in _cameras) AppendGapAudit(c, final: true); }, writes: false);
            Guard("audit checkpoint", () => Store.Audit.Checkpoint());
            Guard("retention", () => Store.ApplyRetention());
            // Every bin is out (or waiting in a failing store's buffer, lost with the process: then the
            // next start recovers them from the last checkpoint instead).
            if (Store.Healthy) Guard("run marker", Store.MarkRunStopped);
            UpdateMetrics();
            Records.Complete();
            Ledger = (_ledgerAtStart, lifetimes, PixelLedger.Snapshot());
        }
    }

    private void UpdateMetrics()
    {
        var l = PixelLedger.Snapshot();
        Metrics.PixelBuffers.WithLabels("allocated").Set(l.Allocated);
        Metrics.PixelBuffers.WithLabels("wiped").Set(l.Wiped);
        Metrics.PixelBuffers.WithLabels("in_use").Set(l.InUse);
        Metrics.PixelBuffers.WithLabels("leaked").Set(l.Leaked);
        Metrics.PixelHeldMs.WithLabels("engine_held", "0.5").Set(l.EngineHeldP50Ms);
        Metrics.PixelHeldMs.WithLabels("engine_held", "0.99").Set(l.EngineHeldP99Ms);
        Metrics.PixelHeldMs.WithLabels("engine_held", "1").Set(l.EngineHeldMaxMs);
        Metrics.PixelHeldMs.WithLabels("decoder_held", "0.5").Set(l.DecoderHeldP50Ms);
        Metrics.PixelHeldMs.WithLabels("decoder_held", "0.99").Set(l.DecoderHeldP99Ms);
        Metrics.PixelHeldMs.WithLabels("decoder_held", "1").Set(l.DecoderHeldMaxMs);
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
            Metrics.FramesDropped.WithLabels(c.Id, "pixel_stage").IncTo(c.PixelStageSkipped);
            Metrics.FramesNotDecoded.WithLabels(c.Id).IncTo(c.FramesNotDecoded);
            Metrics.LatencyMs.WithLabels(c.Id, "0.5").Set(c.Latency.Quantile(0.5));
            Metrics.LatencyMs.WithLabels(c.Id, "0.99").Set(c.Latency.Quantile(0.99));
        }
    }

    /// <summary>Releases one camera's closed time bins (all of them when final) through the gate to the sinks.</summary>
    private void PublishBins(CameraWorker c, bool final)
    {
        if (c.Manifest is null || c.Analytics is null || c.BinsFinal) return; // a final snapshot keeps the bins: once only
        long t0 = Stopwatch.GetTimestamp(), cpu0 = ThreadCpuClock.NowNs();
        try
        {
            double flushAt = double.NaN;
            var (results, mediaFrames) = c.WithAnalytics(a => (final ? a.Final() : a.Flush(flushAt = c.FlushSeconds()), c.MediaFrames));
            if (final) c.BinsFinal = true;
            // Media time: a camera stopped before its file's end has not closed its open bins (they resume elsewhere).
            bool closed = !final || !c.IsMediaTime || c.State is CameraState.Ended or CameraState.Truncated;
            if (_run.TrajectoryTap is { } trajectories)
            {
                var closedBefore = !final ? _epochUtc.AddSeconds(flushAt) : closed ? DateTimeOffset.MaxValue : DateTimeOffset.MinValue;
                try { trajectories(c.Id, c.Manifest, CoarseVisit.From(c.Manifest, results, _epochUtc), closedBefore, mediaFrames); }
                catch (Exception ex) { _log.LogWarning("camera {Camera}: trajectory tap failed: {Error}", c.Id, ex.Message); }
            }
            if (_run.RawBinTap is { } tap) Tap(tap, c.Id, c.Manifest, [.. OutputPublisher.Tables(c.Manifest, results, _epochUtc), .. OutputPublisher.ClusterOnlyTables(c.Manifest, results, _epochUtc)], closed, mediaFrames);
            var records = OutputPublisher.Release(c.Manifest, results, _epochUtc, _carry,
                why => _log.LogInformation("camera {Camera}: trajectories not stored: {Reason}", c.Id, why));
            // Recovered bins this run will not produce again (they ended while the engine was down).
            var now = _epochUtc.AddSeconds(c.NowSeconds());
            foreach (var t in _carry.TakeEnded(c.Id, c.Manifest.Privacy.TimeBin, final ? null : now))
                records.Add(ReleaseGate.CountTable(c.Manifest, t.Class, t.BinStart, t.Rows, t.Cols, t.Counts));
            foreach (var r in records) Release(c, r);
        }
        catch (EphemeraException ex)
        {
            _log.LogWarning("camera {Camera}: output refused: {Reason}", c.Id, ex.Message);
        }
        finally
        {
            Stages.Add(Stage.Publish, Stopwatch.GetTimestamp() - t0);
            Stages.AddCpu(Stage.Publish, ThreadCpuClock.NowNs() - cpu0);
        }
    }

    private void Tap(Action<string, CameraManifest, IReadOnlyList<RawBinTable>, bool, long> tap, string camera, CameraManifest m, List<RawBinTable> tables, bool closed, long mediaFrames)
    {
        if (tables.Count == 0) return;
        try { tap(camera, m, tables, closed, mediaFrames); }
        catch (Exception ex) { _log.LogWarning("camera {Camera}: raw bin tap failed: {Error}", camera, ex.Message); }
    }

    /// <summary>A released record to the sinks and readers, and into the camera's tally (the summary shows only what went out).</summary>
    private void Release(CameraWorker c, DerivedRecord r)
    {
        Records.Publish(r);
        if (r is CountTableRecord t) c.Outputs.Table(t.Class, t.Table); else c.Outputs.Record(r.Class);
        Interlocked.Increment(ref _outputs);
    }

    /// <summary>
    /// Runs a store step (audit, checkpoint, retention) that may fail on a full disk or an I/O error.
    /// A failing store is a health state, not a crash: the cameras keep running and wiping, the
    /// failure is logged once until the store works again, and audit deltas are kept for the next
    /// record (the counters only advance after a record was written).
    /// </summary>
    internal bool Guard(string what, Action step, bool writes = true)
    {
        try
        {
            step();
            if (writes && _storeFailing is not null && Store.Healthy) { _log.LogInformation("store {Store} writes again", Store.Path); _storeFailing = null; }
            return true;
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException) // the store, or a witness on the same full disk
        {
            if (_storeFailing is null) _log.LogError("store {Store} is failing ({What}): {Error}; cameras keep running, records wait in memory", Store.Path, what, ex.Message);
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
        catch (System.Data.Common.DbException ex) { _log.LogError("store {Store}: cannot mark the run: {Error}", Store.Path, ex.Message); return; }
        if (previous is null) return;
        var known = _cameras.Where(c => c.Manifest != null).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var b in previous.OpenBins)
        {
            if (!known.Contains(b.CameraId))
            {
                _log.LogWarning("recovered bin of camera {Camera} ({Class}, {BinStart:O}) dropped: the camera is not running under a manifest now", b.CameraId, b.Class, b.BinStart);
                continue;
            }
            _carry.Add(b.CameraId, RawBinTable.FromJson(b.Class, b.BinStart, b.RawJson));
            BinsRecovered++;
        }
        long lastSeq = Store.Audit.Verify().Records;
        Guard("unclean-shutdown audit", () => Store.Audit.Append(new UncleanShutdownRecord(previous.Started, previous.LastCheckpoint, lastSeq, BinsRecovered)));
        _log.LogWarning("the previous run (started {Started:O}) did not stop cleanly; last checkpoint {Checkpoint:O}, {Bins} open bin(s) recovered",
            previous.Started, previous.LastCheckpoint, BinsRecovered);
    }

    /// <summary>The crash checkpoint: every camera's raw open bins (merged with any recovered ones), replaced in one transaction.</summary>
    private void CheckpointOpenBins()
    {
        var bins = new List<EphemeraStore.OpenBin>();
        foreach (var c in _cameras)
        {
            if (c.Manifest is null || c.Analytics is null || c.BinsFinal) continue;
            var (snapshot, mediaFrames) = c.WithAnalytics(a => (a.Snapshot(), c.MediaFrames));
            var open = OutputPublisher.Tables(c.Manifest, snapshot, _epochUtc).Select(t => _carry.Peek(c.Id, t)).ToList();
            if (_run.RawBinTap is { } tap)
                Tap(tap, c.Id, c.Manifest, [.. open, .. OutputPublisher.ClusterOnlyTables(c.Manifest, snapshot, _epochUtc)], closed: false, mediaFrames);
            var seen = open.Select(t => (t.Class, t.BinStart)).ToHashSet();
            open.AddRange(_carry.Pending(c.Id).Where(t => !seen.Contains((t.Class, t.BinStart))));
            bins.AddRange(open.Select(t => new EphemeraStore.OpenBin(c.Id, t.Class, t.BinStart, t.ToJson())));
        }
        Store.SaveOpenBins(bins);
    }

    /// <summary>Each finished source gap (and at the end, the open ones) becomes one audit record.</summary>
    private void AppendGapAudit(CameraWorker c, bool final)
    {
        if (c.Manifest is null) return;
        var now = DateTimeOffset.UtcNow;
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

    /// <summary>H1 proof of destruction: per camera, frames decoded and wiped since the last record, plus the pixel ledger.</summary>
    private void AppendPixelAudit()
    {
        var now = _run.Clock.Now;
        var l = PixelLedger.Snapshot();
        foreach (var c in _cameras) AppendPixelAudit(c, l, now);
        _ledgerAtLastAudit = l;
        _lastAudit = now;
    }

    private void AppendPixelAudit(CameraWorker c, LedgerSnapshot l, DateTimeOffset now)
    {
        if (c.Manifest is null) return;
        var (d0, w0) = _audited.GetValueOrDefault(c.Id);
        long d = c.FramesDecoded, w = c.FramesDestroyed;
        Store.Audit.Append(new PixelAuditRecord(c.Id, _lastAudit, now, d - d0, w - w0,
            l.Allocated - _ledgerAtLastAudit.Allocated, l.Wiped - _ledgerAtLastAudit.Wiped,
            l.LifetimeMaxMs, l.LifetimeP99Ms, OutputsEmitted, c.Manifest.VersionHash));
        _audited[c.Id] = (d, w);
    }

    private Inference.Preprocess.IPreprocessKernels? _kernels; // engine option kernels:, chosen with the detector

    private void ReleaseDetector()
    {
        if (_batcher is { } b && b.Counters.Frames is > 0 and var frames)
        {
            Stages.Add(Stage.Inference, (long)(b.InferenceMsPerFrame * frames * System.Diagnostics.Stopwatch.Frequency / 1000.0), frames);
            Stages.AddCpu(Stage.Inference, (long)(b.InferenceCpuMs * 1e6));
        }
        _batcher?.Dispose(); _batcher = null;
        _detector?.Dispose(); _detector = null;
        (_kernels as IDisposable)?.Dispose(); _kernels = null; // wipes what its preprocessors still hold
    }

    public void Dispose()
    {
        _stopRequested = true;
        _supervisor?.Join(TimeSpan.FromSeconds(15));
        foreach (var c in _cameras) { c.Stop(TimeSpan.FromSeconds(5)); c.Dispose(); }
        ReleaseDetector();
        Metrics.Dispose();
        Store.Dispose();
        _ended.Dispose();
    }

    /// <summary>The default sink: released records into the store. A failing store is the host's health state, not a sink failure.</summary>
    private sealed class StoreSink(EngineHost host) : IOutputSink
    {
        public void Write(DerivedRecord record) => host.Guard($"camera {record.CameraId}: {record.Class}", () => host.Store.Write(record));
    }
}
