using Ephemera.Core;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace Ephemera.Cluster;

/// <summary>
/// A connection to the cluster's NATS server with JetStream, and the stream and buckets the cluster
/// uses (created when missing, so any command may come first).
/// </summary>
public sealed class ClusterConnection : IAsyncDisposable
{
    private ClusterConnection(NatsConnection nats, string url)
    {
        Nats = nats; Url = url;
        JetStream = new NatsJSContext(nats);
        KeyValue = new NatsKVContext(JetStream);
    }

    /// <summary>The server URL.</summary>
    public string Url { get; }
    /// <summary>The NATS connection (reconnects by itself).</summary>
    public NatsConnection Nats { get; }
    /// <summary>JetStream.</summary>
    public NatsJSContext JetStream { get; }
    /// <summary>JetStream key-value buckets.</summary>
    public NatsKVContext KeyValue { get; }

    /// <summary>Seconds a server has to answer the first connection before it counts as unreachable.</summary>
    public static TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Connects to <paramref name="url"/> (nats://HOST:PORT). Throws <see cref="EphemeraException"/> naming the
    /// URL when the server is unreachable or has no JetStream (start it with <c>nats-server -js</c>).
    /// </summary>
    public static async Task<ClusterConnection> ConnectAsync(string url, string name, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(url) || !(url.StartsWith("nats://", StringComparison.Ordinal) || url.StartsWith("tls://", StringComparison.Ordinal)))
            throw new EphemeraException($"--nats: '{url}' is not a NATS URL (nats://HOST:PORT)");
        var nats = new NatsConnection(new NatsOpts
        {
            Url = url, Name = name, ConnectTimeout = ConnectTimeout,
            MaxReconnectRetry = -1, // a worker outlives a server restart
            ReconnectWaitMin = TimeSpan.FromMilliseconds(200), ReconnectWaitMax = TimeSpan.FromSeconds(2),
        });
        try
        {
            await nats.ConnectAsync().ConfigureAwait(false);
            var c = new ClusterConnection(nats, url);
            await c.JetStream.GetAccountInfoAsync(ct).ConfigureAwait(false);
            return c;
        }
        catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException and not OperationCanceledException { CancellationToken.IsCancellationRequested: true })
        {
            await nats.DisposeAsync().ConfigureAwait(false);
            string why = e is NatsJSApiNoResponseException or NatsJSException ? "JetStream is not enabled there (start it with nats-server -js)" : e.Message;
            throw new EphemeraException($"NATS server {url} is unreachable: {why}", e);
        }
    }

    /// <summary>The record stream, created when missing: file storage, a de-duplication window of <paramref name="dedupeWindow"/>.</summary>
    public async Task<INatsJSStream> EnsureRecordStreamAsync(TimeSpan dedupeWindow, CancellationToken ct = default)
    {
        var cfg = new StreamConfig(ClusterNames.RecordStream, ["ephemera.records.>"])
        {
            Storage = StreamConfigStorage.File,
            DuplicateWindow = dedupeWindow,
            // A work queue: a part is gone once the collector acknowledged it (it is checkpointed there);
            // unacknowledged ones are kept at most a day. Raw tables never pile up in a second store.
            Retention = StreamConfigRetention.Workqueue,
            MaxAge = TimeSpan.FromDays(1),
        };
        return await JetStream.CreateOrUpdateStreamAsync(cfg, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A KV bucket, created when missing (<paramref name="maxAge"/>: entries expire unless rewritten; null = never).
    /// An existing bucket is opened as it is unless <paramref name="maxAge"/> is given and differs: a reader
    /// (<c>cluster status</c>, a test) must never rewrite its config, or opening the lease bucket without
    /// a max age would turn lease expiry off and a dead worker's cameras would never be claimed again.
    /// </summary>
    public async Task<INatsKVStore> BucketAsync(string name, TimeSpan? maxAge = null, CancellationToken ct = default)
    {
        try
        {
            var existing = await KeyValue.GetStoreAsync(name, ct).ConfigureAwait(false);
            if (maxAge is not { } want || (await existing.GetStatusAsync(ct).ConfigureAwait(false)).Info.Config.MaxAge == want) return existing;
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404) { } // not there yet
        var cfg = new NatsKVConfig(name) { History = 1, Storage = NatsKVStorageType.File };
        if (maxAge is { } age) cfg = cfg with { MaxAge = age };
        return await KeyValue.CreateOrUpdateStoreAsync(cfg, ct).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Nats.DisposeAsync();
}
