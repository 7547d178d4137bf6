using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;

namespace Ephemera.Runtime;

/// <summary>
/// One visit as the unicity gate sees it: its places (zone names) at the manifest's trajectory time
/// step, the manifest's trim cut off both ends (where a visit began and ended says most about who it
/// was), and the bin its first stay falls in. Time steps count from the Unix epoch, and
/// <see cref="FirstSeconds"/> and <see cref="LastSeconds"/> (where the raw visit began and ended) are Unix
/// seconds: not the engine's own epoch (its start's midnight), so on a media-time camera they are the
/// same whichever worker computed it, whenever it started.
/// </summary>
public sealed record CoarseVisit(DateTimeOffset BinStart, IReadOnlyList<string> Places, IReadOnlyList<long> Steps, double FirstSeconds, double LastSeconds)
{
    /// <summary>
    /// The coarsened visits of <paramref name="r"/> (the visits that ended since the last flush), when the
    /// manifest opts in to trajectories; empty otherwise. A visit the trim leaves empty is dropped.
    /// </summary>
    public static List<CoarseVisit> From(CameraManifest m, PurposeResults r, DateTimeOffset epochUtc)
    {
        var visits = new List<CoarseVisit>();
        if (r.Flow?.Trajectories is not { Count: > 0 } raw || !m.Privacy.StoreTrajectories || !m.Declares(DataClass.Trajectory)) return visits;
        double bin = m.Privacy.TimeBin.TotalSeconds, unix = epochUtc.ToUnixTimeSeconds();
        double step = (m.Privacy.TrajectoryTimeBin ?? m.Privacy.TimeBin).TotalSeconds, trim = (m.Privacy.TrajectoryTrim ?? TimeSpan.Zero).TotalSeconds;
        foreach (var v in raw)
        {
            double start = v.Stays[0].EnterSeconds + trim, end = v.Stays[^1].LastSeconds - trim;
            var kept = v.Stays.Where(st => st.EnterSeconds >= start && st.LastSeconds <= end).ToList();
            if (kept.Count == 0) continue;
            visits.Add(new CoarseVisit(epochUtc.AddSeconds(Math.Floor(v.Stays[0].EnterSeconds / bin) * bin),
                kept.Select(st => st.Place).ToList(), kept.Select(st => (long)Math.Floor((unix + st.EnterSeconds) / step)).ToList(),
                unix + v.Stays[0].EnterSeconds, unix + v.Stays[^1].LastSeconds));
        }
        return visits;
    }

    /// <summary>
    /// One bin's visits through <see cref="ReleaseGate.Trajectories"/> (places numbered in name order):
    /// the set, or null when the unicity gate refused it (<paramref name="gate"/> says why; nothing of it leaves).
    /// </summary>
    public static TrajectorySetRecord? Release(CameraManifest m, DateTimeOffset binStart, IReadOnlyList<CoarseVisit> visits, Random rng, out TrajectoryGateResult gate)
    {
        var places = visits.SelectMany(v => v.Places).Distinct().OrderBy(p => p, StringComparer.Ordinal).ToList();
        var coarsened = visits.Select(v => new Governance.Trajectory(
            v.Places.Select((p, i) => new TrajectoryPoint(places.IndexOf(p), 0, v.Steps[i])).ToList())).ToList();
        return ReleaseGate.Trajectories(m, binStart, coarsened, rng, out gate);
    }
}
