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
          fetch   copy each model (default: all) from EPHEMERA_MODEL_MIRROR (default ../shared/models)
                  or download it from its public URL into var/models, check its sha256, and derive
                  the dynamic-batch graph for YOLOX models; converted models (age_gender_net) are
                  converted from their sha256-checked sources; prints {"fetched":[...],"dir":...}
                  (--quiet: nothing on stdout; the launcher runs this before every verb)
          list    the catalogue (models/models.yaml) as JSON on stdout
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, [], ["verbose", "quiet"]);
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
            default:
                throw new UsageException($"unknown subcommand '{a.Positional[0]}' (fetch or list)");
        }
    }
}
