using System.Reflection;
using Ephemera.Core;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Ephemera.Inference.Models;

/// <summary>How the frame is fitted into the input tensor.</summary>
public enum ResizeRule
{
    /// <summary>Scale r = min(H/h, W/w), image at the top-left, the rest padded.</summary>
    Letterbox,
    /// <summary>Plain resize to W×H; aspect not kept.</summary>
    Stretch,
}

/// <summary>Which postprocessing turns the model's outputs into boxes.</summary>
public enum DecoderKind { Yolox, YuNet, UltraFace, DbText }

/// <summary>The input tensor contract of one model (validated on load).</summary>
public sealed record InputContract(
    string Tensor, int Width, int Height, bool Rgb, float[] Mean, float[] Std, ResizeRule Resize, float Pad, bool DynamicSize);

/// <summary>The output contract: decoder kind, output tensor names, and the batch-reshape channel count for YOLOX.</summary>
public sealed record OutputContract(DecoderKind Decoder, string[] Tensors, int BatchReshapeChannels);

/// <summary>One entry of <c>models/models.yaml</c>.</summary>
public sealed record ModelEntry(
    string Name, string File, string Url, string? ArchiveMember, string Sha256, string Licence,
    InputContract Input, OutputContract Output, string[] Classes)
{
    /// <summary>Whether fetch derives a dynamic-batch variant (YOLOX graphs exported with batch 1).</summary>
    public bool HasBatchVariant => Output.BatchReshapeChannels > 0;
    /// <summary>File name of the derived dynamic-batch graph beside the original.</summary>
    public string BatchVariantFile => Path.GetFileNameWithoutExtension(File) + ".dynbatch.onnx";
    /// <summary>
    /// How this detector's classes map to the case-3 count categories (<c>count_categories</c> and
    /// <c>count_categories_with_evidence</c>); for a <c>coco80</c> model without them,
    /// <see cref="CountCategories.Coco"/>; null for a model whose classes are not counted.
    /// </summary>
    public CountCategories? CountCategories { get; init; }
    /// <summary>How a tracker should treat this detector's boxes (<c>tracking:</c>); null = the tracker's defaults.</summary>
    public DetectorTrackingProfile? Tracking { get; init; }
    /// <summary>Expected sha256 of the derived dynamic-batch graph (<c>output.batch_variant_sha256</c>): the derivation is deterministic, so a graph that differs was tampered with or derived by other code.</summary>
    public string? BatchVariantSha256 { get; init; }
    /// <summary>The int8 QDQ graph derived from the dynamic-batch graph (<c>int8:</c>), when the manifest has one.</summary>
    public Int8Variant? Int8 { get; init; }
    /// <summary>File name of the derived int8 graph beside the original.</summary>
    public string Int8File => Path.GetFileNameWithoutExtension(File) + ".int8.onnx";
}

/// <summary>
/// <c>int8:</c> of a manifest entry: the committed calibration table (path under <c>models/</c>), which
/// layers stay fp32 (none, first, last, first+last) and the sha256 of the derived QDQ graph — the
/// quantiser is pure arithmetic on the dynamic-batch graph and the table, so the hash is the same on
/// every machine and is checked on every load.
/// </summary>
public sealed record Int8Variant(string Calibration, string KeepFloat, string Sha256);

/// <summary>One source file of a converted model: where it lies in the mirror, its public URL (or archive member) and sha256.</summary>
public sealed record SourceFile(string File, string Url, string? ArchiveMember, string Sha256);

/// <summary>
/// One entry of <c>converted:</c> in <c>models/models.yaml</c>: a graph the project converts itself
/// from another framework's weights. The sources are fetched and sha256-checked like any model; the
/// converter's output is deterministic, so <see cref="Sha256"/> (the converted graph's hash) follows
/// from the sources' hashes and is checked on every load.
/// </summary>
public sealed record ConvertedModelEntry(string Name, string File, string Converter, string Sha256, string Licence, IReadOnlyList<SourceFile> Sources)
{
    /// <summary>The converters the engine has (<c>converter:</c> values).</summary>
    public static readonly string[] KnownConverters = ["face-api-age-gender"];
}

