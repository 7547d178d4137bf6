using System.Diagnostics;
using Ephemera.Analytics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Inference;
using Ephemera.Runtime.Scheduling;
using Ephemera.Tracking;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ephemera.Runtime;

/// <summary>What a camera is doing, as shown in the live status and the summary.</summary>
public enum CameraState { Starting, Running, Reconnecting, Ended, Truncated, Failed, Refused, Stopped, Removed }

/// <summary>
/// One camera: its own decode thread (source → frame lease → detection slot → wipe), its tracker
/// and purpose analytics. Detections come back through a capacity-1 hand-off: the batcher thread
/// only marks the result ready, and the camera's own thread runs the tracker and analytics (and any
/// PNG rendering or sink write they cause), so a detector thread never does. A failure here —
/// corrupt stream, dropped RTSP, missing file — changes only this camera's state.
///
/// Back-pressure: decoded frames are never queued. Each frame is either preprocessed straight
/// into a detector batch slot (when detection is due and a slot is free) or not; then its lease is
/// disposed, which wipes the pixels. When the detector is behind, due detections are skipped and
/// counted (the camera's effective detection rate degrades, the tracker bridges the gap) before
/// any decoded frame is dropped, and memory stays bounded by the batcher's two tensor banks.
/// </summary>
public sealed class CameraWorker : IDisposable
{
    private readonly CrossStreamBatcher? _batcher;
    private readonly DetectionFairness? _fairness;
    private long _detectionsAtLastTick;
    private readonly DetectionRequest? _request;     // null for a refused camera
    private readonly MultiObjectTracker? _tracker;
    private readonly object _analyticsLock = new();
    private readonly SourceOptions _sourceOptions;
    private readonly StageTimes _stages;
    private readonly long _detectIntervalTicks;
    private readonly long _detectPhaseTicks;
    private readonly double _epochSeconds;
    // The media-time clock (null: wall clock): analytics seconds of frame 0, and the frame index
    // from which a file camera is paced (a camera moved by failover catches up unpaced first).
    private readonly double? _mediaOffsetSeconds;
    private readonly long _resumeFrame;
    private long _detectK;                 // media time: detections due so far (the k-th is on frame DetectFrame(k))
    private long _mediaFrames;             // media time: frames the analytics have seen (last detected frame + 1)
    private bool _binsFinal;
    private Thread? _thread;
    private volatile bool _stop;
    private long _pendingCaptureTicks;
    private bool _pendingAtFullRate = true;                          // the detection in flight was asked at full rate (by need), or the schedule is full
    private bool _warnedShortLoop;
    private bool _refusedSlot; // the due detection was already refused once (counted as skipped)
    private readonly ILogger _log;
    private readonly PixelStageRunner? _pixelStages;
    private FrameLease? _heldForStages;              // the in-flight detection's frame, held for the pixel stages
    private readonly ManualResetEventSlim _resultReady = new(false); // the capacity-1 hand-off from the batcher thread
    private readonly DetectionScheduler? _scheduler;                  // null: every due detection runs (schedule: full)
    private readonly double _basePriority;                            // the config's priority (by need: × the slack weight per request)
    private int[] _removedWhilePredicting = [];                       // track ids the tracker removed on skipped detections, for the next analytics update
    private int _removedWhilePredictingCount;

    // Counters, read by other threads (status, summary, audit): updated with Interlocked or volatile.
    private long _framesDecoded, _framesDestroyed, _framesDroppedPool, _framesNotDecoded, _detectionsDone, _detectionsSkipped, _detectionsFailed, _gaps;
    private long _lateFrames;
    private long _maxLatenessTicks;

    public CameraConfig Config { get; }
    public string Id => Config.Id;
    public CameraManifest? Manifest { get; }
    public PurposeAnalytics? Analytics { get; }
    /// <summary>What this camera released through the gates (the summary shows this, never raw analytics).</summary>
    public OutputTally Outputs { get; } = new();
    public volatile CameraState State;
    public string? Error { get; private set; }
    public LatencyHistogram Latency { get; } = new();
    /// <summary>
    /// <see cref="Latency"/> split by what the camera asked (by need): detections asked at full rate, and
    /// floor detections of a still camera. A floor result is not wanted before the next floor detection
    /// (2–4 s away), and the batcher serves full-rate frames first, so a benchmark judges each against
    /// its own interval. With the full schedule every detection is a full-rate one.
    /// </summary>
    public LatencyHistogram FullRateLatency { get; } = new();
    /// <inheritdoc cref="FullRateLatency"/>
    public LatencyHistogram FloorLatency { get; } = new();
    public double SourceFrameRate { get; private set; }

