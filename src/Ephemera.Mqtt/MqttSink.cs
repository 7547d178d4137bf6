using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;

namespace Ephemera.Mqtt;

/// <summary>
/// Released records to an MQTT broker (Home Assistant, a BMS, a PLC gateway): each record on
/// <c>ephemera/&lt;camera&gt;/&lt;class&gt;</c> at QoS 1, the camera's latest released state retained on
/// <c>ephemera/&lt;camera&gt;/state</c>, and the engine's availability retained on
/// <c>ephemera/engine/&lt;client id&gt;/availability</c> ("online", and "offline" as the last will, so a
/// subscriber learns of a crash from the broker).
/// </summary>
/// <remarks>
/// The broker is a third party to the manifest (PN7/AC7): each camera is added under one of its
/// manifest's export contracts (<see cref="AddCamera"/>), and only the classes that contract lists, at
/// bins no finer than its granularity floor, are sent; a contract the manifest does not name is
/// refused. The retained state holds released values of closed bins only: a running count of the
/// open bin would be unsuppressed (and its later difference from the final count could single out
/// fewer than k people). <see cref="Write"/> only enqueues (the engine calls it under its publishing
/// lock); a background loop publishes and reconnects, and a queue that fills drops its oldest, counted.
/// </remarks>
public sealed class MqttSink : IOutputSink, IAsyncDisposable, IDisposable
{
    private readonly MqttSinkOptions _options;
    private readonly ILogger _log;
    private readonly Dictionary<string, (CameraManifest Manifest, ExportContract Contract)> _cameras = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CameraState> _state = new(StringComparer.Ordinal);
    private readonly Channel<Outgoing> _queue;
    private readonly IMqttClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _published, _dropped, _withheld;
    private static readonly JsonSerializerOptions s_json = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private readonly record struct Outgoing(string Topic, byte[] Payload, bool Retain);

