using System.Text.Json;
using System.Text.Json.Serialization;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Cluster;

/// <summary>
/// One desired camera as the cluster keeps it (KV bucket <see cref="ClusterNames.DesiredBucket"/>, key
/// = camera id): its config (paths already absolute) and its manifest's YAML text, so every worker
/// and the collector load the same manifest, byte for byte.
/// </summary>
public sealed record DesiredCamera(
    [property: JsonPropertyName("camera")] CameraConfig Camera,
    [property: JsonPropertyName("manifest_yaml")] string ManifestYaml,
    [property: JsonPropertyName("manifest_name")] string ManifestName,
    [property: JsonPropertyName("manifest_version")] string ManifestVersion)
{
    private static readonly JsonSerializerOptions s_json = new() { IncludeFields = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>The manifest, parsed and validated (<see cref="EphemeraException"/> naming the problem).</summary>
    public CameraManifest LoadManifest()
    {
        var m = ManifestLoader.Parse(ManifestYaml, ManifestName).ForCamera(Camera.Id);
        if (m.VersionHash != ManifestVersion) throw new EphemeraException($"camera {Camera.Id}: the manifest text does not match its recorded version {ManifestVersion[..12]}");
        return m;
    }

    /// <summary>UTF-8 JSON.</summary>
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this, s_json);

    /// <summary>Parses an entry; <see cref="EphemeraException"/> when it is not one.</summary>
    public static DesiredCamera Parse(ReadOnlySpan<byte> utf8)
    {
        try { return JsonSerializer.Deserialize<DesiredCamera>(utf8, s_json) ?? throw new EphemeraException("empty desired-camera entry"); }
        catch (JsonException e) { throw new EphemeraException($"not a desired-camera entry: {e.Message}"); }
    }

    /// <summary>
    /// The desired cameras of a config file: the config loaded and each camera's manifest validated
    /// first (<see cref="EphemeraException"/> naming every problem; nothing is written then).
    /// </summary>
    public static List<DesiredCamera> FromConfig(string configPath)
    {
        var config = ConfigLoader.Load(configPath);
        var list = new List<DesiredCamera>();
        var problems = new List<string>();
        foreach (var cam in config.Cameras)
        {
            if (cam.Manifest is null) { problems.Add($"camera {cam.Id}: no manifest (every camera runs under one, BP-a)"); continue; }
            try
            {
                string text = File.ReadAllText(cam.Manifest);
                var m = ManifestLoader.Parse(text, cam.Manifest).ForCamera(cam.Id); // BP-a when it is another camera's
                list.Add(new DesiredCamera(cam, text, cam.Manifest, m.VersionHash));
            }
            catch (Exception e) when (e is EphemeraException or IOException)
            {
                problems.Add($"camera {cam.Id}: {e.Message}");
            }
        }
        if (problems.Count > 0) throw new EphemeraException($"{configPath}: nothing applied; {string.Join("; ", problems)}");
        return list;
    }
}
