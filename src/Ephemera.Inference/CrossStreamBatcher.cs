using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Inference.Preprocess;

namespace Ephemera.Inference;

/// <summary>Batcher limits (validated once).</summary>
public sealed record BatcherOptions
{
    /// <summary>Largest batch; 0 = the detector's <see cref="ObjectDetector.MaxBatch"/>. Capped at it.</summary>
    public int MaxBatch { get; }
    /// <summary>How long the first frame of a batch waits for more frames before the batch runs anyway.</summary>
    public TimeSpan Deadline { get; }
    /// <summary>
    /// Tensor banks (each holds one batch): one runs while the others fill, so frames preprocessed
    /// while the detector is busy wait in a bank instead of being refused. Memory is bounded at
    /// Banks × MaxBatch frames. Default 2.
    /// </summary>
    public int Banks { get; }
    /// <summary>
    /// Batches run at once, each on its own worker thread; 0 = the detector's
    /// <see cref="Runtime.InferenceOptions.EffectiveParallelRuns"/> (on CPU one per core). Capped at Banks.
    /// </summary>
    public int Workers { get; }
    /// <summary>
    /// Nice value of the worker threads on Linux (0 = as the process). Default 5: camera threads
    /// decode on a live clock and should preempt a detector run, which only waits a little longer
    /// in its bank. Measured on street-1080p, 4 streams on 2 cores: see bench/README.md.
    /// </summary>
    public int WorkerNice { get; }

    public BatcherOptions(int maxBatch = 0, TimeSpan? deadline = null, int banks = 2, int workers = 0, int workerNice = 5)
    {
        if (workers < 0) throw new EphemeraException($"batcher workers must be >= 0, got {workers}");
        if (workerNice is < 0 or > 19) throw new EphemeraException($"batcher worker nice must be 0..19, got {workerNice}");
        Workers = workers; WorkerNice = workerNice;
        if (maxBatch < 0) throw new EphemeraException($"max batch must be >= 0, got {maxBatch}");
        var d = deadline ?? TimeSpan.FromMilliseconds(10);
        if (d < TimeSpan.Zero) throw new EphemeraException($"batch deadline must be >= 0, got {d}");
        if (banks is < 2 or > 64) throw new EphemeraException($"batcher banks must be 2..64, got {banks}");
        MaxBatch = maxBatch; Deadline = d; Banks = banks;
    }
}

/// <summary>Why <see cref="CrossStreamBatcher.Submit"/> did or did not take a frame.</summary>
public enum SubmitStatus
{
    /// <summary>Preprocessed into a batch slot; the frame may be released; the request completes later.</summary>
    Accepted,
    /// <summary>Every tensor bank is taken (one running, the others full): skip detection for this frame.</summary>
    Busy,
    /// <summary>The request is still waiting for its previous frame's result (one frame in flight per request).</summary>
    RequestInFlight,
    /// <summary>The batcher is disposed.</summary>
    Closed,
}

/// <summary>Completion state of a <see cref="DetectionRequest"/>.</summary>
public enum DetectionStatus { Idle, Pending, Completed, Failed }

/// <summary>
/// A camera's reusable handle for batched detection: holds its <see cref="Detections"/> output, its
/// preprocessing scratch, and a completion (event and/or callback set once). One frame in flight
/// per request; reuse the same object frame after frame, so steady state allocates nothing.
/// </summary>
public sealed class DetectionRequest : IDisposable
{
    private readonly ManualResetEventSlim _done = new(false);
    private readonly Action<DetectionRequest>? _onCompleted;
    internal IFramePreprocessor? Preprocessor;
    internal ObjectDetector? PreprocessorOwner;
    internal volatile int StatusValue;

    /// <param name="onCompleted">called on the batcher thread when the result is ready; keep it short
    /// (copy the detections or signal your own thread).</param>
    public DetectionRequest(Action<DetectionRequest>? onCompleted = null, int capacity = 256)
    {
        _onCompleted = onCompleted;
        Output = new Detections(capacity);
    }

