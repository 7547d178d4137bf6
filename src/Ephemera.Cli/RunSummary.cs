using System.Text.Json;
using System.Text.Json.Serialization;
using Ephemera.Decode;
using Ephemera.Runtime;

namespace Ephemera.Cli;

/// <summary>One camera's line in the run summary.</summary>
public sealed record CameraSummary(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("frames_decoded")] long FramesDecoded,
    [property: JsonPropertyName("frames_destroyed")] long FramesDestroyed,
    [property: JsonPropertyName("frames_not_decoded")] long FramesNotDecoded,
    [property: JsonPropertyName("detections")] long Detections,
    [property: JsonPropertyName("detections_skipped")] long DetectionsSkipped,
    [property: JsonPropertyName("frames_dropped")] long FramesDropped,
    [property: JsonPropertyName("late_frames")] long LateFrames,
    [property: JsonPropertyName("latency_ms_p50")] double LatencyP50,
    [property: JsonPropertyName("latency_ms_p99")] double LatencyP99,
    [property: JsonPropertyName("outputs")] IReadOnlyDictionary<string, ClassTally>? Outputs,
    [property: JsonPropertyName("gaps")] IReadOnlyList<GapSummary> Gaps,
    [property: JsonPropertyName("pixel_stage_processed")] long PixelStageProcessed = 0,
    [property: JsonPropertyName("pixel_stage_skipped")] long PixelStageSkipped = 0,
    [property: JsonPropertyName("face_crops"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] FaceCropSummary? FaceCrops = null);

/// <summary>Case 1's face stage: faces found, refused by the gate, estimated, and how long each crop lived (filled → wiped).</summary>
public sealed record FaceCropSummary(
    [property: JsonPropertyName("faces_found")] long FacesFound,
    [property: JsonPropertyName("refused_small")] long RefusedSmall,
    [property: JsonPropertyName("refused_pose")] long RefusedPose,
    [property: JsonPropertyName("refused_blur")] long RefusedBlur,
    [property: JsonPropertyName("estimated")] long Estimated,
    [property: JsonPropertyName("crop_lifetime")] HoldTimes CropLifetime)
{
    public static FaceCropSummary? Of(CameraWorker c)
    {
        if (c.PixelStages.OfType<Inference.Attributes.FaceAttributeStage>().FirstOrDefault() is not { } s) return null;
        var (p50, p99, max) = s.CropLifetimeMs();
        return new FaceCropSummary(s.FacesFound, s.RejectedSmall, s.RejectedPose, s.RejectedBlur, s.Estimated,
            new HoldTimes(Math.Round(p50, 3), Math.Round(p99, 3), Math.Round(max, 3)));
    }
}

/// <summary>p50/p99/max of one part of a pixel buffer's lifetime, milliseconds.</summary>
public sealed record HoldTimes(
    [property: JsonPropertyName("p50_ms")] double P50Ms,
    [property: JsonPropertyName("p99_ms")] double P99Ms,
    [property: JsonPropertyName("max_ms")] double MaxMs);

/// <summary>
/// A decoded picture's lifetime split in two: <c>engine_held</c>, from its delivery to the engine's
/// last release (detector tensor filled, pixel stages done), and <c>decoder_held</c>, the rest of
/// the block's life (the codec's look-ahead and the reference frames it still needs).
/// </summary>
public sealed record LifetimeSplit(
    [property: JsonPropertyName("engine_held")] HoldTimes EngineHeld,
    [property: JsonPropertyName("decoder_held")] HoldTimes DecoderHeld)
{
    public static LifetimeSplit From(LedgerSnapshot l) => new(
        new HoldTimes(Math.Round(l.EngineHeldP50Ms, 3), Math.Round(l.EngineHeldP99Ms, 3), Math.Round(l.EngineHeldMaxMs, 3)),
        new HoldTimes(Math.Round(l.DecoderHeldP50Ms, 3), Math.Round(l.DecoderHeldP99Ms, 3), Math.Round(l.DecoderHeldMaxMs, 3)));
}

/// <summary>A time without frames from a camera's source, as the summary and the audit show it.</summary>
public sealed record GapSummary(
    [property: JsonPropertyName("start")] DateTimeOffset Start,
    [property: JsonPropertyName("end")] DateTimeOffset End,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("cause")] string Cause);

