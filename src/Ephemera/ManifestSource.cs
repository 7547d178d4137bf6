using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera;

/// <summary>
/// Where a camera's purpose manifest comes from: a YAML file, YAML text, or a manifest object. A
/// manifest that cannot be read or is invalid makes <see cref="EphemeraEngine.AddCameraAsync"/>
/// answer with a refusal, never an exception.
/// </summary>
public abstract record ManifestSource
{
    private ManifestSource() { }

    /// <summary>A manifest YAML file.</summary>
    public static ManifestSource File(string path) => new FromFile(EphemeraOptions.NotEmpty("manifest", path));

    /// <summary>Manifest YAML text; <paramref name="name"/> is used in messages.</summary>
    public static ManifestSource Yaml(string yaml, string name = "(manifest text)") => new FromYaml(yaml ?? "", name);

    /// <summary>A manifest already loaded (<see cref="ManifestLoader"/>).</summary>
    public static ManifestSource Object(CameraManifest manifest) => new FromObject(manifest ?? throw new ArgumentNullException(nameof(manifest)));

    /// <summary>A manifest object.</summary>
    public static implicit operator ManifestSource(CameraManifest manifest) => Object(manifest);

    /// <summary>Loads it (throws <see cref="EphemeraException"/> naming the problem).</summary>
    internal abstract CameraManifest Load();

    private sealed record FromFile(string Path) : ManifestSource
    {
        internal override CameraManifest Load() => ManifestLoader.Load(Path);
    }

    private sealed record FromYaml(string Text, string Name) : ManifestSource
    {
        internal override CameraManifest Load() => ManifestLoader.Parse(Text, Name);
    }

    private sealed record FromObject(CameraManifest Manifest) : ManifestSource
    {
        internal override CameraManifest Load() => Manifest;
    }
}
