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
/// whose own hash is recorded beside it when made and checked on every later fetch.
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
        string variant = Path.Combine(_dest, entry.BatchVariantFile);
        string stamp = variant + ".sha256";
        if (File.Exists(variant) && File.Exists(stamp) && File.ReadAllText(stamp).Trim() == Sha256Of(variant)) return variant;
        _log($"model {entry.Name}: deriving the dynamic-batch graph {entry.BatchVariantFile}");
        byte[] edited = OnnxModelEditor.MakeBatchDynamic(File.ReadAllBytes(original), entry.Output.BatchReshapeChannels, $"model {entry.Name} ({original})");
        File.WriteAllBytes(variant + ".part", edited);
        File.Move(variant + ".part", variant, overwrite: true);
        File.WriteAllText(stamp, Convert.ToHexStringLower(SHA256.HashData(edited)) + "\n");
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