    public long FramesDecoded => Interlocked.Read(ref _framesDecoded);
    public long FramesDestroyed => Interlocked.Read(ref _framesDestroyed);
    public long FramesDroppedForPool => Interlocked.Read(ref _framesDroppedPool);
    /// <summary>Frames never decoded because no detection needed them (H.264 non-reference frames between detections).</summary>
    public long FramesNotDecoded => Interlocked.Read(ref _framesNotDecoded);
    public long DetectionsDone => Interlocked.Read(ref _detectionsDone);
    /// <summary>Due detections refused on their first try (detector busy or the previous frame still in flight); each is retried on the next frame.</summary>
    public long DetectionsSkipped => Interlocked.Read(ref _detectionsSkipped);
    public long DetectionsFailed => Interlocked.Read(ref _detectionsFailed);
    public long Gaps => Interlocked.Read(ref _gaps);
    /// <summary>Frames that skipped the camera's pixel stages because their bounded pool was full (0 without stages).</summary>
    public long PixelStageSkipped => _pixelStages?.Skipped ?? 0;
    /// <summary>Frames the pixel stages processed.</summary>
    public long PixelStageProcessed => _pixelStages?.Processed ?? 0;
    /// <summary>True when the camera has pixel stages (its detected frames may be held for them).</summary>
    public bool HasPixelStages => _pixelStages != null;
    /// <summary>The camera's pixel stages (empty when its purpose needs none).</summary>
    public IReadOnlyList<IPixelStage> PixelStages => _pixelStages?.Stages ?? [];
    /// <summary>The camera's full detection rate (its due detections per second).</summary>
    public double DetectFps { get; }
    /// <summary>The by-need schedule's decisions (null when every due detection runs).</summary>
    public DetectionScheduler? Scheduler => _scheduler;
    /// <summary>Due detections the by-need schedule skipped (the tracker predicted through them).</summary>
    public long DetectionsNotNeeded => Interlocked.Read(ref _detectionsNotNeeded);
    private long _detectionsNotNeeded;

    /// <summary>
    /// Detections the camera's schedule asked for over <paramref name="seconds"/> of running: detect_fps
    /// × seconds at full rate; under the by-need schedule, what it asked at full and at floor rate.
    /// </summary>
    public double DetectionsAsked(double seconds) => _scheduler?.Asked ?? DetectFps * seconds;

    /// <summary>Detections per second over the last few seconds (exponentially decayed), for fair sharing.</summary>
    public double RecentDetectRate { get; private set; }

    /// <summary>
    /// What fair sharing compares: the recent rate scaled to what the schedule asks now, capped at
    /// detect_fps. By need, a still camera that got its floor detections counts as served in full, and
    /// one asking full rate after motion but starved counts as behind: comparing raw rates deferred the
    /// cameras that needed detections most to the still ones, whenever the detector was momentarily busy.
    /// </summary>
    internal double ServedRate => _scheduler is { AskingFullRate: false } s
        ? Math.Min(DetectFps, RecentDetectRate * s.CurrentFloorSlots)
        : Math.Min(DetectFps, RecentDetectRate);

    internal void UpdateRecentRate()
    {
        long done = DetectionsDone;
        RecentDetectRate = 0.7 * RecentDetectRate + 0.3 * (done - _detectionsAtLastTick);
        _detectionsAtLastTick = done;
    }

    /// <summary>Frames decoded later than max(one frame interval, 100 ms) after their live-camera schedule.</summary>
    public long LateFrames => Interlocked.Read(ref _lateFrames);
    public double MaxLatenessMs => Interlocked.Read(ref _maxLatenessTicks) * 1000.0 / Stopwatch.Frequency;

    /// <summary>A camera refused before it started (bad manifest, gate), with the reason.</summary>
    public CameraWorker(CameraConfig config, string reason)
    {
        Config = config; State = CameraState.Refused; Error = reason;
        _sourceOptions = SourceOptions.Default; _stages = new StageTimes(); _log = NullLogger.Instance;
    }