/// <summary>
/// The model catalogue: <c>models/models.yaml</c> in the repository, else the copy embedded in this
/// assembly. Every field is checked on load; a bad entry names the model and the key.
/// </summary>
public sealed class ModelCatalog
{
    public string DefaultModel { get; }
    public IReadOnlyList<ModelEntry> Models { get; }
    /// <summary>Graphs converted by the project from other frameworks' weights (<c>converted:</c>).</summary>
    public IReadOnlyList<ConvertedModelEntry> Converted { get; }
    public string Source { get; }

    private ModelCatalog(string defaultModel, IReadOnlyList<ModelEntry> models, IReadOnlyList<ConvertedModelEntry> converted, string source)
    {
        DefaultModel = defaultModel; Models = models; Converted = converted; Source = source;
    }

    /// <summary>
    /// The repository's manifest when present, else <c>models/models.yaml</c> beside the engine's
    /// assemblies (where the NuGet package puts it in a host's output), else the embedded one.
    /// </summary>
    public static ModelCatalog Load()
    {
        string path = Path.Combine(RepoPaths.Root, "models", "models.yaml");
        if (System.IO.File.Exists(path)) return Parse(System.IO.File.ReadAllText(path), path);
        string beside = Path.Combine(AppContext.BaseDirectory, "models", "models.yaml");
        if (System.IO.File.Exists(beside)) return Parse(System.IO.File.ReadAllText(beside), beside);
        using var s = typeof(ModelCatalog).Assembly.GetManifestResourceStream("Ephemera.Inference.models.yaml")
            ?? throw new InvalidOperationException("embedded models.yaml missing");
        using var r = new StreamReader(s);
        return Parse(r.ReadToEnd(), "embedded models.yaml");
    }

    public ModelEntry Get(string name) =>
        Models.FirstOrDefault(m => m.Name == name)
        ?? throw new EphemeraException($"unknown model '{name}'; the catalogue ({Source}) has: {string.Join(", ", Models.Select(m => m.Name))}");

    /// <summary>A converted model by name; unknown names list what the catalogue has.</summary>
    public ConvertedModelEntry GetConverted(string name) =>
        Converted.FirstOrDefault(m => m.Name == name)
        ?? throw new EphemeraException($"unknown converted model '{name}'; the catalogue ({Source}) has: {string.Join(", ", Converted.Select(m => m.Name))}");

    public static ModelCatalog Parse(string yaml, string source)
    {
        RawCatalog raw;
        try
        {
            raw = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build().Deserialize<RawCatalog>(yaml)
                  ?? throw new EphemeraException($"{source}: empty model catalogue");
        }
        catch (YamlException e)
        {
            throw new EphemeraException($"{source}: invalid YAML at line {e.Start.Line}: {e.Message}", e);
        }
        if (raw.Models is not { Count: > 0 }) throw new EphemeraException($"{source}: 'models' is empty");
        var entries = raw.Models.Select(m => Validate(m, source)).ToList();
        var dupe = entries.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (dupe != null) throw new EphemeraException($"{source}: model '{dupe.Key}' is listed twice");
        string def = raw.Default ?? entries[0].Name;
        if (entries.All(e => e.Name != def)) throw new EphemeraException($"{source}: default model '{def}' is not in the catalogue");
        var converted = (raw.Converted ?? []).Select(c => ValidateConverted(c, source)).ToList();
        var clash = converted.Select(c => c.Name).FirstOrDefault(n => entries.Any(e => e.Name == n) || converted.Count(c => c.Name == n) > 1);
        if (clash != null) throw new EphemeraException($"{source}: model '{clash}' is listed twice");
        return new ModelCatalog(def, entries, converted, source);
    }

    private static string Hash(string? v, string source, string name, string key)
    {
        var sha = string.IsNullOrWhiteSpace(v) ? throw new EphemeraException($"{source}: model '{name}': '{key}' is missing") : v.ToLowerInvariant();
        return sha.Length == 64 && sha.All(Uri.IsHexDigit) ? sha : throw new EphemeraException($"{source}: model '{name}': {key} '{sha}' is not 64 hex digits");
    }

