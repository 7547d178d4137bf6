namespace Ephemera.Cluster;

/// <summary>
/// Tells the record stream's message kinds apart without parsing: icon and trajectory parts serialise
/// their <c>kind</c> first (a bin part has none), so its marker sits in the message's first bytes.
/// </summary>
internal static class PartKind
{
    /// <summary>How far into a message <c>"kind":"…"</c> may start (after the opening brace).</summary>
    private const int Window = 48;

    /// <summary>True when <paramref name="utf8"/> is a message of the kind whose marker is <paramref name="marker"/> (<c>"kind":"NAME"</c>).</summary>
    public static bool Is(ReadOnlySpan<byte> utf8, ReadOnlySpan<byte> marker) =>
        utf8.Length > marker.Length && utf8[..Math.Min(utf8.Length, Window)].IndexOf(marker) >= 0;
}
