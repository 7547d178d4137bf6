using System.Text.Json;
using System.Text.Json.Serialization;
using NATS.Client.KeyValueStore;

namespace Ephemera.Cluster;

/// <summary>One camera's state as its worker last reported it (KV bucket <see cref="ClusterNames.StatusBucket"/>).</summary>
public sealed record CameraStatus(
    [property: JsonPropertyName("camera")] string Camera,
    [property: JsonPropertyName("owner")] string Owner,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("epoch")] ulong Epoch,
    [property: JsonPropertyName("decode_fps")] double DecodeFps,
    [property: JsonPropertyName("detect_fps")] double DetectFps,
    [property: JsonPropertyName("parts_published")] long PartsPublished,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("reason")] string? Reason = null,
    [property: JsonPropertyName("media_frame")] long MediaFrame = -1)
{
    /// <summary>UTF-8 JSON.</summary>
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this);
    /// <summary>Parses one (null when it is not one).</summary>
    public static CameraStatus? Parse(byte[] utf8)
    {
        try { return JsonSerializer.Deserialize<CameraStatus>(utf8); } catch (JsonException) { return null; }
    }
}

/// <summary>The desired cameras in their KV bucket: apply a set, list it.</summary>
public static class DesiredState
{
    /// <summary>
    /// Makes <paramref name="cameras"/> the desired set: each written (a changed entry gets a new
    /// revision; the workers notice), and desired cameras not in the set deleted (their workers remove them).
    /// Returns (written, removed).
    /// </summary>
    public static async Task<(int Written, int Removed)> ApplyAsync(ClusterConnection cluster, IReadOnlyList<DesiredCamera> cameras, CancellationToken ct = default)
    {
        var kv = await cluster.BucketAsync(ClusterNames.DesiredBucket, ct: ct).ConfigureAwait(false);
        var keep = cameras.Select(c => c.Camera.Id).ToHashSet(StringComparer.Ordinal);
        int removed = 0;
        foreach (var key in await KeysAsync(kv, ct).ConfigureAwait(false))
            if (!keep.Contains(key)) { await kv.DeleteAsync(key, cancellationToken: ct).ConfigureAwait(false); removed++; }
        foreach (var c in cameras) await kv.PutAsync(c.Camera.Id, c.ToUtf8(), cancellationToken: ct).ConfigureAwait(false);
        return (cameras.Count, removed);
    }

    /// <summary>The desired cameras now (an entry that does not parse is skipped).</summary>
    public static async Task<Dictionary<string, (DesiredCamera Camera, ulong Revision)>> ListAsync(INatsKVStore kv, CancellationToken ct = default)
    {
        var all = new Dictionary<string, (DesiredCamera, ulong)>(StringComparer.Ordinal);
        foreach (var key in await KeysAsync(kv, ct).ConfigureAwait(false))
        {
            try
            {
                var e = await kv.GetEntryAsync<byte[]>(key, cancellationToken: ct).ConfigureAwait(false);
                if (e.Value is { } v) all[key] = (DesiredCamera.Parse(v), e.Revision);
            }
            catch (Exception ex) when (ex is NatsKVKeyNotFoundException or NatsKVKeyDeletedException or Core.EphemeraException) { }
        }
        return all;
    }

    /// <summary>The live keys of a bucket (none when it is empty).</summary>
    public static async Task<List<string>> KeysAsync(INatsKVStore kv, CancellationToken ct = default)
    {
        var keys = new List<string>();
        try { await foreach (var k in kv.GetKeysAsync(cancellationToken: ct).ConfigureAwait(false)) keys.Add(k); }
        catch (NatsKVException) { }
        return keys;
    }
}
