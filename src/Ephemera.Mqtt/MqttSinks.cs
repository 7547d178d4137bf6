using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;
using Microsoft.Extensions.Logging;

namespace Ephemera.Mqtt;

/// <summary>The MQTT sinks a config asks for: one per broker and client id, each carrying the cameras whose <c>mqtt:</c> section names it.</summary>
public static class MqttSinks
{
    /// <summary>
    /// Builds the sinks of <paramref name="config"/>'s cameras. A camera whose manifest cannot be read
    /// is skipped (the engine refuses it anyway); one whose contract is not among its manifest's
    /// recipients is refused for MQTT (PN7/AC7, logged) and keeps running into the store.
    /// </summary>
    public static List<MqttSink> FromConfig(EngineConfig config, ILogger log)
    {
        var sinks = new Dictionary<(string Broker, string ClientId), MqttSink>();
        foreach (var cam in config.Cameras)
        {
            if (cam.Mqtt is not { } q || cam.Manifest is null) continue;
            CameraManifest m;
            try { m = ManifestLoader.Load(cam.Manifest).ForCamera(cam.Id); }
            catch (EphemeraException) { continue; }
            var options = MqttSinkOptions.FromBroker(q.Broker);
            if (q.ClientId != null) options = options with { ClientId = q.ClientId };
            var key = (q.Broker, options.ClientId);
            try
            {
                MqttSink.RequireContract(m, q.Contract); // before opening a connection for it
                if (!sinks.TryGetValue(key, out var sink)) sinks[key] = sink = new MqttSink(options, log);
                sink.AddCamera(m, q.Contract);
                log.LogInformation("camera {Camera}: records to mqtt://{Broker} under contract {Contract}", cam.Id, q.Broker, q.Contract);
            }
            catch (EphemeraException e)
            {
                log.LogError("camera {Camera}: {Reason}", cam.Id, e.Message);
            }
        }
        return sinks.Values.ToList();
    }
}
