using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Decode;
using Microsoft.Extensions.Logging;

namespace Ephemera.Runtime;

/// <summary>
/// One camera's pixel stages with their own bounded pool of held frames. A frame is held (a second
/// reference, no copy) only if a slot is free when its detection is submitted; otherwise it skips
/// the stages, counted, and is released as usual the moment its tensor is filled. So a slow stage
/// never queues frames, never blocks the camera's decode thread, and bounds memory to its slots.
/// </summary>
internal sealed class PixelStageRunner : IDisposable
{
    private readonly IPixelStage[] _stages;
    private readonly ILogger _log;
    private readonly string _cameraId;
    private readonly SemaphoreSlim _free;
    private readonly Queue<(FrameLease Frame, Detections Detections, long Index)> _ready = new();
    private readonly Stack<Detections> _spare = new();
    private readonly Thread _thread;
    private readonly StageTimes _times;
    private volatile bool _stop;
    private int _disposed;
    private long _processed, _skipped, _failed;

    public PixelStageRunner(string cameraId, IReadOnlyList<IPixelStage> stages, int slots, StageTimes times, ILogger log)
    {
        if (slots < 1) throw new ArgumentOutOfRangeException(nameof(slots), slots, "pixel stages need at least one slot");
        _cameraId = cameraId; _stages = stages.ToArray(); _log = log; _times = times;
        _free = new SemaphoreSlim(slots, slots);
        for (int i = 0; i < slots; i++) _spare.Push(new Detections());
        _thread = new Thread(Run) { IsBackground = true, Name = $"pixel-stage:{cameraId}" };
        _thread.Start();
    }

    /// <summary>The stages, in order (for their own counters in summaries).</summary>
    public IReadOnlyList<IPixelStage> Stages => _stages;
    public long Processed => Interlocked.Read(ref _processed);
    public long Skipped => Interlocked.Read(ref _skipped);
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>A second reference to <paramref name="frame"/> if a slot is free, else null (the skip is counted).</summary>
    public FrameLease? TryHold(FrameLease frame)
    {
        if (_stop || !_free.Wait(0)) { Interlocked.Increment(ref _skipped); return null; }
        return frame.AddRef();
    }

    /// <summary>The held frame's detections arrived: the stages get it (its slot was taken in <see cref="TryHold"/>, so this never waits).</summary>
    public void Hand(FrameLease held, Detections detections, long index)
    {
        lock (_ready)
        {
            var d = _spare.Pop();
            d.Clear();
            detections.CopyTo(d);
            _ready.Enqueue((held, d, index));
            Monitor.Pulse(_ready);
        }
    }

    /// <summary>The held frame's detection failed or the camera stops: the frame is released and its slot freed.</summary>
    public void Drop(FrameLease held)
    {
        held.Dispose();
        _free.Release();
    }

    private void Run()
    {
        while (true)
        {
            (FrameLease Frame, Detections Detections, long Index) job;
            lock (_ready)
            {
                while (_ready.Count == 0 && !_stop) Monitor.Wait(_ready);
                if (_ready.Count == 0) return;
                job = _ready.Dequeue();
            }
            long t0 = Stopwatch.GetTimestamp(), cpu0 = ThreadCpuClock.NowNs();
            try
            {
                foreach (var s in _stages) s.Process(job.Frame.View, job.Detections, job.Index);
                Interlocked.Increment(ref _processed);
            }
            catch (Exception e)
            {
                if (Interlocked.Increment(ref _failed) % 100 == 1)
                    _log.LogWarning("camera {Camera}: pixel stage failed on frame {Frame}: {Error}", _cameraId, job.Index, e.Message);
            }
            finally
            {
                job.Frame.Dispose(); // the last stage is done: the pixels are wiped now
                _times.Add(Stage.PixelStage, Stopwatch.GetTimestamp() - t0);
                _times.AddCpu(Stage.PixelStage, ThreadCpuClock.NowNs() - cpu0);
                lock (_ready) _spare.Push(job.Detections);
                _free.Release();
            }
        }
    }

    /// <summary>Finishes the frames already handed over, then stops the thread.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        lock (_ready) { _stop = true; Monitor.PulseAll(_ready); }
        _thread.Join();
        _free.Dispose();
        foreach (var s in _stages) (s as IDisposable)?.Dispose(); // a stage's models go with its camera
    }
}
