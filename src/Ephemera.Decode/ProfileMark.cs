using Ephemera.Decode.Interop;

namespace Ephemera.Decode;

/// <summary>
/// Named points between the phases of a profiling run. Each is a call into the native core that does
/// nothing, so <c>valgrind --tool=callgrind --dump-before=eph_profile_mark</c> cuts the run into one
/// profile per phase (see <c>bench/callgrind</c>). Costs one native call; never call it per frame.
/// </summary>
public static class ProfileMark
{
    /// <summary>Marks the start of the phase named <paramref name="phase"/> (the label is for the reader).</summary>
    public static void At(string phase) => NativeMethods.eph_profile_mark(phase);
}