    /// <summary>The last completed frame's detections in source pixels (valid once Status is Completed, until the next submit).</summary>
    public Detections Output { get; }
    public DetectionStatus Status => (DetectionStatus)StatusValue;
    /// <summary>Set when Status is Failed.</summary>
    public Exception? Error { get; internal set; }
    /// <summary>Caller's correlation value (e.g. the frame index), carried unchanged.</summary>
    public long Tag { get; set; }
    /// <summary>
    /// Weight of this request's frames when the detector is behind: a waiting batch runs in order of
    /// waited time × the highest weight in it, so a weight-3 camera's frame goes ahead of a weight-1
    /// frame that has waited up to three times as long, and nothing waits forever. Default 1. Read when
    /// a worker picks the next batch, so raising it while the frame waits moves that frame up.
    /// </summary>
    public double Priority { get; set; } = 1;

    /// <summary>Blocks until the pending frame completes or fails; false on timeout.</summary>
    public bool Wait(TimeSpan timeout) => _done.Wait(timeout);

    internal void Begin() { Error = null; _done.Reset(); StatusValue = (int)DetectionStatus.Pending; }

    internal void Complete(Exception? error)
    {
        Error = error;
        StatusValue = (int)(error == null ? DetectionStatus.Completed : DetectionStatus.Failed);
        _done.Set();
        _onCompleted?.Invoke(this);
    }

    public void Dispose()
    {
        _done.Dispose();
        Preprocessor?.Dispose();
    }
}

/// <summary>
/// Gathers frames from many cameras into batches for one <see cref="ObjectDetector"/>.
///
/// Threading contract: any number of camera threads call <see cref="Submit"/>; each call
/// preprocesses the frame on the caller's thread straight into a slot of a pinned batch tensor and
/// returns, so the caller releases its frame lease right after. Worker threads
/// (<see cref="BatcherOptions.Workers"/>, on CPU one per core) each run a batch — the oldest first —
/// when it has <see cref="BatcherOptions.MaxBatch"/> frames or when its first frame has waited
/// <see cref="BatcherOptions.Deadline"/>, whichever comes first; the worker then decodes each frame into its
/// request's <see cref="DetectionRequest.Output"/>, wipes the tensor and completes the requests (the
/// callback runs on that worker thread; a request is only ever in one bank, so its callbacks never overlap).
/// When batches wait for a worker, the one that has waited longest, weighted by its requests'
/// <see cref="DetectionRequest.Priority"/>, runs first. Tensor banks (<see cref="BatcherOptions.Banks"/>, default 2) rotate,
/// so cameras fill one while another runs; when all are taken Submit fails fast with
/// <see cref="SubmitStatus.Busy"/> — memory is bounded at Banks × MaxBatch frames and nothing queues
/// without limit.
/// </summary>
public sealed class CrossStreamBatcher : IDisposable
{
    private enum BankState { Free, Filling, Closed, Running }

    private sealed class Bank(TensorBank tensor, int capacity)
    {
        public readonly TensorBank Tensor = tensor;
        public readonly DetectionRequest?[] Requests = new DetectionRequest?[capacity];
        public readonly Detections?[] Outputs = new Detections?[capacity];
        public readonly TensorPlacement[] Placements = new TensorPlacement[capacity];
        public BankState State;
        public int Reserved, Filled;
        public long FirstTicks;
    }

    private readonly ObjectDetector _detector;
    private readonly Bank[] _banks;
    private readonly object _gate = new();
    private readonly Thread[] _workers;
    private readonly long _deadlineTicks;
    private bool _closing;
    private long _batches, _frames, _busy, _inferTicks, _inferCpuNs;

    /// <summary>
    /// CPU milliseconds the worker threads spent in inference (their own CPU clocks). With one
    /// intra-op thread per run (the CPU default) ONNX Runtime runs on the worker, so this is the whole
    /// cost; with more, the work on ONNX Runtime's own pool shows in the process total instead.
    /// </summary>
    public double InferenceCpuMs { get { lock (_gate) return _inferCpuNs / 1e6; } }

    public int MaxBatch { get; }
    public BatcherOptions Options { get; }
    /// <summary>Worker threads, i.e. batches that may run at once.</summary>
    public int Workers => _workers.Length;