    public CameraWorker(CameraConfig config, CameraManifest manifest, PurposeAnalyticsOptions analytics,
        CrossStreamBatcher? batcher, double detectFps, SourceOptions sourceOptions, StageTimes stages, double epochSeconds,
        DetectionFairness? fairness = null, double detectPhase = 0, ILogger? log = null,
        IReadOnlyList<IPixelStage>? pixelStages = null, int pixelStageSlots = 2, ScheduleOptions? schedule = null,
        double? mediaOffsetSeconds = null, long resumeFrame = 0)
    {
        if (detectPhase is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(detectPhase), detectPhase, "a fraction of the detection interval, 0 ≤ phase < 1");
        Config = config; Manifest = manifest; _batcher = batcher; _stages = stages; _fairness = fairness;
        _sourceOptions = sourceOptions with { Loop = config.Loop, Paced = false, StartSeconds = config.StartSeconds }; // pacing is done here, so decode time is measurable
        _epochSeconds = epochSeconds;
        _mediaOffsetSeconds = mediaOffsetSeconds;
        _resumeFrame = Math.Max(0, resumeFrame);
        Analytics = new PurposeAnalytics(analytics);
        // The adaptive default: its thresholds follow the detector's score scale (YOLOX-Nano at 416 on
        // ADL-Rundle-6: HOTA .377 vs .350 with the fixed Live thresholds).
        _tracker = new MultiObjectTracker(TrackerOptions.Default);
        _log = log ?? NullLogger.Instance;
        if (pixelStages is { Count: > 0 }) _pixelStages = new PixelStageRunner(config.Id, pixelStages, pixelStageSlots, stages, _log);
        _basePriority = Math.Max(1, config.Priority);
        _request = new DetectionRequest(OnDetections) { Priority = _basePriority };
        _detectIntervalTicks = detectFps > 0 ? (long)(Stopwatch.Frequency / detectFps) : long.MaxValue;
        _detectPhaseTicks = detectFps > 0 ? (long)(detectPhase * _detectIntervalTicks) : 0;
        DetectFps = detectFps;
        // Media time detects on fixed frames: the by-need schedule's decisions depend on timing, so it runs at full rate.
        if (schedule is { Mode: ScheduleMode.ByNeed } && batcher != null && detectFps > 0 && mediaOffsetSeconds is null)
            _scheduler = DetectionScheduler.For(schedule, detectFps, Analytics);
        State = CameraState.Starting;
    }

    public void Start()
    {
        if (State != CameraState.Starting) return;
        _thread = new Thread(Run) { IsBackground = true, Name = $"camera:{Id}" };
        _thread.Start();
    }

    /// <summary>Asks the decode thread to stop without waiting (<see cref="Stop"/> waits).</summary>
    public void RequestStop() => _stop = true;

    /// <summary>Asks the decode thread to stop and waits for it (and for its in-flight detection).</summary>
    public void Stop(TimeSpan timeout)
    {
        _stop = true;
        _thread?.Join(timeout);
        GapEnds();
        if (_request?.Status == DetectionStatus.Pending) _request.Wait(timeout);
        if (_thread is null || !_thread.IsAlive)
        {
            TakeResult(live: false); // the camera thread is gone: its last result is taken here
            ReleasePixelStages();
        }
        if (State is CameraState.Running or CameraState.Reconnecting or CameraState.Starting) State = CameraState.Stopped;
    }

    public bool IsAlive => _thread?.IsAlive == true;

    /// <summary>The camera was removed from a running engine (after <see cref="Stop"/>).</summary>
    internal void MarkRemoved() => State = CameraState.Removed;

    /// <summary>Runs <paramref name="action"/> on the analytics under the camera's lock (the batcher thread updates them).</summary>
    public T WithAnalytics<T>(Func<PurposeAnalytics, T> action)
    {
        lock (_analyticsLock) return action(Analytics!);
    }

    /// <summary>
    /// Seconds on the analytics clock (aligned to UTC midnight, so time bins align to wall-clock bins);
    /// on the media-time clock, the media time the analytics have reached (bins close as the media passes their end).
    /// </summary>
    public double NowSeconds() => _mediaOffsetSeconds is { } o
        ? o + Interlocked.Read(ref _mediaFrames) / (SourceFrameRate > 0 ? SourceFrameRate : 25)
        : _epochSeconds + Stopwatch.GetElapsedTime(s_startTicks).TotalSeconds;

    /// <summary>
    /// Media time: how far the media must pass a bin's end before the bin is closed. Analytics stamp an
    /// event when it began and count it a few detections later (a line crossing once the track stayed
    /// across); closing a bin as soon as the media passed its end would make its count depend on when the
    /// engine happened to flush. Events counted later than this after their stamp are out of reach.
    /// </summary>
    public const double MediaSettleSeconds = 15;

    /// <summary>The time up to which bins may be closed: now on the wall clock; on the media clock, the media reached less <see cref="MediaSettleSeconds"/>.</summary>
    public double FlushSeconds() => _mediaOffsetSeconds is null ? NowSeconds() : NowSeconds() - MediaSettleSeconds;

    /// <summary>True on the deterministic media-time clock (<see cref="CameraConfig.MediaStart"/>).</summary>
    public bool IsMediaTime => _mediaOffsetSeconds is not null;
    /// <summary>Media time: frames the analytics have covered (the last detected frame + 1); -1 on the wall clock.</summary>
    public long MediaFrames => _mediaOffsetSeconds is null ? -1 : Interlocked.Read(ref _mediaFrames);
    /// <summary>The frame from which the camera is paced (earlier ones are caught up unpaced; 0 = all paced).</summary>
    public long ResumeFrame => _resumeFrame;
    /// <summary>The camera's last bins were published as final (once only: the analytics keep them after a final snapshot).</summary>
    internal bool BinsFinal { get => Volatile.Read(ref _binsFinal); set => Volatile.Write(ref _binsFinal, value); }

