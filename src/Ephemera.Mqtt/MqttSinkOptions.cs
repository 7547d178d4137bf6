using Ephemera.Core;

namespace Ephemera.Mqtt;

/// <summary>
/// Where an <see cref="MqttSink"/> publishes. Validated when set (<see cref="EphemeraException"/>
/// naming the key), so an options object that exists is a valid one.
/// </summary>
public sealed record MqttSinkOptions
{
    /// <summary>Broker host name or address.</summary>
    public string Host { get; init => field = string.IsNullOrWhiteSpace(value) ? throw new EphemeraException("mqtt.broker: the host must not be empty") : value; } = "127.0.0.1";

    /// <summary>Broker TCP port.</summary>
    public int Port { get; init => field = value is < 1 or > 65535 ? throw new EphemeraException($"mqtt.broker: port {value} is outside 1..65535") : value; } = 1883;

    /// <summary>The MQTT client id; also names the engine in the availability topic <c>ephemera/engine/&lt;id&gt;/availability</c>.</summary>
    public string ClientId
    {
        get;
        init => field = !string.IsNullOrEmpty(value) && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? value : throw new EphemeraException($"mqtt.client_id: '{value}' must be letters, digits, '-', '_' or '.'");
    } = "ephemera-" + Environment.MachineName.ToLowerInvariant().Replace(' ', '-');

    /// <summary>Records waiting for the broker before the oldest is dropped (counted in <see cref="MqttSink.Dropped"/>).</summary>
    public int QueueCapacity { get; init => field = value is < 1 or > 1_000_000 ? throw new EphemeraException($"mqtt.queue_capacity: {value} is outside 1..1000000") : value; } = 10_000;

    /// <summary>Seconds between reconnection attempts while the broker is away.</summary>
    public double ReconnectSeconds { get; init => field = value is < 0.1 or > 3600 || !double.IsFinite(value) ? throw new EphemeraException($"mqtt.reconnect_seconds: {value} is outside 0.1..3600") : value; } = 2;

    /// <summary>Parses <c>HOST:PORT</c> (or <c>mqtt://HOST:PORT</c>, port 1883 when absent) into these options.</summary>
    public static MqttSinkOptions FromBroker(string broker)
    {
        if (string.IsNullOrWhiteSpace(broker)) throw new EphemeraException("mqtt.broker: missing (HOST:PORT)");
        var s = broker.StartsWith("mqtt://", StringComparison.Ordinal) ? broker["mqtt://".Length..] : broker;
        int colon = s.LastIndexOf(':');
        if (colon < 0) return new MqttSinkOptions { Host = s };
        if (!int.TryParse(s[(colon + 1)..], out int port)) throw new EphemeraException($"mqtt.broker: '{broker}' is not HOST:PORT");
        return new MqttSinkOptions { Host = s[..colon], Port = port };
    }
}
