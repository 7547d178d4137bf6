using System.Globalization;
using System.Security.Cryptography;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using NATS.Client.ObjectStore;
using NATS.Client.ObjectStore.Models;

namespace Ephemera.Cluster;

/// <summary>
/// Case-4 anonymised images in the cluster's JetStream object store (bucket
/// <see cref="ClusterNames.ImageBucket"/>): the only image that ever crosses the network, and only as
/// the anonymiser released it (masked, output-checked, JPEG). Each object carries its camera, manifest
/// version and expiry (the bin start plus the manifest's retention for AnonymisedImage); the
/// collector's sweep deletes it at that time and audits the deletion.
/// </summary>
public sealed class ImageObjects
{
    /// <summary>Metadata keys of an image object.</summary>
    public const string CameraKey = "ephemera-camera", ManifestKey = "ephemera-manifest", ExpiresKey = "ephemera-expires";

    private readonly INatsObjStore _store;
    private ImageObjects(INatsObjStore store) => _store = store;

    /// <summary>The image bucket, created when missing (file storage).</summary>
    public static async Task<ImageObjects> OpenAsync(ClusterConnection cluster, CancellationToken ct = default)
    {
        var objects = new NatsObjContext(cluster.JetStream);
        var store = await objects.CreateObjectStoreAsync(new NatsObjConfig(ClusterNames.ImageBucket) { Storage = NatsObjStorageType.File }, ct).ConfigureAwait(false);
        return new ImageObjects(store);
    }

    /// <summary>
    /// The object name: camera, bin start and the image's hash, so a retry after a lost answer
    /// overwrites the same object instead of adding a second copy.
    /// </summary>
    public static string NameOf(AnonymisedImageRecord r) =>
        $"{r.CameraId}/{r.BinStart.ToUnixTimeMilliseconds()}-{Convert.ToHexStringLower(SHA256.HashData(r.Jpeg.Span))[..16]}.jpg";

    /// <summary>When the image must be gone: its bin start plus the manifest's retention for anonymised images.</summary>
    public static DateTimeOffset ExpiryOf(AnonymisedImageRecord r, CameraManifest m) =>
        r.BinStart + (m.DataClasses.TryGetValue(DataClass.AnonymisedImage, out var d) ? d.Retention
            : throw new EphemeraException($"M2: camera {m.CameraId}'s manifest does not declare AnonymisedImage"));

    /// <summary>Puts one released image (its description: the record's payload, masked counts and output check). Returns the object name.</summary>
    public async Task<string> PutAsync(AnonymisedImageRecord r, CameraManifest m, CancellationToken ct = default)
    {
        if (r.CameraId != m.CameraId || r.ManifestVersion != m.VersionHash)
            throw new EphemeraException($"image of camera {r.CameraId} was not released under manifest {m.VersionHash[..12]} of camera {m.CameraId}");
        string name = NameOf(r);
        var meta = new ObjectMetadata
        {
            Name = name,
            Description = r.PayloadJson(),
            Metadata = new Dictionary<string, string>
            {
                [CameraKey] = r.CameraId,
                [ManifestKey] = r.ManifestVersion,
                [ExpiresKey] = ExpiryOf(r, m).UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            },
        };
        using var body = new MemoryStream(r.Jpeg.ToArray(), writable: false);
        await _store.PutAsync(meta, body, cancellationToken: ct).ConfigureAwait(false);
        return name;
    }

    /// <summary>The image objects now: name, camera, expiry.</summary>
    public async Task<List<(string Name, string Camera, DateTimeOffset Expires)>> ListAsync(CancellationToken ct = default)
    {
        var list = new List<(string, string, DateTimeOffset)>();
        // Listing an empty bucket waits for a first entry that never comes: ask the stream first.
        var status = await _store.GetStatusAsync(ct).ConfigureAwait(false);
        if (status.Info.State.Messages == 0) return list;
        try
        {
            await foreach (var o in _store.ListAsync(cancellationToken: ct).ConfigureAwait(false))
            {
                var md = o.Metadata ?? new Dictionary<string, string>();
                var expires = md.TryGetValue(ExpiresKey, out var e) && DateTimeOffset.TryParse(e, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                    ? at : DateTimeOffset.MinValue; // no expiry: not ours to keep
                list.Add((o.Name, md.GetValueOrDefault(CameraKey, ""), expires));
            }
        }
        catch (NatsObjException) { } // an empty bucket
        return list;
    }

    /// <summary>The JPEG bytes of an object.</summary>
    public async Task<byte[]> GetAsync(string name, CancellationToken ct = default) => await _store.GetBytesAsync(name, ct).ConfigureAwait(false);

    /// <summary>Deletes every image whose expiry is at or before <paramref name="now"/>; returns (name, camera) of each.</summary>
    public async Task<List<(string Name, string Camera)>> SweepAsync(DateTimeOffset now, CancellationToken ct = default)
    {
        var gone = new List<(string, string)>();
        foreach (var (name, camera, expires) in await ListAsync(ct).ConfigureAwait(false))
        {
            if (expires > now) continue;
            await _store.DeleteAsync(name, ct).ConfigureAwait(false);
            gone.Add((name, camera));
        }
        return gone;
    }
}