    /// <summary>Media time: the frame of the k-th detection, the first at or after k detection intervals (never moved by load).</summary>
    private long DetectFrame(long k) => (long)Math.Ceiling(k * SourceFrameRate / DetectFps - 1e-9);
    private static readonly long s_startTicks = Stopwatch.GetTimestamp();

    /// <summary>A network source counts as a live camera: down at start is a gap to retry, not a failure.</summary>
    public bool IsNetworkSource => Config.Source.Contains("://", StringComparison.Ordinal);

    /// <summary>Time without frames: offline at start, a dropped connection, or a file that ended early.</summary>
    public sealed record SourceGap(DateTimeOffset Start, DateTimeOffset? End, string Cause)
    {
        public double Seconds(DateTimeOffset now) => ((End ?? now) - Start).TotalSeconds;
    }

    private readonly List<SourceGap> _gapList = new();
    private DateTimeOffset? _gapStart;
    private string? _gapCause;

    /// <summary>Every gap so far (the open one without an end), for the summary and the audit.</summary>
    public IReadOnlyList<SourceGap> GapList
    {
        get
        {
            lock (_gapList)
                return _gapStart is { } s ? [.. _gapList, new SourceGap(s, null, _gapCause!)] : _gapList.ToList();
        }
    }

    private void GapBegins(string cause)
    {
        lock (_gapList) { if (_gapStart is null) { _gapStart = DateTimeOffset.UtcNow; _gapCause = cause; Interlocked.Increment(ref _gaps); } }
    }

    private void GapEnds()
    {
        lock (_gapList) { if (_gapStart is { } s) { _gapList.Add(new SourceGap(s, DateTimeOffset.UtcNow, _gapCause!)); _gapStart = null; } }
    }

    /// <summary>
    /// Opens the source. A network camera that is down retries with the source's capped back-off and
    /// shows as reconnecting, as it would after a drop mid-run (after a power cut the host often boots
    /// before its cameras); a file that cannot be opened fails at once.
    /// </summary>
    private VideoSource? OpenWithRetry()
    {
        int backoff = _sourceOptions.ReconnectInitialMs, attempts = 0;
        while (true)
        {
            try
            {
                var s = VideoSource.Open(Config.Source, _sourceOptions);
                GapEnds();
                return s;
            }
            catch (EphemeraException e) when (IsNetworkSource && !_stop &&
                                              (_sourceOptions.ReconnectMaxAttempts < 0 || attempts < _sourceOptions.ReconnectMaxAttempts))
            {
                if (State != CameraState.Reconnecting)
                    LogWarning($"offline at start, retrying every ≤ {_sourceOptions.ReconnectMaxMs / 1000.0:0.#} s: {e.Message}");
                State = CameraState.Reconnecting;
                Error = e.Message;
                GapBegins($"offline at start: {e.Message}");
                attempts++;
                for (int waited = 0; waited < backoff && !_stop; waited += 50) Thread.Sleep(50);
                backoff = Math.Min(backoff * 2, _sourceOptions.ReconnectMaxMs);
            }
            catch (EphemeraException e)
            {
                GapEnds();
                if (!_stop) Fail(e.Message);
                return null;
            }
        }
    }

