namespace Ephemera.Core;

/// <summary>
/// Bad input or a failed precondition that the user can fix: a corrupt video, a malformed manifest,
/// a model file with the wrong hash. The message names the cause (file, key, expected vs actual).
/// The CLI turns it into exit code 2 and one line on stderr, never a stack trace.
/// </summary>
public class EphemeraException : Exception
{
    public EphemeraException(string message) : base(message) { }
    public EphemeraException(string message, Exception inner) : base(message, inner) { }
}
