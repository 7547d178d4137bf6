using System.Text.Json;
using Ephemera.Core;
using Ephemera.Inference.Models;

namespace Ephemera.Cli.Verbs;

/// <summary>
/// <c>./ephemera models fetch [NAME…]</c> puts sha256-checked model files in var/models (from the
/// mirror, else the public URL) and derives the dynamic-batch YOLOX graphs; quiet when all is in
/// place (the launcher runs it before every verb). <c>./ephemera models list</c> prints the catalogue as JSON.
/// </summary>
public sealed class ModelsVerb : IVerb
{
    public string Name => "models";
    public string Summary => "fetch (sha256-checked) or list the models";
    public string Usage => """
        usage: ephemera models fetch [NAME ...] [--verbose] [--quiet]
               ephemera models list
               ephemera models calibrate [NAME] [--every N] [--per-clip N] [--percentile P] [--keep-float none|first|last|first+last] [--out FILE]
          fetch   copy each model (default: all) from EPHEMERA_MODEL_MIRROR (default ../shared/models)
                  or download it from its public URL into var/models, check its sha256, and derive
                  the dynamic-batch graph for YOLOX models; converted models (age_gender_net) are
                  converted from their sha256-checked sources; prints {"fetched":[...],"dir":...}
                  (--quiet: nothing on stdout; the launcher runs this before every verb)
          list    the catalogue (models/models.yaml) as JSON on stdout
          calibrate  (developers) run the fp32 dynamic-batch graph of NAME (default: the default model)
                  over every Nth frame from N/2 on (default 10: frames 5, 15, …, at most --per-clip,
                  default 30) of the shared clips (vtest.avi, traffic, car, one-by-one; not
                  ADL-Rundle-6, which the int8 parity test judges), write the activation ranges (min/max, or
                  --percentile P) to models/calibration/NAME.int8.tsv (or --out), quantise, and print
                  the int8 graph's sha256 for int8.sha256 in models/models.yaml
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["every", "per-clip", "percentile", "keep-float", "out"], ["verbose", "quiet"]);
        if (a.Positional.Count == 0) throw new UsageException("say fetch or list");
        var catalog = ModelCatalog.Load();
        switch (a.Positional[0])
        {
            case "list":
                var list = catalog.Models.Select(m => new
                {
                    name = m.Name, file = m.File, url = m.Url, archive_member = m.ArchiveMember, sha256 = m.Sha256, licence = m.Licence,
                    input = new
                    {
                        tensor = m.Input.Tensor, layout = "NCHW", width = m.Input.Width, height = m.Input.Height,
                        colour = m.Input.Rgb ? "RGB" : "BGR", mean = m.Input.Mean, std = m.Input.Std,
                        resize = m.Input.Resize.ToString().ToLowerInvariant(), pad = m.Input.Pad, dynamic_size = m.Input.DynamicSize,
                    },
                    output = new { decoder = m.Output.Decoder.ToString().ToLowerInvariant(), tensors = m.Output.Tensors, batch_reshape_channels = m.Output.BatchReshapeChannels },
                    classes = m.Classes,
                    @default = m.Name == catalog.DefaultModel,
                }).Cast<object>().Concat(catalog.Converted.Select(c => new
                {
                    name = c.Name, file = c.File, sha256 = c.Sha256, licence = c.Licence, converter = c.Converter,
                    sources = c.Sources.Select(s => new { file = s.File, url = s.Url, archive_member = s.ArchiveMember, sha256 = s.Sha256 }),
                }));
                Console.WriteLine(JsonSerializer.Serialize(list));
                return 0;
            case "fetch":
                var names = a.Positional.Count > 1 ? a.Positional.Skip(1).ToList()
                    : catalog.Models.Select(m => m.Name).Concat(catalog.Converted.Select(c => c.Name)).ToList();
                var fetcher = new ModelFetcher(log: a.Flag("verbose") ? s => Console.Error.WriteLine(s) : s => Console.Error.WriteLine("ephemera: " + s));
                foreach (var n in names)
                {
                    // Converted models (converted:) are fetched from their sources and converted here.
                    if (catalog.Converted.FirstOrDefault(c => c.Name == n) is { } conv) fetcher.FetchConverted(conv);
                    else fetcher.Fetch(catalog.Get(n));
                }
                if (a.Flag("verbose")) Console.Error.WriteLine($"{names.Count} model(s) in place in {fetcher.ModelsDirectory}");
                if (!a.Flag("quiet")) Console.WriteLine(JsonSerializer.Serialize(new { fetched = names, dir = fetcher.ModelsDirectory }));
                return 0;
            case "calibrate":
                return Calibrate(catalog.Get(a.Positional.Count > 1 ? a.Positional[1] : catalog.DefaultModel), a);
            default:
                throw new UsageException($"unknown subcommand '{a.Positional[0]}' (fetch, list or calibrate)");
        }
    }

    private static readonly string[] CalibrationClips =
        ["video/vtest.avi", "video/traffic_640x360.mp4", "video/car-detection.mp4", "video/one-by-one-person-detection.mp4"];

    private static int Calibrate(ModelEntry entry, CliArgs a)
    {
        int every = a.GetInt("every", 10), perClip = a.GetInt("per-clip", 30);
        double percentile = a.GetDouble("percentile", 100);
        if (every < 1 || perClip < 1) throw new UsageException("--every and --per-clip must be >= 1");
        if (!(percentile > 50 && percentile <= 100)) throw new UsageException($"--percentile must be in (50, 100], got {percentile}");
        string keep = a.Get("keep-float") ?? entry.Int8?.KeepFloat ?? "last";
        var options = Ephemera.Inference.Onnx.QdqOptions.Parse(keep, "--keep-float");
        if (!entry.HasBatchVariant) throw new EphemeraException($"model {entry.Name}: int8 is derived from the dynamic-batch graph, which this model has not");
        var fetcher = new ModelFetcher(log: s => Console.Error.WriteLine("ephemera: " + s));
        // Fetch without the int8 check: the table being written is what the new sha256 will follow from.
        var files = fetcher.Fetch(entry with { Int8 = null });
        byte[] graph = File.ReadAllBytes(files.BatchVariantPath!);
        var clips = CalibrationClips.Select(RepoPaths.Data).ToArray();
        foreach (var c in clips) if (!File.Exists(c)) throw new EphemeraException($"calibration clip not found: {c}");
        using var calibrator = new Ephemera.Inference.Onnx.ActivationCalibrator(graph, options, entry.Input, entry.Input.Width, entry.Input.Height,
            perClip * clips.Length, $"model {entry.Name}");
        int frames = calibrator.AddClips(clips, every, perClip);
        var table = calibrator.Compute(percentile);
        string relative = entry.Int8?.Calibration ?? $"calibration/{entry.Name}.int8.tsv";
        string outPath = a.Get("out") ?? Path.Combine(RepoPaths.Root, "models", relative);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        string method = percentile >= 100 ? "min/max" : $"percentile {percentile.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        File.WriteAllText(outPath, table.Format(
            $"Activation ranges of {entry.Name} (dynamic-batch graph) for the int8 QDQ graph; written by `ephemera models calibrate`.\n" +
            $"{frames} frames at {entry.Input.Width}x{entry.Input.Height}: every {every}th, at most {perClip} per clip, of {string.Join(", ", CalibrationClips)}; {method}; keep_float {keep}.\n" +
            "tensor<TAB>min<TAB>max"));
        // Quantise from the file as written (what fetch will read), not from the in-memory table.
        var written = Ephemera.Inference.Onnx.CalibrationTable.Parse(File.ReadAllText(outPath), outPath);
        byte[] quantised = Ephemera.Inference.Onnx.QdqQuantizer.Quantize(graph, written, options, $"model {entry.Name}");
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(quantised));
        Console.Error.WriteLine($"ephemera: {table.Ranges.Count} activation ranges from {frames} frames ({method}) -> {outPath}");
        Console.WriteLine(JsonSerializer.Serialize(new { model = entry.Name, calibration = relative, keep_float = keep, frames, method, sha256 = sha }));
        return 0;
    }
}
