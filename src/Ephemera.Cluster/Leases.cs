using System.Text;
using NATS.Client.KeyValueStore;

namespace Ephemera.Cluster;

/// <summary>
/// Camera leases in a KV bucket whose entries expire after the lease time: a claim is a create
/// (it fails while another worker's entry lives), a renewal is an update at the revision the worker
/// last wrote (it fails if the lease expired and someone else took it), and a release deletes at that
/// revision. The revision of the claim is the ownership's epoch, unique across the bucket.
/// </summary>
public sealed class Leases(INatsKVStore bucket, string workerId)
{
    /// <summary>This worker's id (the value of its lease entries).</summary>
    public string WorkerId { get; } = workerId;

    /// <summary>Claims <paramref name="camera"/>: its revision (the epoch), or null when another worker holds it.</summary>
    public async Task<ulong?> TryClaimAsync(string camera, CancellationToken ct)
    {
        try { return await bucket.CreateAsync(camera, Encoding.UTF8.GetBytes(WorkerId), cancellationToken: ct).ConfigureAwait(false); }
        catch (NatsKVCreateException) { return null; }
        catch (NatsKVWrongLastRevisionException) { return null; }
    }

    /// <summary>Renews a lease held at <paramref name="revision"/>: the new revision, or null when it was lost.</summary>
    public async Task<ulong?> RenewAsync(string camera, ulong revision, CancellationToken ct)
    {
        try { return await bucket.UpdateAsync(camera, Encoding.UTF8.GetBytes(WorkerId), revision, cancellationToken: ct).ConfigureAwait(false); }
        catch (NatsKVWrongLastRevisionException) { return null; }
    }

    /// <summary>Gives a lease back (graceful shutdown), so another worker may claim it at once.</summary>
    public async Task ReleaseAsync(string camera, ulong revision, CancellationToken ct)
    {
        try { await bucket.DeleteAsync(camera, new NatsKVDeleteOpts { Revision = revision }, ct).ConfigureAwait(false); }
        catch (NatsKVWrongLastRevisionException) { }
    }

    /// <summary>The current owner of every leased camera.</summary>
    public async Task<Dictionary<string, string>> OwnersAsync(CancellationToken ct)
    {
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            await foreach (var key in bucket.GetKeysAsync(cancellationToken: ct).ConfigureAwait(false))
            {
                try
                {
                    var e = await bucket.GetEntryAsync<byte[]>(key, cancellationToken: ct).ConfigureAwait(false);
                    if (e.Value is { } v) owners[key] = Encoding.UTF8.GetString(v);
                }
                catch (NatsKVKeyNotFoundException) { }
                catch (NatsKVKeyDeletedException) { }
            }
        }
        catch (NatsKVException) { } // no keys yet
        return owners;
    }
}
