using System.Globalization;

namespace Ephemera.Core;

/// <summary>
/// The comment line <c>ephemera detect --mot</c> writes first in a MOTChallenge detection file:
/// <c># ephemera-detect model=NAME every=N</c>. MOTChallenge readers skip <c>#</c> lines; <c>ephemera
/// track</c> reads it to apply the detector's tracking profile from the model manifest and to know
/// which frames the detector ran on (a frame of a file detected every N-th frame that has no rows
/// was not looked at, rather than empty).
/// </summary>
public sealed record DetectionsHeader(string Model, int Every)
{
    private const string Tag = "# ephemera-detect";

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Tag} model={Model} every={Every}");

    /// <summary>The header of <paramref name="path"/>, or null when its first line is not one (any other MOTChallenge file).</summary>
    public static DetectionsHeader? TryRead(string path)
    {
        if (!File.Exists(path)) throw new EphemeraException($"{path}: file not found");
        string? first;
        using (var reader = new StreamReader(path)) first = reader.ReadLine();
        if (first == null || !first.StartsWith(Tag + " ", StringComparison.Ordinal)) return null;
        string? model = null; int every = 1;
        foreach (var field in first[Tag.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = field.IndexOf('=');
            if (eq <= 0) throw new EphemeraException($"{path}:1: expected key=value in the ephemera-detect header, got '{field}'");
            string key = field[..eq], value = field[(eq + 1)..];
            switch (key)
            {
                case "model": model = value; break;
                case "every":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out every) || every < 1)
                        throw new EphemeraException($"{path}:1: every must be a whole number ≥ 1, got '{value}'");
                    break;
                // Other keys (input size, tiles) are for the reader's information.
            }
        }
        return string.IsNullOrEmpty(model) ? throw new EphemeraException($"{path}:1: the ephemera-detect header names no model") : new DetectionsHeader(model, every);
    }
}