    /// <summary>Starts the publishing loop (it connects in the background and retries while the broker is away).</summary>
    public MqttSink(MqttSinkOptions options, ILogger? log = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _log = log ?? NullLogger.Instance;
        _queue = Channel.CreateBounded<Outgoing>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true,
        }, _ => Interlocked.Increment(ref _dropped));
        _client = new MqttClientFactory().CreateMqttClient();
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>The availability topic of this engine.</summary>
    public string AvailabilityTopic => $"ephemera/engine/{_options.ClientId}/availability";
    /// <summary>Messages the broker acknowledged (records and state).</summary>
    public long Published => Interlocked.Read(ref _published);
    /// <summary>Messages dropped because the queue was full while the broker was away.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Records of an added camera not sent because its contract does not cover them (class, bin floor, manifest version).</summary>
    public long Withheld => Interlocked.Read(ref _withheld);
    /// <summary>True while connected to the broker.</summary>
    public bool Connected => _client.IsConnected;

    /// <summary>
    /// Sends <paramref name="manifest"/>'s camera to the broker under its export contract
    /// <paramref name="contractId"/>. Throws <see cref="EphemeraException"/> (PN7/AC7) when the manifest
    /// names no such recipient: a recipient people were not told about gets nothing.
    /// </summary>
    public void AddCamera(CameraManifest manifest, string contractId)
    {
        var contract = RequireContract(manifest, contractId);
        lock (_cameras) _cameras[manifest.CameraId] = (manifest, contract);
    }

    /// <summary>The export contract <paramref name="contractId"/> of the manifest, or <see cref="EphemeraException"/> (PN7/AC7) when it names no such recipient.</summary>
    public static ExportContract RequireContract(CameraManifest manifest, string contractId)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return manifest.Recipients.FirstOrDefault(r => r.ContractId == contractId)
            ?? throw new EphemeraException($"PN7/AC7: camera {manifest.CameraId}'s manifest names no recipient under contract '{contractId}' " +
                $"(recipients: {string.Join(", ", manifest.Recipients.Select(r => r.ContractId).DefaultIfEmpty("none"))}); the MQTT sink is refused for it");
    }

    /// <summary>Topic of a record: <c>ephemera/&lt;camera&gt;/&lt;class&gt;</c>, the class in snake case.</summary>
    public static string Topic(string cameraId, DataClass cls) => $"ephemera/{cameraId}/{JsonNamingPolicy.SnakeCaseLower.ConvertName(cls.ToString())}";

    /// <inheritdoc />
    public void Write(DerivedRecord record)
    {
        (CameraManifest Manifest, ExportContract Contract) cam;
        lock (_cameras) if (!_cameras.TryGetValue(record.CameraId, out cam)) return; // not a camera sent to this broker
        if (record.ManifestVersion != cam.Manifest.VersionHash || !cam.Contract.Classes.Contains(record.Class)
            || record.BinLength < cam.Contract.GranularityFloor)
        {
            Interlocked.Increment(ref _withheld);
            return;
        }
        Enqueue(Topic(record.CameraId, record.Class), Encoding.UTF8.GetBytes(record.ToJson()), retain: false);
        if (UpdateState(record) is { } state) Enqueue($"ephemera/{record.CameraId}/state", state, retain: true);
    }

    private void Enqueue(string topic, byte[] payload, bool retain) => _queue.Writer.TryWrite(new Outgoing(topic, payload, retain));

    private sealed class CameraState
    {
        public IReadOnlyList<CrowdLevelRecord.ZoneLevel>? Crowd;
        public DateTimeOffset? CrowdBin;
        public readonly SortedDictionary<string, (DateTimeOffset Bin, int? Total)> Totals = new(StringComparer.Ordinal);
    }

    /// <summary>The camera's retained state after <paramref name="r"/>: crowd levels and released totals of its latest bins.</summary>
    private byte[]? UpdateState(DerivedRecord r)
    {
        var s = _state.TryGetValue(r.CameraId, out var st) ? st : _state[r.CameraId] = new CameraState();
        switch (r)
        {
            case CrowdLevelRecord c: s.Crowd = c.Zones; s.CrowdBin = c.BinStart; break;
            case CountTableRecord t: s.Totals[JsonNamingPolicy.SnakeCaseLower.ConvertName(t.Class.ToString())] = (t.BinStart, t.Total); break;
            default: return null;
        }
        return JsonSerializer.SerializeToUtf8Bytes(new
        {
            camera = r.CameraId,
            crowd = s.Crowd?.Select(z => new { zone = z.Zone, level = z.Level, people_per_m2 = z.PeoplePerSquareMetre }),
            crowd_bin_start = s.CrowdBin?.UtcDateTime,
            totals = s.Totals.ToDictionary(kv => kv.Key, kv => new { bin_start = kv.Value.Bin.UtcDateTime, total = kv.Value.Total }),
        }, s_json);
    }

    private MqttClientOptions ClientOptions() => new MqttClientOptionsBuilder()
        .WithTcpServer(_options.Host, _options.Port)
        .WithClientId(_options.ClientId)
        .WithCleanSession(true)
        .WithWillTopic(AvailabilityTopic).WithWillPayload("offline"u8.ToArray()).WithWillRetain(true)
        .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .WithKeepAlivePeriod(TimeSpan.FromSeconds(5))
        .Build();

    private async Task RunAsync(CancellationToken ct)
    {
        Outgoing? pending = null;
        bool warned = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    await _client.ConnectAsync(ClientOptions(), ct).ConfigureAwait(false);
                    await PublishAsync(new Outgoing(AvailabilityTopic, "online"u8.ToArray(), true), ct).ConfigureAwait(false);
                    if (warned) _log.LogInformation("mqtt broker {Host}:{Port} reachable again", _options.Host, _options.Port);
                    warned = false;
                }
                pending ??= await _queue.Reader.ReadAsync(ct).ConfigureAwait(false);
                await PublishAsync(pending.Value, ct).ConfigureAwait(false);
                pending = null;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (Exception e) // the broker went away, refused us, or timed out: the message waits and the loop reconnects
            {
                if (!warned) _log.LogWarning("mqtt broker {Host}:{Port} unreachable ({Error}); records wait (up to {Capacity}) and the sink retries", _options.Host, _options.Port, e.Message, _options.QueueCapacity);
                warned = true;
                try { await Task.Delay(TimeSpan.FromSeconds(_options.ReconnectSeconds), ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            }
        }
    }

    private async Task PublishAsync(Outgoing m, CancellationToken ct)
    {
        var msg = new MqttApplicationMessageBuilder().WithTopic(m.Topic).WithPayload(m.Payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(m.Retain).Build();
        var r = await _client.PublishAsync(msg, ct).ConfigureAwait(false);
        if (!r.IsSuccess) throw new InvalidOperationException($"broker refused {m.Topic}: {r.ReasonCode}");
        Interlocked.Increment(ref _published);
    }

    /// <summary>Sends what is queued (for up to <paramref name="timeout"/>), marks the engine offline and disconnects.</summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        var deadline = DateTime.UtcNow + timeout;
        while (_queue.Reader.Count > 0 && _client.IsConnected && DateTime.UtcNow < deadline) await Task.Delay(20).ConfigureAwait(false);
        _stop.Cancel();
        try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        if (_client.IsConnected)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await PublishAsync(new Outgoing(AvailabilityTopic, "offline"u8.ToArray(), true), cts.Token).ConfigureAwait(false);
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cts.Token).ConfigureAwait(false);
            }
            catch (Exception) { } // the broker's last will says offline anyway
        }
    }

    private int _disposed;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _client.Dispose();
        _stop.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
