using System.Text.Json;
using System.Text.Json.Serialization;
using Ephemera.Core;
using Ephemera.Governance.Records;

namespace Ephemera.Cluster;

/// <summary>
/// A crowd icon image (case 5: people drawn as icons on the floor map, never camera pixels) on its way
/// from a worker to the collector. Icons are latest-only snapshots (storage <c>latest</c>), not bins:
/// nothing to merge, so the collector keeps the newest per camera (<see cref="At"/>) and releases it
/// through <see cref="ReleaseGate.IconImage"/> into its store. The message id names camera and time:
/// a replay is a no-op on the server, and an older snapshot that arrives later (a failover) is stale.
/// </summary>
public sealed record IconPart(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("camera")] string CameraId,
    [property: JsonPropertyName("manifest")] string ManifestVersion,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("people")] int People,
    [property: JsonPropertyName("png")] byte[] Png)
{
    /// <summary>The <see cref="Kind"/> of an icon message (a bin part has no <c>kind</c>).</summary>
    public const string IconKind = "icon";
    private static readonly byte[] s_marker = "\"kind\":\"icon\""u8.ToArray();

    /// <summary>The de-duplicating message id: camera, class, time (ms) and manifest version.</summary>
    public string MessageId => $"{CameraId}/{DataClass.IconImage}/{At.ToUnixTimeMilliseconds()}/{ManifestVersion[..Math.Min(16, ManifestVersion.Length)]}";

    /// <summary>The part of an icon the worker's engine released.</summary>
    public static IconPart From(IconImageRecord r) => new(IconKind, r.CameraId, r.ManifestVersion, r.BinStart, r.People, r.Png.ToArray());

    /// <summary>UTF-8 JSON (the PNG as base64).</summary>
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this);

    /// <summary>True when a message on the record stream is an icon (cheap: the serialiser writes <c>kind</c> first).</summary>
    public static bool IsIcon(ReadOnlySpan<byte> utf8) => PartKind.Is(utf8, s_marker);

    /// <summary>Parses an icon; <see cref="EphemeraException"/> naming the problem when it is not one.</summary>
    public static IconPart Parse(ReadOnlySpan<byte> utf8)
    {
        IconPart? p;
        try { p = JsonSerializer.Deserialize<IconPart>(utf8); }
        catch (JsonException e) { throw new EphemeraException($"not an icon part: {e.Message}"); }
        if (p is null || p.Kind != IconKind || string.IsNullOrEmpty(p.CameraId) || string.IsNullOrEmpty(p.ManifestVersion) || p.People < 0
            || p.Png is not { Length: > 8 } || p.Png[0] != 0x89 || p.Png[1] != (byte)'P' || p.Png[2] != (byte)'N' || p.Png[3] != (byte)'G')
            throw new EphemeraException("not an icon part: camera, manifest, people ≥ 0 and a PNG are required");
        return p;
    }
}
