using System.Text;

namespace Ephemera.TestSupport;

/// <summary>
/// Seeded mutations of real YAML files, for property tests of the parsers users feed by hand: byte
/// flips to YAML's special characters, deleted spans, duplicated lines, truncation and unbalanced
/// brackets. The same seed gives the same case, so a failure names a case that can be replayed.
/// </summary>
public static class YamlMutator
{
    private const string Special = "[]{}:-'\"#&*!|>%@`,? \t\n\\\u00e9\u3042\0";

    public static string Mutate(string text, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder(text);
        int edits = 1 + rng.Next(3);
        for (int e = 0; e < edits && sb.Length > 0; e++)
        {
            int at = rng.Next(sb.Length);
            switch (rng.Next(6))
            {
                case 0: sb[at] = Special[rng.Next(Special.Length)]; break;
                case 1: sb.Remove(at, Math.Min(sb.Length - at, 1 + rng.Next(40))); break;
                case 2: sb.Insert(at, rng.Next(2) == 0 ? "[" : "{"); break;
                case 3: sb.Length = at; break;
                case 4:
                {
                    var lines = sb.ToString().Split('\n').ToList();
                    int i = rng.Next(lines.Count);
                    lines.Insert(i, lines[i]);
                    sb.Clear().Append(string.Join('\n', lines));
                    break;
                }
                default: sb.Insert(at, (char)rng.Next(32, 127)); break;
            }
        }
        return sb.ToString();
    }
}
