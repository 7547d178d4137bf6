using System.Text.Json;
using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Cli;

/// <summary><c>./ephemera manifest check FILE…</c>: validates manifests and reports every problem of each.</summary>
public sealed class ManifestVerb : IVerb
{
    public string Name => "manifest";
    public string Summary => "validate camera manifests: every problem with field path and requirement id";
    public string Usage => """
        usage: ephemera manifest check FILE [FILE…]
        Exit 0 when every manifest is valid, 2 otherwise. stdout: one JSON object with a result per file
        (valid, camera_id, version_hash, problems, can_start_now, start_refusals).
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, [], []);
        if (a.Positional.Count < 2 || a.Positional[0] != "check") throw new UsageException("expected: manifest check FILE [FILE…]");
        var results = new List<object>();
        bool allValid = true;
        foreach (var file in a.Positional.Skip(1))
        {
            try
            {
                var m = ManifestLoader.Load(file);
                var gate = ManifestGate.CanStart(m, DateTimeOffset.UtcNow);
                Console.Error.WriteLine($"{file}: valid — camera {m.CameraId} v{m.Version} ({m.VersionHash[..12]}); start now: {gate}");
                results.Add(new { file, valid = true, camera_id = m.CameraId, version = m.Version, version_hash = m.VersionHash, problems = Array.Empty<object>(), can_start_now = gate.Allowed, start_refusals = gate.Reasons });
            }
            catch (ManifestValidationException e)
            {
                allValid = false;
                Console.Error.WriteLine(e.Message);
                results.Add(new { file, valid = false, problems = e.Problems.Select(p => new { requirement = p.RequirementId, path = p.Path, message = p.Message, line = p.Line, column = p.Column }).ToArray() });
            }
            catch (EphemeraException e)
            {
                allValid = false;
                Console.Error.WriteLine(e.Message);
                results.Add(new { file, valid = false, problems = new[] { new { requirement = "YAML", path = "", message = e.Message, line = 0, column = 0 } } });
            }
        }
        Console.OutputEncoding = System.Text.Encoding.UTF8;
        Console.WriteLine(JsonSerializer.Serialize(new { valid = allValid, manifests = results }, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        return allValid ? 0 : 2;
    }
}