    public CrossStreamBatcher(ObjectDetector detector, BatcherOptions? options = null)
    {
        if (detector.BatcherAttached) throw new InvalidOperationException("the detector already has a batcher");
        _detector = detector;
        Options = options ?? new BatcherOptions();
        MaxBatch = Options.MaxBatch > 0 ? Math.Min(Options.MaxBatch, detector.MaxBatch) : detector.MaxBatch;
        _deadlineTicks = (long)(Options.Deadline.TotalSeconds * Stopwatch.Frequency);
        _banks = Enumerable.Range(0, Options.Banks).Select(_ => new Bank(detector.CreateBank(), MaxBatch)).ToArray();
        detector.BatcherAttached = true;
        int workers = Math.Min(Options.Banks, Options.Workers > 0 ? Options.Workers : detector.Options.Inference.EffectiveParallelRuns);
        _workers = Enumerable.Range(0, workers)
            .Select(i => new Thread(WorkerLoop) { IsBackground = true, Name = $"batcher:{detector.Model.Name}:{i}" }).ToArray();
        foreach (var w in _workers) w.Start();
    }

    /// <summary>Batches run, frames detected, frames refused as Busy (since creation).</summary>
    public (long Batches, long Frames, long Busy) Counters
    {
        get { lock (_gate) return (_batches, _frames, _busy); }
    }

    /// <summary>Milliseconds per detected frame spent in inference and box decoding on a worker thread (wall time of one run; runs overlap).</summary>
    public double InferenceMsPerFrame
    {
        get { lock (_gate) return _frames == 0 ? 0 : _inferTicks * 1000.0 / Stopwatch.Frequency / _frames; }
    }

    /// <summary>True when the frame was accepted (see <see cref="Submit"/>).</summary>
    public bool TrySubmit(in FrameView frame, DetectionRequest request) => Submit(frame, request) == SubmitStatus.Accepted;

    /// <summary>
    /// Preprocesses <paramref name="frame"/> into a batch slot (on this thread) and queues it. When
    /// this returns, the frame's pixels are no longer referenced. A bad frame throws
    /// <see cref="EphemeraException"/> (its slot stays empty and the request is not pending).
    /// </summary>
    public SubmitStatus Submit(in FrameView frame, DetectionRequest request)
    {
        Bank bank; int slot;
        lock (_gate)
        {
            if (_closing) return SubmitStatus.Closed;
            if (request.Status == DetectionStatus.Pending) return SubmitStatus.RequestInFlight;
            Bank? target = null;
            foreach (var b in _banks) if (b.State == BankState.Filling) { target = b; break; }
            if (target == null) foreach (var b in _banks) if (b.State == BankState.Free) { target = b; break; }
            if (target == null) { _busy++; return SubmitStatus.Busy; }
            bank = target;
            if (bank.State == BankState.Free) { bank.State = BankState.Filling; bank.FirstTicks = Stopwatch.GetTimestamp(); }
            slot = bank.Reserved++;
            if (bank.Reserved == MaxBatch) bank.State = BankState.Closed;
            bank.Requests[slot] = null;
            request.Begin();
        }

        if (request.Preprocessor == null || request.PreprocessorOwner != _detector)
        {
            request.Preprocessor?.Dispose();
            request.Preprocessor = _detector.CreateKernelPreprocessor();
            request.PreprocessorOwner = _detector;
        }
        Exception? error = null;
        try { bank.Placements[slot] = request.Preprocessor.Run(frame, bank.Tensor.Slot(slot)); }
        catch (Exception e) { error = e; }

        lock (_gate)
        {
            if (error == null) { bank.Requests[slot] = request; bank.Outputs[slot] = request.Output; }
            else { bank.Outputs[slot] = null; request.StatusValue = (int)DetectionStatus.Idle; }
            bank.Filled++;
            Monitor.PulseAll(_gate);
        }
        if (error != null)
        {
            if (error is EphemeraException) throw error;
            throw new EphemeraException($"preprocessing failed: {error.Message}", error);
        }
        return SubmitStatus.Accepted;
    }

