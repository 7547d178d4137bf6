using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Cli;

/// <summary>
/// Offline verbs (detect on a file) are free: they are for evaluation on recorded footage. On a live
/// camera (<c>rtsp://</c>, <c>http(s)://</c>) they print per-person boxes, so they run only under a
/// manifest for that camera which is in force and lets tracks leave memory (Track declared with a
/// storage other than memory), and each run is audited in the store like any other output.
/// </summary>
public sealed class LiveSourceGate : IDisposable
{
    private readonly EphemeraStore? _store;
    private readonly CameraManifest? _manifest;

    public static bool IsLive(string input) =>
        input.StartsWith("rtsp://", StringComparison.OrdinalIgnoreCase) || input.StartsWith("rtsps://", StringComparison.OrdinalIgnoreCase) ||
        input.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || input.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private LiveSourceGate(EphemeraStore? store, CameraManifest? manifest) { _store = store; _manifest = manifest; }

    /// <summary>Admits the run or throws <see cref="EphemeraException"/> naming the requirement (exit 2).</summary>
    public static LiveSourceGate Admit(string verb, string input, string? manifestPath, string? cameraId, string? db)
    {
        if (!IsLive(input)) return new LiveSourceGate(null, null);
        if (manifestPath is null || cameraId is null)
            throw new UsageException($"{input} is a live camera: `{verb}` on a live source needs --manifest FILE --camera ID " +
                                     "(a camera runs only under a purpose manifest, BP-a); offline evaluation on files needs neither");
        var manifest = ManifestLoader.Load(manifestPath).ForCamera(cameraId);
        if (!manifest.DataClasses.TryGetValue(DataClass.Track, out var track) || track.Storage == StorageKind.Memory)
            throw new EphemeraException($"M2: the manifest of camera {cameraId} keeps Track in memory only; `{verb}` prints per-person boxes, " +
                                        "so it runs on this live camera only when the manifest declares Track with storage other than memory");
        var store = EphemeraStore.Open(db ?? EphemeraStore.DefaultPath);
        try
        {
            var decision = store.AuthorizeStart(manifest);
            if (!decision.Allowed) throw new EphemeraException($"camera {cameraId} may not start: {string.Join("; ", decision.Reasons)}");
            store.Audit.Append(new LiveVerbRecord(cameraId, verb, "start", 0, manifest.VersionHash));
            return new LiveSourceGate(store, manifest);
        }
        catch { store.Dispose(); throw; }
    }

    /// <summary>Audits the end of the run with the number of frames whose results were printed.</summary>
    public void Finished(long framesProcessed)
    {
        if (_store is null || _manifest is null) return;
        _store.Audit.Append(new LiveVerbRecord(_manifest.CameraId, "detect", "end", framesProcessed, _manifest.VersionHash));
        _store.Audit.Checkpoint();
    }

    public void Dispose() => _store?.Dispose();
}
