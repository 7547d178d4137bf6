using System.Globalization;
using Ephemera.Core;

namespace Ephemera.Cli;

/// <summary>
/// Minimal GNU-style option parser: <c>--name value</c>, <c>--name=value</c>, repeated options and
/// flags. Unknown options are an error (exit 2) so typos never silently change a benchmark.
/// </summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    public List<string> Positional { get; } = new();

    /// <param name="valueOptions">options that take a value, without dashes</param>
    /// <param name="flagOptions">options without a value</param>
    public CliArgs(string[] args, IEnumerable<string> valueOptions, IEnumerable<string> flagOptions)
    {
        var takesValue = new HashSet<string>(valueOptions);
        var isFlag = new HashSet<string>(flagOptions) { "help", "h" };
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a.StartsWith("--", StringComparison.Ordinal) || (a.Length == 2 && a[0] == '-' && char.IsLetter(a[1])))
            {
                string name = a.TrimStart('-');
                string? inline = null;
                int eq = name.IndexOf('=');
                if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
                if (isFlag.Contains(name)) { _flags.Add(name); continue; }
                if (!takesValue.Contains(name)) throw new UsageException($"unknown option --{name}");
                string value = inline ?? (i + 1 < args.Length ? args[++i] : throw new UsageException($"--{name} needs a value"));
                if (!_values.TryGetValue(name, out var list)) _values[name] = list = new List<string>();
                list.Add(value);
            }
            else Positional.Add(a);
        }
    }

    public bool Help => _flags.Contains("help") || _flags.Contains("h");
    public bool Flag(string name) => _flags.Contains(name);
    public string? Get(string name) => _values.TryGetValue(name, out var l) ? l[^1] : null;
    public IReadOnlyList<string> All(string name) => _values.TryGetValue(name, out var l) ? l : Array.Empty<string>();
    public string Require(string name) => Get(name) ?? throw new UsageException($"--{name} is required");

    public int GetInt(string name, int fallback) => Get(name) is { } s
        ? int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new UsageException($"--{name}: '{s}' is not an integer")
        : fallback;

    public double GetDouble(string name, double fallback) => Get(name) is { } s
        ? double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new UsageException($"--{name}: '{s}' is not a number")
        : fallback;
}

/// <summary>Bad usage: the CLI prints the message and the verb's usage, exit code 2.</summary>
public sealed class UsageException(string message) : EphemeraException(message);