    private void Run()
    {
        var source = OpenWithRetry();
        if (source is null) return;
        Error = null;
        using (source)
        {
            SourceFrameRate = source.FrameRate > 0 ? source.FrameRate : 25;
            long frameTicks = (long)(Stopwatch.Frequency / SourceFrameRate);
            long lateTicks = Math.Max(frameTicks, Stopwatch.Frequency / 10);
            long scheduleStart = Stopwatch.GetTimestamp();
            long delivered = 0;      // frames (decoded or not) since scheduleStart: the live-camera clock
            long nextDetect = 0;
            long lastIndex = -1;     // the source's index of the last frame read, decoded or not
            // Only files need pacing to stand in for a live camera; a network stream paces itself.
            bool paced = Config.Paced && !Config.Source.Contains("://", StringComparison.Ordinal);
            // Media time, moved here by a failover: the frames before the resume point are caught up unpaced
            // (the same detections as the previous owner ran, so the same tracks and counts), then paced.
            bool catchingUp = paced && _mediaOffsetSeconds is not null && _resumeFrame > 0;
            if (catchingUp) paced = false;
            State = CameraState.Running;
            while (!_stop)
            {
                // Pace like a live camera: frame n exists at scheduleStart + n × interval. Wait for it
                // *before* decoding, so no pixel sits in memory while we wait.
                if (catchingUp && lastIndex + 1 >= _resumeFrame) { catchingUp = false; paced = true; delivered = 0; }
                long due = scheduleStart + delivered * frameTicks;
                TakeResult();
                if (paced)
                {
                    // The wait doubles as the hand-off: a result that arrives meanwhile is tracked at once.
                    // Whole milliseconds, rounded up: a wait under 1 ms would truncate to 0 and spin on the
                    // clock until due (measured: ~10 % of the process's CPU in clock_gettime at 12 idle-heavy
                    // streams). Waking up to 1 ms late is far inside the lateness allowance.
                    long wait;
                    while ((wait = due - Stopwatch.GetTimestamp()) > 0 && !_stop)
                    {
                        if (_resultReady.Wait((int)Math.Min(int.MaxValue, (wait * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency))) TakeResult();
                    }
                }
                long t0 = Stopwatch.GetTimestamp();
                long cpu0 = ThreadCpuClock.NowNs();
                ReadStatus status;
                FrameLease? frame;
                try
                {
                    status = source.Read(out frame, _mediaOffsetSeconds is null ? WantedFrom(lastIndex, nextDetect, paced ? due : Stopwatch.GetTimestamp(), frameTicks) : WantedMedia());
                }
                catch (EphemeraException e)
                {
                    Fail(e.Message);
                    return;
                }
                // Every read's CPU is decode's (packets skipped unseen cost a little too).
                long cpuDecoded = ThreadCpuClock.NowNs();
                _stages.AddCpu(Stage.Decode, cpuDecoded - cpu0);
                switch (status)
                {
                    case ReadStatus.EndOfStream:
                        EndOfFile(source);
                        return;
                    case ReadStatus.Reconnecting:
                        GapBegins("connection dropped");
                        State = CameraState.Reconnecting;
                        // A live camera's clock keeps running during a gap; restart the schedule when frames return.
                        delivered = 0; scheduleStart = Stopwatch.GetTimestamp();
                        continue;
                    case ReadStatus.PoolExhausted:
                        Interlocked.Increment(ref _framesDroppedPool);
                        continue;
                    case ReadStatus.Timeout:
                        continue;
                    case ReadStatus.Skipped:
                        // A frame no detection needed was never decoded: it still takes its place on the clock.
                        Interlocked.Increment(ref _framesNotDecoded);
                        lastIndex = source.LastSkippedIndex;
                        delivered++;
                        continue;
                }
                lastIndex = frame!.Index;
                if (Config.Loop && !_warnedShortLoop && (frame.Index & 255) == 0 && source.ShortPassFrames > 0) // a native call: asked every 256th frame, not every frame
                {
                    _warnedShortLoop = true;
                    LogWarning($"{Config.Source}: the file ends at frame {source.ShortPassFrames} of the {source.ExpectedFrames} its container announces " +
                               "(truncated?); loop mode repeats that fragment");
                }
                using (frame)
                {
                    long decoded = Stopwatch.GetTimestamp();
                    _stages.Add(Stage.Decode, decoded - t0);

                    if (State == CameraState.Reconnecting) GapEnds();
                    State = CameraState.Running;
                    Interlocked.Increment(ref _framesDecoded);
                    // The live clock starts with the stream's first frame: opening the source and the
                    // decoder's look-ahead (B-frame delay) happen before a camera's first picture too.
                    // Detections start at this camera's phase of the interval, so cameras started
                    // together do not all ask the detector on the same frame instant.
                    if (delivered == 0) { scheduleStart = decoded; due = decoded; nextDetect = decoded + _detectPhaseTicks; }
                    delivered++;
                    if (paced)
                    {
                        // Behind a live camera by more than a frame (and more than the 100 ms of jitter a
                        // camera's network buffer absorbs anyway): the machine is not keeping up.
                        long late = decoded - due;
                        if (late > lateTicks)
                        {
                            Interlocked.Increment(ref _lateFrames);
                            long seen;
                            while (late > (seen = Interlocked.Read(ref _maxLatenessTicks)) && Interlocked.CompareExchange(ref _maxLatenessTicks, late, seen) != seen) { }
                        }
                    }
                    else due = t0;

                    long now = Stopwatch.GetTimestamp();
                    if (_mediaOffsetSeconds is not null)
                    {
                        if (_batcher != null && frame!.Index >= DetectFrame(_detectK) && !DetectMedia(frame!, due, now)) return;
                        goto frameDone;
                    }
                    // Due from the last frame at or before the due time (the one WantedFrom asked for).
                    bool detectionDue = _batcher != null && (paced ? due + frameTicks > nextDetect : now >= nextDetect);
                    if (detectionDue && _fairness?.MayDetect(this) == false)
                    {
                        Interlocked.Increment(ref _detectionsSkipped); // deferred to a camera that is further behind
                    }
                    else if (detectionDue && !NeededNow(frame!, now))
                    {
                        // Still scene, confident tracks: the due detection is skipped, the cadence kept, and
                        // the tracker predicts through it (when no detection is in flight: updates must come in frame order).
                        nextDetect = Math.Max(nextDetect + _detectIntervalTicks, now + _detectIntervalTicks / 2);
                        Interlocked.Increment(ref _detectionsNotNeeded);
                        PredictOnly(frame!.Index);
                    }
                    else if (detectionDue)
                    {
                        TakeResult(); // a result that came back since the top of the loop: its request is free again
                        // By need, a detection asked at full rate is due again in one interval, a floor
                        // detection in several: when detections wait for the detector, the batcher runs
                        // waited time × priority first, so weighting by the slack serves them by deadline.
                        // Set even when the previous frame is still in flight: the batcher reads it when it
                        // picks, so a floor frame waiting there moves up once its camera asks for full rate.
                        if (_scheduler != null)
                        {
                            _request!.Priority = _basePriority * (_scheduler.AskingFullRate ? _scheduler.FloorSlots : 1);
                            _pendingAtFullRate |= _scheduler.AskingFullRate; // a floor frame still in flight is now wanted at full rate
                        }
                        SubmitStatus s;
                        long p0 = Stopwatch.GetTimestamp();
                        try
                        {
                            s = _batcher!.Submit(frame!.View, _request!);
                        }
                        catch (EphemeraException e)
                        {
                            Fail($"{Config.Source}: frame {frame.Index}: {e.Message}");
                            return;
                        }
                        if (s == SubmitStatus.Accepted)
                        {
                            // Only now: a refused retry must not relabel the frame still in flight (its result
                            // would reach the tracker as this frame's, with this frame's shorter latency).
                            _request.Tag = frame.Index;
                            _pendingCaptureTicks = Math.Min(due, now);
                            _pendingAtFullRate = _scheduler is null || _scheduler.AskingFullRate;
                            _stages.Add(Stage.Preprocess, Stopwatch.GetTimestamp() - p0);
                            _stages.AddCpu(Stage.Preprocess, ThreadCpuClock.NowNs() - cpuDecoded);
                            // Held (a second reference) only for a camera with pixel stages and a free slot.
                            if (_pixelStages != null) _heldForStages = _pixelStages.TryHold(frame);
                            _scheduler?.Detected();
                            // Keep the cadence (a detection run up to half an interval late keeps the
                            // rate); later than that, the next one comes half an interval from now
                            // instead of chasing the lost slot, which would want every frame decoded
                            // and load a detector that is already behind.
                            nextDetect = Math.Max(nextDetect + _detectIntervalTicks, now + _detectIntervalTicks / 2);
                            _refusedSlot = false;
                        }
                        else if (s is SubmitStatus.Busy or SubmitStatus.RequestInFlight)
                        {
                            // Counted once per due detection; retried on the next frame.
                            if (!_refusedSlot) Interlocked.Increment(ref _detectionsSkipped);
                            _refusedSlot = true;
                            // Only a refusal (every bank taken) triggers deferral: deferring on "still in
                            // flight" measured 4.1 instead of 4.9 detections/s per camera at 10 plaza streams.
                            if (s == SubmitStatus.Busy) _fairness?.ReportBusy();
                        }
                    }
                }
                frameDone:
                // The lease is disposed: its pixels are wiped (or will be when the decoder drops its last reference).
                Interlocked.Increment(ref _framesDestroyed);
            }
        }
    }

    /// <summary>
    /// The frames the camera will use: every frame from the one that will be live when the next
    /// detection is due. Non-reference frames before it are not decoded (the decoder reads a few
    /// frames ahead, hence a schedule instead of a per-frame flag). A camera without detection wants
    /// none; a camera whose detection is due wants every frame until one is accepted.
    /// </summary>
    private WantedFrames WantedFrom(long lastIndex, long nextDetect, long nextFrameTicks, long frameTicks)
    {
        if (_batcher == null) return new WantedFrames(long.MaxValue);
        // By need, while the scene is still: the next frame that must be decoded is the floor's. The
        // due decisions before it are made on the frames the decoder decodes anyway (reference
        // frames), so still cameras leave their non-reference frames undecoded. (The floor's frame is
        // the first at or after its due time, where the scheduler's clock finds it due.)
        if (_scheduler is { AskingFullRate: false } && !_refusedSlot)
            nextDetect = Math.Max(nextDetect, (long)(_scheduler.FloorDueSeconds * Stopwatch.Frequency) + frameTicks - 1);
        long ahead = nextDetect - nextFrameTicks;
        long framesAhead = ahead <= 0 ? 0 : ahead / frameTicks; // floor: the last frame at or before the due time
        // Then one frame per detection interval: frames the decoder reads ahead of the next accepted
        // detection are skippable too. A refused detection retries on the next frame delivered
        // (reference frames always are), at most a few frames later.
        int stride = (int)Math.Clamp(_detectIntervalTicks / Math.Max(1, frameTicks), 1, 1000);
        return new WantedFrames(lastIndex + 1 + framesAhead, stride);
    }

    /// <summary>Media time: every frame from the next detection's on, one per detection interval when the interval is a whole number of frames.</summary>
    private WantedFrames WantedMedia()
    {
        if (_batcher == null) return new WantedFrames(long.MaxValue);
        double ratio = SourceFrameRate / DetectFps;
        int stride = Math.Abs(ratio - Math.Round(ratio)) < 1e-9 ? (int)Math.Clamp(Math.Round(ratio), 1, 1000) : 1;
        return new WantedFrames(DetectFrame(_detectK), stride);
    }

    /// <summary>
    /// Media time: the frame's detection runs, whatever the load — a busy detector is waited for, never
    /// skipped (the camera falls behind its pace instead), and no camera defers to another. So the same
    /// frames are detected on every run. False when the camera failed or is stopping.
    /// </summary>
    private bool DetectMedia(FrameLease frame, long due, long now)
    {
        // A frame lost before the due one (the frame pool ran out) moves the detection to this frame: counted.
        if (frame.Index > DetectFrame(_detectK)) Interlocked.Increment(ref _detectionsSkipped);
        while (!_stop)
        {
            TakeResult();
            // The previous detection still in flight: its result (and its frame's tag) first.
            if (_request!.Status == DetectionStatus.Pending || _resultReady.IsSet) { _resultReady.Wait(TimeSpan.FromMilliseconds(2)); continue; }
            _request.Tag = frame.Index;
            _pendingCaptureTicks = Math.Min(due, now);
            _pendingAtFullRate = true;
            SubmitStatus s;
            long p0 = Stopwatch.GetTimestamp();
            try { s = _batcher!.Submit(frame.View, _request); }
            catch (EphemeraException e)
            {
                Fail($"{Config.Source}: frame {frame.Index}: {e.Message}");
                return false;
            }
            if (s == SubmitStatus.Accepted)
            {
                _stages.Add(Stage.Preprocess, Stopwatch.GetTimestamp() - p0);
                if (_pixelStages != null) _heldForStages = _pixelStages.TryHold(frame);
                while (DetectFrame(_detectK) <= frame.Index) _detectK++;
                return true;
            }
            if (s is not (SubmitStatus.Busy or SubmitStatus.RequestInFlight)) return false; // the detector is gone: the engine is stopping
            // Every tensor bank taken: try again shortly.
            Thread.Sleep(1);
        }
        return false;
    }

    /// <summary>
    /// By-need schedule: whether the due detection on this frame runs. A detection already decided and
    /// refused by a busy detector stays decided (its retry frame is only measured).
    /// </summary>
    private bool NeededNow(FrameLease frame, long now)
    {
        if (_scheduler is null) return true;
        if (_refusedSlot) { _scheduler.Remeasure(frame.View); return true; }
        return _scheduler.Decide(frame.View, (double)now / Stopwatch.Frequency) != ScheduleTrigger.None;
    }

    /// <summary>
    /// A skipped due detection: tracks move by their motion model (the scheduler's guard band and
    /// motion mask follow them). Analytics see only detected frames, as at full rate — a predicted
    /// frame would count as a frame with nobody in a zone — so the tracks removed meanwhile are kept
    /// for the next detected frame's update.
    /// </summary>
    private void PredictOnly(long frameIndex)
    {
        TakeResult();
        if (_request!.Status == DetectionStatus.Pending || _resultReady.IsSet) return; // a result for an earlier frame is still to come
        var tracks = _tracker!.Predict(frameIndex);
        var removed = _tracker.RemovedIds;
        if (_removedWhilePredicting.Length < _removedWhilePredictingCount + removed.Length)
            Array.Resize(ref _removedWhilePredicting, Math.Max(16, 2 * (_removedWhilePredictingCount + removed.Length)));
        removed.CopyTo(_removedWhilePredicting.AsSpan(_removedWhilePredictingCount));
        _removedWhilePredictingCount += removed.Length;
        _scheduler!.ObserveTracks(tracks, detected: false);
    }

    /// <summary>The tracker's removals at this update plus those made while predicting since the last one.</summary>
    private ReadOnlySpan<int> RemovedSinceLastUpdate()
    {
        var now = _tracker!.RemovedIds;
        if (_removedWhilePredictingCount == 0) return now;
        if (_removedWhilePredicting.Length < _removedWhilePredictingCount + now.Length)
            Array.Resize(ref _removedWhilePredicting, 2 * (_removedWhilePredictingCount + now.Length));
        now.CopyTo(_removedWhilePredicting.AsSpan(_removedWhilePredictingCount));
        var all = _removedWhilePredicting.AsSpan(0, _removedWhilePredictingCount + now.Length);
        _removedWhilePredictingCount = 0;
        return all;
    }

    /// <summary>Batcher thread: only marks the result ready (the capacity-1 hand-off); the camera's thread does the rest.</summary>
    private void OnDetections(DetectionRequest r) => _resultReady.Set();

    /// <summary>
    /// Camera thread: tracker and analytics for the detected frame whose result is ready, then the
    /// pixel stages get the held frame. Allocation-free in steady state. Does nothing while the
    /// detection is still in flight or after its result was taken.
    /// </summary>
    /// <param name="live">false once the camera has stopped: the result is still tracked, but the time it
    /// waited for the stop is no capture → result latency (measured: up to 1–2 s at the end of a bench
    /// trial, which set the trial's p99).</param>
    private void TakeResult(bool live = true)
    {
        if (!_resultReady.IsSet || _request is null) return;
        _resultReady.Reset();
        var held = _heldForStages;
        _heldForStages = null;
        if (_request.Status == DetectionStatus.Failed)
        {
            Interlocked.Increment(ref _detectionsFailed);
            if (held != null) _pixelStages!.Drop(held);
            return;
        }
        if (_request.Status != DetectionStatus.Completed) { if (held != null) _pixelStages!.Drop(held); return; }
        long t0 = Stopwatch.GetTimestamp();
        long cpu0 = ThreadCpuClock.NowNs();
        // Media time: the detected frame's own media time (its result may come back frames later).
        double nowSeconds = _mediaOffsetSeconds is { } mo ? mo + _request.Tag / (SourceFrameRate > 0 ? SourceFrameRate : 25) : NowSeconds();
        lock (_analyticsLock)
        {
            var tracks = _tracker!.Update(_request.Output, _request.Tag);
            long t1 = Stopwatch.GetTimestamp();
            long cpu1 = ThreadCpuClock.NowNs();
            _stages.Add(Stage.Track, t1 - t0);
            _stages.AddCpu(Stage.Track, cpu1 - cpu0);
            Analytics!.Update(tracks, RemovedSinceLastUpdate(), nowSeconds);
            if (_mediaOffsetSeconds is not null) Interlocked.Exchange(ref _mediaFrames, _request.Tag + 1);
            _scheduler?.ObserveTracks(tracks, detected: true);
            _stages.Add(Stage.Analytics, Stopwatch.GetTimestamp() - t1);
            _stages.AddCpu(Stage.Analytics, ThreadCpuClock.NowNs() - cpu1);
        }
        if (held != null) _pixelStages!.Hand(held, _request.Output, _request.Tag);
        Interlocked.Increment(ref _detectionsDone);
        if (live)
        {
            double ms = (Stopwatch.GetTimestamp() - _pendingCaptureTicks) * 1000.0 / Stopwatch.Frequency;
            Latency.Record(ms);
            (_pendingAtFullRate ? FullRateLatency : FloorLatency).Record(ms);
        }
    }

    /// <summary>
    /// A file ended. When it ended before its container said it would (a truncated or partly
    /// written file), the camera is <see cref="CameraState.Truncated"/> with the frames reached, so
    /// nobody mistakes a short file for a complete one.
    /// </summary>
    private void EndOfFile(VideoSource source)
    {
        long expected = source.ExpectedFrames;
        long reached = Math.Max(FramesDecoded + FramesNotDecoded, source.FramesDelivered);
        // A container's duration is rounded; a few frames short is a normal end.
        if (!IsNetworkSource && expected > 0 && reached < expected - Math.Max(3, expected / 50))
        {
            Error = $"{Config.Source}: file ended at frame {reached} of the {expected} its container announces (truncated?)";
            State = CameraState.Truncated;
            LogWarning(Error);
        }
        else State = CameraState.Ended;
    }

    private void Fail(string message)
    {
        Error = message;
        State = CameraState.Failed;
        _log.LogError("camera {Camera}: {Message}", Id, message);
    }

    private void LogWarning(string message) => _log.LogWarning("camera {Camera}: {Message}", Id, message);

    /// <summary>The stages finish what they hold and release their models (and their wiped buffers) with the camera. Idempotent.</summary>
    private void ReleasePixelStages()
    {
        if (_heldForStages is { } held) { _heldForStages = null; _pixelStages!.Drop(held); }
        _pixelStages?.Dispose();
    }

    public void Dispose()
    {
        ReleasePixelStages();
        _scheduler?.Dispose();
        _request?.Dispose();
        _resultReady.Dispose();
    }
}
