using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Ephemera.Core;
using Ephemera.Inference.Onnx;

namespace Ephemera.Inference.Models;

/// <summary>Where a fetched model lives: the checked original and, for YOLOX graphs, the dynamic-batch variant.</summary>
public sealed record ModelFiles(ModelEntry Entry, string OriginalPath, string? BatchVariantPath)
{
    /// <summary>The derived int8 QDQ graph (dynamic batch and size), for entries whose manifest has <c>int8:</c>.</summary>
    public string? Int8Path { get; init; }
}

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
        string? variant = entry.HasBatchVariant ? EnsureBatchVariant(entry, dst) : null;
        return new ModelFiles(entry, dst, variant) { Int8Path = entry.Int8 != null && variant != null ? EnsureInt8(entry, variant) : null };
    }

    /// <summary>
    /// The int8 graph: quantised from the (checked) dynamic-batch graph with the committed calibration
    /// table, and checked against <c>int8.sha256</c> like the other derived graphs.
    /// </summary>
    private string EnsureInt8(ModelEntry entry, string dynamicBatchGraph)
    {
        var spec = entry.Int8!;
        string path = Path.Combine(_dest, entry.Int8File);
        if (File.Exists(path) && Sha256Of(path) == spec.Sha256) return path;
        _log(File.Exists(path)
            ? $"model {entry.Name}: {entry.Int8File} does not match its sha256 in the models manifest; quantising again"
            : $"model {entry.Name}: quantising the int8 graph {entry.Int8File} ({spec.Calibration})");
        byte[] graph = DeriveInt8(entry, File.ReadAllBytes(dynamicBatchGraph));
        string actual = Convert.ToHexStringLower(SHA256.HashData(graph));
        if (actual != spec.Sha256)
            throw new EphemeraException($"model {entry.Name}: the quantised int8 graph has sha256 {actual}, the models manifest expects {spec.Sha256} " +
                                        "(the quantiser or the calibration table changed: update int8.sha256 after the int8 parity test passes)");
        File.WriteAllBytes(path + ".part", graph);
        File.Move(path + ".part", path, overwrite: true);
        return path;
    }

    /// <summary>Quantises a dynamic-batch graph with the entry's calibration table and options (deterministic).</summary>
    public static byte[] DeriveInt8(ModelEntry entry, byte[] dynamicBatchGraph)
    {
        var spec = entry.Int8 ?? throw new EphemeraException($"model {entry.Name}: the models manifest has no int8 entry");
        string what = $"model {entry.Name} int8 calibration {spec.Calibration}";
        var table = CalibrationTable.Parse(ReadCalibration(spec.Calibration, what), what);
        return QdqQuantizer.Quantize(dynamicBatchGraph, table, QdqOptions.Parse(spec.KeepFloat, what), $"model {entry.Name}");
    }

    /// <summary>A calibration table under <c>models/</c>: the repository's, else beside the assemblies, else embedded.</summary>
    private static string ReadCalibration(string relative, string what)
    {
        foreach (var dir in new[] { Path.Combine(RepoPaths.Root, "models"), Path.Combine(AppContext.BaseDirectory, "models") })
        {
            string p = Path.Combine(dir, relative);
            if (File.Exists(p)) return File.ReadAllText(p);
        }
        using var s = typeof(ModelFetcher).Assembly.GetManifestResourceStream("Ephemera.Inference.calibration." + Path.GetFileName(relative))
            ?? throw new EphemeraException($"{what}: file not found under models/");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
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
