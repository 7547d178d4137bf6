using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Ephemera.Core;
using Ephemera.Inference.Onnx;

namespace Ephemera.Inference.Models;

/// <summary>Where a fetched model lives: the checked original and, for YOLOX graphs, the dynamic-batch variant.</summary>
public sealed record ModelFiles(ModelEntry Entry, string OriginalPath, string? BatchVariantPath);

/// <summary>
/// Puts model files in <see cref="RepoPaths.Models"/>: copies them from the mirror
/// (<see cref="RepoPaths.ModelMirror"/>) when it has the file, else downloads the entry's URL, and
/// always checks the sha256 — a file already in place is re-hashed on every fetch (a few ms), so a
/// corrupted or swapped copy is caught. A wrong hash stops with the model name, expected and actual.
/// YOLOX entries also get a derived dynamic-batch graph (<see cref="OnnxModelEditor.MakeBatchDynamic"/>),
/// whose expected hash is in the models manifest (<c>output.batch_variant_sha256</c>) and checked on every fetch.
/// </summary>
public sealed class ModelFetcher(string? mirrorDir = null, string? modelsDir = null, Action<string>? log = null)
{
    private readonly string _mirror = mirrorDir ?? RepoPaths.ModelMirror;
    private readonly string _dest = modelsDir ?? RepoPaths.Models;
    private readonly Action<string> _log = log ?? (_ => { });

    public string ModelsDirectory => _dest;

    public ModelFiles Fetch(ModelEntry entry)
    {
        Directory.CreateDirectory(_dest);
        string dst = Path.Combine(_dest, entry.File);
        if (!(File.Exists(dst) && Sha256Of(dst) == entry.Sha256))
        {
            string mirrored = Path.Combine(_mirror, entry.File);
            string tmp = dst + ".part";
            if (File.Exists(mirrored))
            {
                _log($"model {entry.Name}: copying from mirror {mirrored}");
                File.Copy(mirrored, tmp, overwrite: true);
            }
            else
            {
                _log($"model {entry.Name}: no mirror copy at {mirrored}; downloading {entry.Url}");
                Download(entry, tmp);
            }
            string actual = Sha256Of(tmp);
            if (actual != entry.Sha256)
            {
                File.Delete(tmp);
                throw new EphemeraException($"model {entry.Name}: sha256 mismatch for {entry.File}: expected {entry.Sha256}, actual {actual}");
            }
            File.Move(tmp, dst, overwrite: true);
        }
        return new ModelFiles(entry, dst, entry.HasBatchVariant ? EnsureBatchVariant(entry, dst) : null);
    }

    private string EnsureBatchVariant(ModelEntry entry, string original)
    {
        // Checked against the manifest on every load, never against a stamp the engine wrote itself:
        // a derived file whose bytes differ (flipped weights) is derived again from the checked original.
        string variant = Path.Combine(_dest, entry.BatchVariantFile);
        string expected = entry.BatchVariantSha256!;
        if (File.Exists(variant) && Sha256Of(variant) == expected) return variant;
        _log(File.Exists(variant)
            ? $"model {entry.Name}: {entry.BatchVariantFile} does not match its sha256 in the models manifest; deriving it again"
            : $"model {entry.Name}: deriving the dynamic-batch graph {entry.BatchVariantFile}");
        byte[] edited = OnnxModelEditor.MakeBatchDynamic(File.ReadAllBytes(original), entry.Output.BatchReshapeChannels, $"model {entry.Name} ({original})");
        string actual = Convert.ToHexStringLower(SHA256.HashData(edited));
        if (actual != expected)
            throw new EphemeraException($"model {entry.Name}: the derived dynamic-batch graph has sha256 {actual}, the models manifest expects {expected} " +
                                        "(the graph editor changed: update output.batch_variant_sha256 after checking the new graph)");
        File.WriteAllBytes(variant + ".part", edited);
        File.Move(variant + ".part", variant, overwrite: true);
        File.Delete(variant + ".sha256"); // the old self-written stamp, no longer trusted
        return variant;
    }

    private static void Download(ModelEntry entry, string tmp)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        byte[] body;
        try { body = http.GetByteArrayAsync(entry.Url).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new EphemeraException($"model {entry.Name}: download of {entry.Url} failed ({e.Message}); set EPHEMERA_MODEL_MIRROR to a directory holding {entry.File}", e);
        }
        if (entry.ArchiveMember is null) { File.WriteAllBytes(tmp, body); return; }
        using var gz = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        while (tar.GetNextEntry() is { } te)
        {
            if (te.Name != entry.ArchiveMember || te.DataStream is null) continue;
            using var f = File.Create(tmp);
            te.DataStream.CopyTo(f);
            return;
        }
        throw new EphemeraException($"model {entry.Name}: {entry.Url} has no member {entry.ArchiveMember}");
    }

    public static string Sha256Of(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }
}
