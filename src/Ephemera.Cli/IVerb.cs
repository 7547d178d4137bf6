namespace Ephemera.Cli;

/// <summary>
/// One CLI verb (<c>./ephemera NAME …</c>). Verbs are discovered by reflection, so adding a verb is
/// adding one class. Contract (DESIGN.md "Interfaces"): human text on stderr, the machine result on
/// stdout, <c>--help</c> on every verb, exit 0 on success and 2 on bad usage or bad input.
/// </summary>
public interface IVerb
{
    /// <summary>The verb as typed, e.g. "run" or "audit".</summary>
    string Name { get; }
    /// <summary>One line for the top-level help.</summary>
    string Summary { get; }
    /// <summary>Full usage text printed by <c>--help</c>.</summary>
    string Usage { get; }
    /// <summary>Runs the verb with the arguments after its name; returns the exit code.</summary>
    int Run(string[] args);
}