    private static ConvertedModelEntry ValidateConverted(RawConverted c, string source)
    {
        string name = c.Name ?? throw new EphemeraException($"{source}: a converted model entry has no 'name'");
        string Req(string? v, string key) => string.IsNullOrWhiteSpace(v) ? throw new EphemeraException($"{source}: model '{name}': '{key}' is missing") : v;
        string conv = Req(c.Converter, "converter");
        if (!ConvertedModelEntry.KnownConverters.Contains(conv))
            throw new EphemeraException($"{source}: model '{name}': converter '{conv}' is unknown (known: {string.Join(", ", ConvertedModelEntry.KnownConverters)})");
        if (c.Sources is not { Count: > 0 }) throw new EphemeraException($"{source}: model '{name}': 'sources' is empty");
        var sources = c.Sources.Select((s, i) => new SourceFile(Req(s.File, $"sources[{i}].file"), Req(s.Url, $"sources[{i}].url"), s.ArchiveMember,
            Hash(s.Sha256, source, name, $"sources[{i}].sha256"))).ToList();
        return new ConvertedModelEntry(name, Req(c.File, "file"), conv, Hash(c.Sha256, source, name, "sha256"), Req(c.Licence, "licence"), sources);
    }

    private static ModelEntry Validate(RawModel m, string source)
    {
        string name = m.Name ?? throw new EphemeraException($"{source}: a model entry has no 'name'");
        string Req(string? v, string key) => string.IsNullOrWhiteSpace(v) ? throw new EphemeraException($"{source}: model '{name}': '{key}' is missing") : v;
        var sha = Req(m.Sha256, "sha256").ToLowerInvariant();
        if (sha.Length != 64 || !sha.All(Uri.IsHexDigit)) throw new EphemeraException($"{source}: model '{name}': sha256 '{sha}' is not 64 hex digits");
        var i = m.Input ?? throw new EphemeraException($"{source}: model '{name}': 'input' is missing");
        var o = m.Output ?? throw new EphemeraException($"{source}: model '{name}': 'output' is missing");
        if (i.Layout != "NCHW") throw new EphemeraException($"{source}: model '{name}': input.layout '{i.Layout}' unsupported (only NCHW)");
        if (i.Width <= 0 || i.Height <= 0) throw new EphemeraException($"{source}: model '{name}': input width/height must be positive");
        bool rgb = i.Colour switch
        {
            "RGB" => true, "BGR" => false,
            _ => throw new EphemeraException($"{source}: model '{name}': input.colour '{i.Colour}' must be BGR or RGB"),
        };
        float[] Three(float[]? v, string key) => v is { Length: 3 } ? v : throw new EphemeraException($"{source}: model '{name}': input.{key} needs 3 values");
        var std = Three(i.Std, "std");
        if (std.Any(s => s <= 0)) throw new EphemeraException($"{source}: model '{name}': input.std must be positive");
        var resize = i.Resize switch
        {
            "letterbox" => ResizeRule.Letterbox, "stretch" => ResizeRule.Stretch,
            _ => throw new EphemeraException($"{source}: model '{name}': input.resize '{i.Resize}' must be letterbox or stretch"),
        };
        var decoder = o.Decoder switch
        {
            "yolox" => DecoderKind.Yolox, "yunet" => DecoderKind.YuNet, "ultraface" => DecoderKind.UltraFace, "db-text" => DecoderKind.DbText,
            _ => throw new EphemeraException($"{source}: model '{name}': output.decoder '{o.Decoder}' must be yolox, yunet, ultraface or db-text"),
        };
        string[] classes = m.Classes switch
        {
            string s when s == "coco80" => CocoClasses.Names,
            List<object> l when l.Count > 0 => l.Select(x => x.ToString()!).ToArray(),
            _ => throw new EphemeraException($"{source}: model '{name}': 'classes' must be coco80 or a list of names"),
        };
        string where = $"{source}: model '{name}'";
        CountCategories? categories = m.CountCategories is { Count: > 0 } cc
            ? new CountCategories(classes, ToLists(cc), m.CountCategoriesWithEvidence is { } ev ? ToLists(ev) : null, where)
            : m.CountCategoriesWithEvidence is { Count: > 0 } ? throw new EphemeraException($"{where}: count_categories_with_evidence needs count_categories")
            : m.Classes is string ? CountCategories.Coco : null;
        return new ModelEntry(name, Req(m.File, "file"), Req(m.Url, "url"), m.ArchiveMember, sha, Req(m.Licence, "licence"),
            new InputContract(Req(i.Tensor, "input.tensor"), i.Width, i.Height, rgb, Three(i.Mean, "mean"), std, resize, i.Pad, i.DynamicSize),
            new OutputContract(decoder, o.Tensors?.ToArray() ?? [], o.BatchReshapeChannels), classes)
        {
            CountCategories = categories,
            Tracking = m.Tracking is null ? null : new DetectorTrackingProfile(
                Noise(m.Tracking.MeasurementNoise, "tracking.measurement_noise", where), Noise(m.Tracking.SizeVelocityNoise, "tracking.size_velocity_noise", where)),
            BatchVariantSha256 = o.BatchReshapeChannels <= 0 ? null
                : o.BatchVariantSha256?.ToLowerInvariant() is { Length: 64 } v && v.All(Uri.IsHexDigit) ? v
                : throw new EphemeraException($"{source}: model '{name}': output.batch_variant_sha256 must be the 64-hex sha256 of the derived dynamic-batch graph"),
            Int8 = m.Int8 is not { } q ? null
                : o.BatchReshapeChannels <= 0 ? throw new EphemeraException($"{source}: model '{name}': int8 needs the dynamic-batch graph (output.batch_reshape_channels)")
                : new Int8Variant(Req(q.Calibration, "int8.calibration"),
                    ValidKeepFloat(q.KeepFloat ?? "last", $"{source}: model '{name}': int8"),
                    Hash(q.Sha256, source, name, "int8.sha256")),
        };
    }