    /// <summary>
    /// The bank's weight now: its requests' highest priority, read when a worker picks (under the gate),
    /// so a request raised while its frame waits (a camera that asks for full rate again) moves up.
    /// </summary>
    private static double Weight(Bank b)
    {
        double w = 1e-3;
        for (int i = 0; i < b.Reserved; i++)
            if (b.Requests[i] is { } r) w = Math.Max(w, r.Priority);
        return w;
    }

    private void WorkerLoop()
    {
        if (Options.WorkerNice > 0) ThreadNice.TrySetCurrent(Options.WorkerNice);
        while (true)
        {
            Bank? ready = null; int n = 0;
            lock (_gate)
            {
                while (true)
                {
                    long now = Stopwatch.GetTimestamp();
                    long wait = long.MaxValue;
                    double readyScore = -1;
                    foreach (var b in _banks)
                    {
                        if (b.State == BankState.Filling)
                        {
                            long due = b.FirstTicks + _deadlineTicks;
                            if (now >= due || _closing) b.State = BankState.Closed;
                            else wait = Math.Min(wait, due - now);
                        }
                        if (b.State != BankState.Closed || b.Filled != b.Reserved) continue;
                        // Oldest first, weighted by priority (see DetectionRequest.Priority); +1 tick so a
                        // bank closed this instant still ranks by weight.
                        double score = (now - b.FirstTicks + 1) * Weight(b);
                        if (score > readyScore) { ready = b; readyScore = score; }
                    }
                    if (ready != null) { ready.State = BankState.Running; n = ready.Reserved; break; }
                    if (_closing && _banks.All(b => b.State == BankState.Free)) return;
                    if (wait == long.MaxValue) Monitor.Wait(_gate);
                    else Monitor.Wait(_gate, TimeSpan.FromSeconds(Math.Max(wait, 1) / (double)Stopwatch.Frequency));
                }
            }

            Exception? error = null;
            long t0 = Stopwatch.GetTimestamp(), cpu0 = Ephemera.Core.ThreadCpuClock.NowNs();
            try { _detector.InferAndDecode(ready.Tensor, n, ready.Placements, ready.Outputs); }
            catch (Exception e) { error = e; }
            long inferTicks = Stopwatch.GetTimestamp() - t0;
            long inferCpuNs = Ephemera.Core.ThreadCpuClock.NowNs() - cpu0;

            // Complete before freeing the bank: its request array is reused by the next fill.
            for (int i = 0; i < n; i++)
            {
                var r = ready.Requests[i];
                ready.Requests[i] = null; ready.Outputs[i] = null;
                try { r?.Complete(error); }
                catch (Exception e) // a camera's callback must not stop every other camera's detection
                {
                    Console.Error.WriteLine($"ephemera: detection completion callback failed: {e.Message}");
                }
            }
            lock (_gate)
            {
                _batches++; _frames += n; _inferTicks += inferTicks; _inferCpuNs += inferCpuNs;
                ready.State = BankState.Free; ready.Reserved = 0; ready.Filled = 0;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>
    /// Runs the model once per worker, all at once, on empty banks, before any camera starts: ONNX
    /// Runtime plans and allocates on a session's first runs, which would otherwise make the first
    /// frames of every camera late together. Call before the first <see cref="Submit"/>.
    /// </summary>
    public void WarmUp()
    {
        var idle = new List<Bank>();
        lock (_gate)
        {
            foreach (var b in _banks)
                if (b.State == BankState.Free && idle.Count < _workers.Length) { b.State = BankState.Running; idle.Add(b); }
        }
        try
        {
            Parallel.ForEach(idle, new ParallelOptions { MaxDegreeOfParallelism = idle.Count }, b =>
            {
                var none = new Detections?[b.Outputs.Length]; // decode nothing: the bank holds no frame
                _detector.InferAndDecode(b.Tensor, 1, b.Placements, none);
            });
        }
        finally
        {
            lock (_gate)
            {
                foreach (var b in idle) b.State = BankState.Free;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Runs the frames already accepted, stops the worker and detaches from the detector.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_closing) return;
            _closing = true;
            Monitor.PulseAll(_gate);
        }
        foreach (var w in _workers) w.Join();
        _detector.BatcherAttached = false;
    }
}
