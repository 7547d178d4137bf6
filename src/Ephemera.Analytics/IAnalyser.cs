using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>
/// One purpose analyser of one camera, fed once per frame with the tracker's output. Not thread-safe:
/// one instance per camera, driven by that camera's pipeline thread.
/// </summary>
public interface ITrackAnalyser
{
    /// <summary>
    /// Consumes one frame. <paramref name="tracks"/> are the tracker's current tracks (any state),
    /// <paramref name="removedIds"/> the ids the tracker removed since the previous call (their
    /// per-track state is evicted), <paramref name="timeSeconds"/> the frame time (non-decreasing).
    /// No managed allocation in steady state.
    /// </summary>
    void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double timeSeconds);

    /// <summary>Number of tracks whose state the analyser holds (0 after every track was removed).</summary>
    int TrackStateCount { get; }
}

/// <summary>Which tracker outputs the analytics use.</summary>
public static class TrackGate
{
    /// <summary>
    /// Only confirmed tracks take part: tentative tracks never (they are often false positives),
    /// lost tracks never (their box is a Kalman prediction that drifts), and confirmed-but-predicted
    /// boxes (<see cref="TrackedObject.Observed"/> false) only when <paramref name="usePredicted"/>.
    /// A track skipped for some frames resumes from its last used position, so a crossing made
    /// while lost is still counted when the track is matched again on the other side.
    /// </summary>
    public static bool Uses(in TrackedObject t, bool usePredicted) =>
        t.State == TrackState.Confirmed && (t.Observed || usePredicted);

    /// <summary><see cref="Uses(in TrackedObject, bool)"/> and the track's class is one of <paramref name="classIds"/>.</summary>
    public static bool Uses(in TrackedObject t, bool usePredicted, int[] classIds) =>
        Uses(t, usePredicted) && Array.IndexOf(classIds, t.ClassId) >= 0;

    internal static int[] ValidateClasses(IEnumerable<int>? classIds, string what)
    {
        var ids = classIds?.ToArray() ?? [Ephemera.Core.CocoClasses.Person];
        if (ids.Length == 0) throw new Ephemera.Core.EphemeraException($"{what}: class list must not be empty");
        foreach (var c in ids)
            if (c < 0 || c >= Ephemera.Core.CocoClasses.Names.Length) throw new Ephemera.Core.EphemeraException($"{what}: {c} is not a COCO class id (0..79)");
        return ids;
    }
}
