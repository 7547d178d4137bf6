using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>One thing wrong with a manifest: the requirement it breaks, the field path and where in the file.</summary>
public sealed record ManifestProblem(string RequirementId, string Path, string Message, int Line, int Column)
{
    /// <summary>"AC5: retention missing for data class Count (outputs[2].retention)".</summary>
    public override string ToString() => $"{RequirementId}: {Message} ({Path})";
}

/// <summary>A manifest that cannot run a camera; lists every problem found, not just the first.</summary>
public sealed class ManifestValidationException : EphemeraException
{
    public string SourcePath { get; }
    public IReadOnlyList<ManifestProblem> Problems { get; }

    public ManifestValidationException(string sourcePath, IReadOnlyList<ManifestProblem> problems)
        : base(Describe(sourcePath, problems))
    {
        SourcePath = sourcePath;
        Problems = problems;
    }

    private static string Describe(string source, IReadOnlyList<ManifestProblem> problems) =>
        $"manifest {source} has {problems.Count} problem(s):\n" +
        string.Join("\n", problems.Select(p => $"  {p}" + (p.Line > 0 ? $" [{source}:{p.Line}:{p.Column}]" : "")));
}
