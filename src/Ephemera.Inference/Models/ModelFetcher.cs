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
        string dst = FetchFile(entry.Name, entry.File, entry.Url, entry.ArchiveMember, entry.Sha256);
        return new ModelFiles(entry, dst, entry.HasBatchVariant ? EnsureBatchVariant(entry, dst) : null);
    }

    /// <summary>
    /// Fetches a converted model's sources (sha256-checked) and returns the path of the converted
    /// graph, converting again whenever the file in place does not match the manifest's sha256.
    /// </summary>
    public string FetchConverted(ConvertedModelEntry entry)
    {
        var sources = entry.Sources.Select(s => FetchFile(entry.Name, s.File, s.Url, s.ArchiveMember, s.Sha256)).ToList();
        string dst = Path.Combine(_dest, entry.File);
        if (File.Exists(dst) && Sha256Of(dst) == entry.Sha256) return dst;
        _log(File.Exists(dst)
            ? $"model {entry.Name}: {entry.File} does not match its sha256 in the models manifest; converting again"
            : $"model {entry.Name}: converting {entry.Sources[0].File} to {entry.File}");
        byte[] graph = entry.Converter switch
        {
            "face-api-age-gender" => AgeGenderNetConverter.Convert(sources.First(p => p.EndsWith(".json", StringComparison.Ordinal))),
            _ => throw new EphemeraException($"model {entry.Name}: converter '{entry.Converter}' is unknown"),
        };
        string actual = Convert.ToHexStringLower(SHA256.HashData(graph));
        if (actual != entry.Sha256)
            throw new EphemeraException($"model {entry.Name}: the converted graph has sha256 {actual}, the models manifest expects {entry.Sha256} " +
                                        "(the converter changed: update its sha256 after checking the new graph, e.g. with the parity test)");
        File.WriteAllBytes(dst + ".part", graph);
        File.Move(dst + ".part", dst, overwrite: true);
        return dst;
    }

    /// <summary>Puts one sha256-checked file at <c>dest/file</c> (from the mirror, else downloaded) and returns its path.</summary>
    private string FetchFile(string model, string file, string url, string? archiveMember, string sha256)
    {
        string dst = Path.Combine(_dest, file);
        Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
        if (File.Exists(dst) && Sha256Of(dst) == sha256) return dst;
        string mirrored = Path.Combine(_mirror, file);
        string tmp = dst + ".part";
        if (File.Exists(mirrored))
        {
            _log($"model {model}: copying from mirror {mirrored}");
            File.Copy(mirrored, tmp, overwrite: true);
        }
        else
        {
            _log($"model {model}: no mirror copy at {mirrored}; downloading {url}");
            Download(model, file, url, archiveMember, tmp);
        }
        string actual = Sha256Of(tmp);
        if (actual != sha256)
        {
            File.Delete(tmp);
            throw new EphemeraException($"model {model}: sha256 mismatch for {file}: expected {sha256}, actual {actual}");
        }
        File.Move(tmp, dst, overwrite: true);
        return dst;
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

    private static void Download(string model, string file, string url, string? archiveMember, string tmp)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        byte[] body;
        try { body = http.GetByteArrayAsync(url).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new EphemeraException($"model {model}: download of {url} failed ({e.Message}); set EPHEMERA_MODEL_MIRROR to a directory holding {file}", e);
        }
        if (archiveMember is null) { File.WriteAllBytes(tmp, body); return; }
        using var gz = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        while (tar.GetNextEntry() is { } te)
        {
            if (te.Name != archiveMember || te.DataStream is null) continue;
            using var f = File.Create(tmp);
            te.DataStream.CopyTo(f);
            return;
        }
        throw new EphemeraException($"model {model}: {url} has no member {archiveMember}");
    }

    public static string Sha256Of(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }
}
