using System.Text.Json;
using System.Text.Json.Serialization;
using Ephemera.Core;
using Ephemera.Runtime;

namespace Ephemera.Cluster;

/// <summary>
/// One worker's raw count table of one bin of one camera, as it travels on the cluster's own
/// stream: cumulative for the worker's ownership of the camera (its lease <see cref="Epoch"/>), so a
/// later part of the same epoch replaces an earlier one and parts of different epochs add up. Not
/// yet k-suppressed: only the collector releases a bin, whole, through the release gate.
/// <see cref="AsOf"/> (when the worker took the table) and <see cref="EpochStart"/> (when it claimed the
/// lease; both UTC, default when unknown) let the collector ignore a part of an epoch taken after a
/// newer epoch of the camera began (a worker that ran on past its lease).
/// A part of a camera on the media-time clock (<see cref="MediaFrame"/> ≥ 0) is different: its table is
/// the bin's whole count up to that frame of the file, counted from the file's start, so it is the same
/// whichever worker computed it; the collector keeps the part covering the most frames, and the
/// closed one is the whole bin (epochs are not added up).
/// </summary>
public sealed record BinPart(
    [property: JsonPropertyName("camera")] string CameraId,
    [property: JsonPropertyName("class")] DataClass Class,
    [property: JsonPropertyName("bin_start")] DateTimeOffset BinStart,
    [property: JsonPropertyName("bin_seconds")] double BinSeconds,
    [property: JsonPropertyName("manifest")] string ManifestVersion,
    [property: JsonPropertyName("epoch")] ulong Epoch,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("closed")] bool Closed,
    [property: JsonPropertyName("rows")] IReadOnlyList<string> Rows,
    [property: JsonPropertyName("cols")] IReadOnlyList<string> Cols,
    [property: JsonPropertyName("counts")] int[][] Counts,
    [property: JsonPropertyName("as_of")] DateTimeOffset AsOf = default,
    [property: JsonPropertyName("epoch_start")] DateTimeOffset EpochStart = default,
    [property: JsonPropertyName("media_frame")] long MediaFrame = -1) : IRecordPart
{
    /// <summary>One spool file per camera, class, bin and epoch: a newer part of the bin replaces the older.</summary>
    [JsonIgnore] public string SpoolKey => $"{CameraId}_{Class}_{BinStart.ToUnixTimeSeconds()}_{Epoch}";

    /// <summary>A part of a media-time camera: a deterministic cumulative table from the file's start (see the type).</summary>
    [JsonIgnore] public bool IsMediaTime => MediaFrame >= 0;

    private static readonly JsonSerializerOptions s_json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>
    /// The de-duplicating message id (<c>Nats-Msg-Id</c>): camera, class, bin, manifest version, epoch and
    /// sequence. A part sent again (a retry, a replay from the disconnection buffer) is a no-op on the server.
    /// A media-time part is named by the frames it covers instead of the epoch (<c>…/m{frames}</c>, plus
    /// <c>c</c> when closed): the same table from whichever worker, so a failover's replay is a no-op too.
    /// </summary>
    public string MessageId => IsMediaTime
        ? $"{CameraId}/{Class}/{BinStart.ToUnixTimeSeconds()}/{ManifestVersion[..Math.Min(16, ManifestVersion.Length)]}/m{MediaFrame}{(Closed ? "c" : "")}"
        : $"{CameraId}/{Class}/{BinStart.ToUnixTimeSeconds()}/{ManifestVersion[..Math.Min(16, ManifestVersion.Length)]}/{Epoch}/{Seq}";

    /// <summary>The table as the runtime's raw table (for merging).</summary>
    public RawBinTable ToTable()
    {
        var counts = new int[Rows.Count, Cols.Count];
        for (int r = 0; r < Rows.Count; r++)
            for (int c = 0; c < Cols.Count; c++) counts[r, c] = Counts[r][c];
        return new RawBinTable(Class, BinStart, Rows, Cols, counts);
    }

    /// <summary>A part from a runtime raw table.</summary>
    public static BinPart From(string camera, TimeSpan bin, string manifestVersion, ulong epoch, long seq, bool closed, RawBinTable t) =>
        new(camera, t.Class, t.BinStart, bin.TotalSeconds, manifestVersion, epoch, seq, closed, t.Rows, t.Cols,
            Enumerable.Range(0, t.Rows.Count).Select(r => Enumerable.Range(0, t.Cols.Count).Select(c => t.Counts[r, c]).ToArray()).ToArray());

    /// <summary>UTF-8 JSON.</summary>
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this, s_json);

    /// <summary>Parses a part; <see cref="EphemeraException"/> naming the problem when it is not one.</summary>
    public static BinPart Parse(ReadOnlySpan<byte> utf8)
    {
        BinPart? p;
        try { p = JsonSerializer.Deserialize<BinPart>(utf8, s_json); }
        catch (JsonException e) { throw new EphemeraException($"not a bin part: {e.Message}"); }
        if (p is null || string.IsNullOrEmpty(p.CameraId) || p.Rows is null || p.Cols is null || p.Counts is null
            || p.Counts.Length != p.Rows.Count || p.Counts.Any(r => r is null || r.Length != p.Cols.Count) || p.Counts.Any(r => r.Any(v => v < 0)))
            throw new EphemeraException("not a bin part: camera, rows, cols and a rows×cols table of non-negative counts are required");
        return p;
    }
}
