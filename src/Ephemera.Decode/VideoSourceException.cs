using Ephemera.Core;

namespace Ephemera.Decode;

/// <summary>
/// A video source could not be opened or decoded (missing file, corrupt data, unreachable camera,
/// reconnects exhausted). The message names the source and the cause, e.g.
/// <c>clip.avi: Invalid data found when processing input</c>. User-fixable, hence an
/// <see cref="EphemeraException"/>.
/// </summary>
public sealed class VideoSourceException : EphemeraException
{
    /// <summary>The native failure kind: InvalidArgument, OpenFailed, DecodeFailed or GaveUp.</summary>
    public string Kind { get; }

    public VideoSourceException(string kind, string message) : base(message) => Kind = kind;
}