    /// <summary>A tracking noise std (per unit of box size): absent, or in (0, 10) as TrackerOptions requires.</summary>
    private static double? Noise(double? v, string key, string where) => v is null or (> 0 and < 10) ? v
        : throw new EphemeraException($"{where}: {key} must be in (0, 10), got {v}");
    /// <summary>int8.keep_float as written, once the quantiser's own parser accepts it (one place decides what is valid).</summary>
    private static string ValidKeepFloat(string keepFloat, string what)
    {
        Onnx.QdqOptions.Parse(keepFloat, what);
        return keepFloat;
    }

    private static Dictionary<string, IReadOnlyList<string>> ToLists(Dictionary<string, List<string>> m) =>
        m.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)(kv.Value ?? []));

    // YAML shapes (mutable, for the deserializer only).
    private sealed class RawCatalog { public string? Default { get; set; } public List<RawModel>? Models { get; set; } public List<RawConverted>? Converted { get; set; } }
    private sealed class RawConverted
    {
        public string? Name { get; set; } public string? File { get; set; } public string? Converter { get; set; }
        public string? Sha256 { get; set; } public string? Licence { get; set; } public List<RawSource>? Sources { get; set; }
    }
    private sealed class RawSource { public string? File { get; set; } public string? Url { get; set; } public string? ArchiveMember { get; set; } public string? Sha256 { get; set; } }
    private sealed class RawModel
    {
        public string? Name { get; set; } public string? File { get; set; } public string? Url { get; set; }
        public string? ArchiveMember { get; set; } public string? Sha256 { get; set; } public string? Licence { get; set; }
        public RawInput? Input { get; set; } public RawOutput? Output { get; set; } public object? Classes { get; set; }
        public Dictionary<string, List<string>>? CountCategories { get; set; }
        public Dictionary<string, List<string>>? CountCategoriesWithEvidence { get; set; }
        public RawTracking? Tracking { get; set; }
        public RawInt8? Int8 { get; set; }
    }
    private sealed class RawTracking { public double? MeasurementNoise { get; set; } public double? SizeVelocityNoise { get; set; } }
    private sealed class RawInt8 { public string? Calibration { get; set; } public string? KeepFloat { get; set; } public string? Sha256 { get; set; } }
    private sealed class RawInput
    {
        public string? Tensor { get; set; } public string? Layout { get; set; } public int Width { get; set; } public int Height { get; set; }
        public string? Colour { get; set; } public float[]? Mean { get; set; } public float[]? Std { get; set; }
        public string? Resize { get; set; } public float Pad { get; set; } public bool DynamicSize { get; set; }
    }
    private sealed class RawOutput { public string? Decoder { get; set; } public List<string>? Tensors { get; set; } public int BatchReshapeChannels { get; set; } public string? BatchVariantSha256 { get; set; } }
}
