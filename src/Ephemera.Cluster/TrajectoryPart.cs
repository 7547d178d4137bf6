using System.Text.Json;
using System.Text.Json.Serialization;
using Ephemera.Core;
using Ephemera.Runtime;

namespace Ephemera.Cluster;

/// <summary>One coarsened visit in a <see cref="TrajectoryPart"/>: its id (unique within its bin), places and time steps.</summary>
public sealed record TrajectoryVisit(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("places")] IReadOnlyList<string> Places,
    [property: JsonPropertyName("steps")] IReadOnlyList<long> Steps);

/// <summary>
/// Coarsened visits of one bin of one camera on their way to the collector (not yet through the
/// unicity gate: only the collector releases a bin's set, once, on the union of every part's visits).
/// A visit's id makes a replay a no-op at the collector as well as on the server: on a wall-clock
/// camera it is the part's epoch and sequence and its index (each part carries new visits); on a
/// media-time camera (<see cref="MediaFrame"/> ≥ 0) it is where the visit began and ended in the
/// file, the same whichever worker computed it, so a new owner's catch-up re-sends the same visits.
/// A media-time worker keeps a bin's visits until the bin closes and sends them in one
/// <see cref="Closed"/> part: the collector releases the bin when that came, as it does its tables.
/// </summary>
public sealed record TrajectoryPart(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("camera")] string CameraId,
    [property: JsonPropertyName("manifest")] string ManifestVersion,
    [property: JsonPropertyName("bin_start")] DateTimeOffset BinStart,
    [property: JsonPropertyName("bin_seconds")] double BinSeconds,
    [property: JsonPropertyName("epoch")] ulong Epoch,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("closed")] bool Closed,
    [property: JsonPropertyName("visits")] IReadOnlyList<TrajectoryVisit> Visits,
    [property: JsonPropertyName("as_of")] DateTimeOffset AsOf = default,
    [property: JsonPropertyName("epoch_start")] DateTimeOffset EpochStart = default,
    [property: JsonPropertyName("media_frame")] long MediaFrame = -1) : IRecordPart
{
    /// <summary>Always <see cref="DataClass.Trajectory"/>.</summary>
    [JsonIgnore] public DataClass Class => DataClass.Trajectory;
    /// <summary>One spool file per part (visits are not cumulative: none replaces another).</summary>
    [JsonIgnore] public string SpoolKey => $"{CameraId}_{Class}_{BinStart.ToUnixTimeSeconds()}_{Epoch}_{Seq}";

    /// <summary>The <see cref="Kind"/> of a trajectory message (a bin part has no <c>kind</c>).</summary>
    public const string TrajectoryKind = "trajectory";
    private static readonly byte[] s_marker = "\"kind\":\"trajectory\""u8.ToArray();

    /// <summary>A part of a media-time camera: visits named by where they are in the file.</summary>
    [JsonIgnore] public bool IsMediaTime => MediaFrame >= 0;

    /// <summary>
    /// The de-duplicating message id: camera, class, bin, manifest version, then the epoch and sequence
    /// (wall clock) or, on the media-time clock, a digest of the visits' ids (plus <c>c</c> when closed):
    /// the same visits from whichever worker are the same message.
    /// </summary>
    [JsonIgnore]
    public string MessageId => $"{CameraId}/{DataClass.Trajectory}/{BinStart.ToUnixTimeSeconds()}/{ManifestVersion[..Math.Min(16, ManifestVersion.Length)]}/"
        + (IsMediaTime ? $"v{Digest()}{(Closed ? "c" : "")}" : $"{Epoch}/{Seq}");

    private string Digest() => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(string.Join("\n", Visits.Select(v => v.Id).Order(StringComparer.Ordinal)))))[..24].ToLowerInvariant();

    /// <summary>The id of a media-time visit: where it began and ended (seconds of the file, round-trip format) and its places.</summary>
    public static string MediaVisitId(CoarseVisit v) =>
        $"m{v.FirstSeconds.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}-{v.LastSeconds.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}-{string.Join(">", v.Places)}";

    /// <summary>The visits as the runtime's coarse visits (for the gate).</summary>
    public List<CoarseVisit> ToCoarse() => Visits.Select(v => new CoarseVisit(BinStart, v.Places, v.Steps, double.NaN, double.NaN)).ToList();

    /// <summary>UTF-8 JSON.</summary>
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this);

    /// <summary>True when a message on the record stream is a trajectory part (the serialiser writes <c>kind</c> first).</summary>
    public static bool IsTrajectory(ReadOnlySpan<byte> utf8) => PartKind.Is(utf8, s_marker);

    /// <summary>Parses a part; <see cref="EphemeraException"/> naming the problem when it is not one.</summary>
    public static TrajectoryPart Parse(ReadOnlySpan<byte> utf8)
    {
        TrajectoryPart? p;
        try { p = JsonSerializer.Deserialize<TrajectoryPart>(utf8); }
        catch (JsonException e) { throw new EphemeraException($"not a trajectory part: {e.Message}"); }
        if (p is null || p.Kind != TrajectoryKind || string.IsNullOrEmpty(p.CameraId) || string.IsNullOrEmpty(p.ManifestVersion) || p.BinSeconds <= 0
            || p.Visits is null || p.Visits.Any(v => v is null || string.IsNullOrEmpty(v.Id) || v.Places is not { Count: > 0 } || v.Steps is null
                || v.Steps.Count != v.Places.Count || v.Places.Any(string.IsNullOrEmpty)))
            throw new EphemeraException("not a trajectory part: camera, manifest, a bin length and visits (id, places, one time step per place) are required");
        return p;
    }
}