/// <summary>
/// The machine result of <c>./ephemera run</c> (DESIGN.md): the last stdout line, one JSON object.
/// frames_destroyed counts frames whose lease was released (pixels wiped); frames_not_decoded counts
/// frames no detection needed that were never decoded (no pixels); the pixel ledger proves
/// the wipe: pixel_buffers_allocated == pixel_buffers_wiped and nothing leaked.
/// </summary>
public sealed record RunSummary(
    [property: JsonPropertyName("streams")] int Streams,
    [property: JsonPropertyName("streams_running")] int StreamsRunning,
    [property: JsonPropertyName("streams_refused")] int StreamsRefused,
    [property: JsonPropertyName("streams_failed")] int StreamsFailed,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("frames_decoded")] long FramesDecoded,
    [property: JsonPropertyName("frames_destroyed")] long FramesDestroyed,
    [property: JsonPropertyName("frames_not_decoded")] long FramesNotDecoded,
    [property: JsonPropertyName("detections")] long Detections,
    [property: JsonPropertyName("pixel_buffers_allocated")] long PixelBuffersAllocated,
    [property: JsonPropertyName("pixel_buffers_wiped")] long PixelBuffersWiped,
    [property: JsonPropertyName("pixel_buffers_in_use")] long PixelBuffersInUse,
    [property: JsonPropertyName("pixel_buffers_leaked")] long PixelBuffersLeaked,
    [property: JsonPropertyName("max_pixel_lifetime_ms")] double MaxPixelLifetimeMs,
    [property: JsonPropertyName("p99_pixel_lifetime_ms")] double P99PixelLifetimeMs,
    [property: JsonPropertyName("events")] long Events,
    [property: JsonPropertyName("stage_ms")] Dictionary<string, double> StageMs,
    [property: JsonPropertyName("store")] string Store,
    [property: JsonPropertyName("store_healthy")] bool StoreHealthy,
    [property: JsonPropertyName("store_error")] string? StoreError,
    [property: JsonPropertyName("store_pending_rows")] int StorePendingRows,
    [property: JsonPropertyName("store_dropped_rows")] long StoreDroppedRows,
    [property: JsonPropertyName("bins_recovered")] int BinsRecovered,
    [property: JsonPropertyName("cameras")] IReadOnlyList<CameraSummary> Cameras,
    [property: JsonPropertyName("pixel_lifetime")] LifetimeSplit PixelLifetime,
    [property: JsonPropertyName("records_published")] long RecordsPublished,
    [property: JsonPropertyName("sink_failures")] long SinkFailures,
    [property: JsonPropertyName("reader_drops")] long ReaderDrops)
{
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>The summary of a run that has stopped (<see cref="EngineHost.Stop"/>).</summary>
    public static RunSummary From(EngineHost host)
    {
        if (host.Ledger is not { } ledger) throw new InvalidOperationException("the engine has not stopped yet");
        var (before, lifetimes, after) = ledger;
        var all = host.Cameras.Concat(host.RetiredCameras).ToList();
        var cams = all.Select(c => new CameraSummary(c.Id, c.State.ToString().ToLowerInvariant(), c.Error,
            c.FramesDecoded, c.FramesDestroyed, c.FramesNotDecoded, c.DetectionsDone, c.DetectionsSkipped, c.FramesDroppedForPool, c.LateFrames,
            Math.Round(c.Latency.Quantile(0.5), 2), Math.Round(c.Latency.Quantile(0.99), 2),
            // Only what passed the gates: per class, records released and (for counts) totals that are themselves ≥ k.
            c.Manifest is null ? null : c.Outputs.Snapshot(),
            c.GapList.Select(g => { var end = g.End ?? DateTimeOffset.UtcNow; return new GapSummary(g.Start, end, Math.Round((end - g.Start).TotalSeconds, 3), g.Cause); }).ToList(),
            c.PixelStageProcessed, c.PixelStageSkipped, FaceCropSummary.Of(c))).ToList();
        return new RunSummary(
            Streams: cams.Count,
            StreamsRunning: all.Count(c => c.Manifest != null && c.State is not (CameraState.Failed or CameraState.Refused)),
            StreamsRefused: all.Count(c => c.State == CameraState.Refused),
            StreamsFailed: all.Count(c => c.State == CameraState.Failed),
            Seconds: Math.Round(host.Elapsed.TotalSeconds, 2),
            FramesDecoded: cams.Sum(c => c.FramesDecoded),
            FramesDestroyed: cams.Sum(c => c.FramesDestroyed),
            FramesNotDecoded: cams.Sum(c => c.FramesNotDecoded),
            Detections: cams.Sum(c => c.Detections),
            PixelBuffersAllocated: after.Allocated - before.Allocated,
            PixelBuffersWiped: after.Wiped - before.Wiped,
            PixelBuffersInUse: after.InUse,
            PixelBuffersLeaked: after.Leaked - before.Leaked,
            MaxPixelLifetimeMs: Math.Round(lifetimes.LifetimeMaxMs, 3),
            P99PixelLifetimeMs: Math.Round(lifetimes.LifetimeP99Ms, 3),
            Events: host.OutputsEmitted,
            StageMs: host.Stages.ToDictionary(),
            Store: host.Store.Path,
            StoreHealthy: host.StoreError is null,
            StoreError: host.StoreError,
            StorePendingRows: host.Store.PendingRows,
            StoreDroppedRows: host.Store.DroppedRows,
            BinsRecovered: host.BinsRecovered,
            Cameras: cams,
            PixelLifetime: LifetimeSplit.From(lifetimes),
            RecordsPublished: host.Records.Published,
            SinkFailures: host.Records.SinkFailures,
            ReaderDrops: host.Records.ReaderDrops);
    }
}
