namespace Ephemera.Governance;

/// <summary>One coarsened location–time point: a grid cell (or zone id in CellX with CellY = 0) and a time-bin index.</summary>
public readonly record struct TrajectoryPoint(int CellX, int CellY, long TimeBin);

/// <summary>One visit's coarsened flow line; carries no id that links visits.</summary>
public sealed record Trajectory(IReadOnlyList<TrajectoryPoint> Points);

/// <summary>
/// Unicity after de Montjoye et al. (2013): the share of trajectories that <c>points</c> random points of
/// their own single out among all trajectories. Four points make ~95% of raw mobility traces unique,
/// so per-trajectory storage is allowed only when coarsening pushes this under the manifest's threshold.
/// </summary>
public static class UnicityTest
{
    public static double Unicity(IReadOnlyList<Trajectory> trajectories, Random rng) => Unicity(trajectories, 4, rng);

    public static double Unicity(IReadOnlyList<Trajectory> trajectories, int points, Random rng)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 1);
        if (trajectories.Count == 0) return 0;
        // Index: point → trajectories that contain it.
        var index = new Dictionary<TrajectoryPoint, List<int>>();
        var sets = new HashSet<TrajectoryPoint>[trajectories.Count];
        for (int t = 0; t < trajectories.Count; t++)
        {
            sets[t] = new HashSet<TrajectoryPoint>(trajectories[t].Points);
            foreach (var p in sets[t])
            {
                if (!index.TryGetValue(p, out var list)) index[p] = list = new List<int>();
                list.Add(t);
            }
        }
        int tested = 0, unique = 0;
        for (int t = 0; t < trajectories.Count; t++)
        {
            var distinct = sets[t].ToArray();
            if (distinct.Length == 0) continue;
            tested++;
            rng.Shuffle(distinct);
            int take = Math.Min(points, distinct.Length);
            // Trajectories containing every sampled point: intersect the posting lists, smallest first.
            IEnumerable<int> matches = index[distinct[0]];
            for (int i = 1; i < take; i++) matches = matches.Intersect(index[distinct[i]]);
            if (matches.Take(2).Count() == 1) unique++;
        }
        return tested == 0 ? 0 : (double)unique / tested;
    }
}

/// <summary>Coarsening applied before any per-trajectory storage (H3): trim entry/exit, snap to a grid, bin time.</summary>
public static class TrajectoryCoarsener
{
    public static Trajectory Coarsen(IReadOnlyList<(double X, double Y, DateTimeOffset T)> raw, double gridMetres, TimeSpan timeBin, TimeSpan trim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(gridMetres, 0);
        if (timeBin <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeBin));
        var pts = new List<TrajectoryPoint>();
        if (raw.Count == 0) return new Trajectory(pts);
        var first = raw[0].T; var last = raw[^1].T;
        foreach (var (x, y, t) in raw)
        {
            if (t - first < trim || last - t < trim) continue; // entry and exit segments point at doors and homes
            var p = new TrajectoryPoint((int)Math.Floor(x / gridMetres), (int)Math.Floor(y / gridMetres), t.ToUnixTimeMilliseconds() / (long)timeBin.TotalMilliseconds);
            if (pts.Count == 0 || pts[^1] != p) pts.Add(p);
        }
        return new Trajectory(pts);
    }
}

/// <summary>Result of the per-trajectory storage gate.</summary>
public sealed record TrajectoryGateResult(bool Allowed, double Unicity, double Threshold, string Reason);

/// <summary>Per-trajectory storage only when the manifest opts in and unicity stays under its threshold (H2/H3).</summary>
public static class TrajectoryGate
{
    public static TrajectoryGateResult Evaluate(CameraManifest m, IReadOnlyList<Trajectory> coarsened, Random rng)
    {
        if (!m.Privacy.StoreTrajectories || m.Privacy.UnicityThreshold is not { } threshold)
            return new TrajectoryGateResult(false, double.NaN, 0, $"H3: manifest {m.CameraId} does not opt in to per-trajectory storage (privacy.store_trajectories)");
        double u = UnicityTest.Unicity(coarsened, 4, rng);
        return u < threshold
            ? new TrajectoryGateResult(true, u, threshold, $"unicity {u:0.###} < threshold {threshold:0.###}")
            : new TrajectoryGateResult(false, u, threshold, $"H2: unicity {u:0.###} (share made unique by 4 random points) is not under the threshold {threshold:0.###}; coarsen more or store zone aggregates");
    }
}
