using System.Buffers;
using System.Text;
using System.Text.Json;
using Ephemera.Governance.Records;

namespace Ephemera.Native;

/// <summary>
/// What an <c>eph_engine*</c> handle points at (through a GCHandle): the engine and the ONE record
/// reader subscribed when the engine was created, so no record published after create is missed.
/// </summary>
internal sealed class EngineState
{
    private readonly IAsyncEnumerator<DerivedRecord> _records;
    private readonly object _readLock = new();
    private Task<bool>? _pending;   // a MoveNextAsync still waiting (kept across timeouts)
    private byte[]? _held;          // a record taken but not yet delivered (buffer was too small)
    private bool _ended;

    public EngineState(EphemeraEngine engine)
    {
        Engine = engine;
        _records = engine.ReadAsync().GetAsyncEnumerator();
    }

    public EphemeraEngine Engine { get; }

    /// <summary>
    /// One record's JSON into <paramref name="dest"/> (NUL-terminated): bytes written without the NUL,
    /// 0 on timeout, <see cref="Status.Stopped"/> once the engine stopped and nothing remains,
    /// <see cref="Status.BufferTooSmall"/> (record kept) when it does not fit.
    /// </summary>
    public int Next(Span<byte> dest, int timeoutMs)
    {
        lock (_readLock)
        {
            if (_held is null)
            {
                if (_ended) return LastError.Set(Status.Stopped, "the engine stopped and every record was read");
                _pending ??= _records.MoveNextAsync().AsTask();
                bool done = timeoutMs < 0 ? WaitForever(_pending) : _pending.Wait(timeoutMs);
                if (!done) return 0;
                var t = _pending;
                _pending = null;
                if (!t.GetAwaiter().GetResult())
                {
                    _ended = true;
                    return LastError.Set(Status.Stopped, "the engine stopped and every record was read");
                }
                _held = Encoding.UTF8.GetBytes(_records.Current.ToJson());
            }
            if (dest.Length < _held.Length + 1)
                return LastError.Set(Status.BufferTooSmall, $"buffer too small: this record needs {_held.Length + 1} bytes (JSON and the NUL); it is kept for the next call");
            _held.CopyTo(dest);
            dest[_held.Length] = 0;
            int n = _held.Length;
            _held = null;
            return n;
        }
    }

    private static bool WaitForever(Task t) { t.Wait(); return true; }

    /// <summary>Stops the engine (draining) and releases it; the reader ends with it.</summary>
    public void Destroy()
    {
        try { Engine.Dispose(); }
        finally
        {
            lock (_readLock)
            {
                try
                {
                    // The reader completes when the engine stops; drain what it still holds, then close it.
                    if (_pending is { } p && p.Wait(TimeSpan.FromSeconds(5)) && p.Result)
                        while (true) { var m = _records.MoveNextAsync().AsTask(); if (!m.Wait(TimeSpan.FromSeconds(1)) || !m.Result) break; }
                    _records.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
                }
                catch (Exception) { /* destroy never fails: the engine itself is already released */ }
            }
        }
    }

    /// <summary>The statistics snapshot as JSON (UTF-8, no NUL).</summary>
    public byte[] StatsJson()
    {
        var s = Engine.GetStatistics();
        var buf = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buf))
        {
            w.WriteStartObject();
            w.WriteBoolean("running", s.Running);
            w.WriteNumber("uptime_seconds", Math.Round(s.Uptime.TotalSeconds, 3));
            w.WriteNumber("records_published", s.RecordsPublished);
            w.WriteNumber("reader_drops", s.ReaderDrops);
            w.WriteNumber("sink_failures", s.SinkFailures);
            w.WriteBoolean("store_healthy", s.StoreHealthy);
            if (s.StoreError is null) w.WriteNull("store_error"); else w.WriteString("store_error", s.StoreError);
            w.WriteStartObject("pixels");
            w.WriteNumber("allocated", s.Pixels.Allocated);
            w.WriteNumber("wiped", s.Pixels.Wiped);
            w.WriteNumber("in_use", s.Pixels.InUse);
            w.WriteNumber("leaked", s.Pixels.Leaked);
            w.WriteNumber("lifetime_max_ms", s.Pixels.LifetimeMaxMs);
            Duration(w, "engine_held", s.Pixels.EngineHeld);
            Duration(w, "decoder_held", s.Pixels.DecoderHeld);
            w.WriteEndObject();
            w.WriteStartArray("cameras");
            foreach (var c in s.Cameras)
            {
                w.WriteStartObject();
                w.WriteString("id", c.Id);
                w.WriteString("state", c.State);
                if (c.Error is null) w.WriteNull("error"); else w.WriteString("error", c.Error);
                w.WriteNumber("frames_decoded", c.FramesDecoded);
                w.WriteNumber("frames_destroyed", c.FramesDestroyed);
                w.WriteNumber("frames_not_decoded", c.FramesNotDecoded);
                w.WriteNumber("frames_dropped", c.FramesDropped);
                w.WriteNumber("detections", c.Detections);
                w.WriteNumber("detections_skipped", c.DetectionsSkipped);
                w.WriteNumber("detections_per_second", c.DetectionsPerSecond);
                w.WriteNumber("pixel_stage_processed", c.PixelStageProcessed);
                w.WriteNumber("pixel_stage_skipped", c.PixelStageSkipped);
                w.WriteNumber("latency_p50_ms", c.LatencyP50Ms);
                w.WriteNumber("latency_p99_ms", c.LatencyP99Ms);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buf.WrittenSpan.ToArray();
    }

    private static void Duration(Utf8JsonWriter w, string name, DurationStats d)
    {
        w.WriteStartObject(name);
        w.WriteNumber("p50_ms", d.P50Ms);
        w.WriteNumber("p99_ms", d.P99Ms);
        w.WriteNumber("max_ms", d.MaxMs);
        w.WriteEndObject();
    }
}
