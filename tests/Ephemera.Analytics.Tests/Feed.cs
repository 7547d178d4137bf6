using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Analytics.Tests;

/// <summary>Builds tracker output for scenario tests: boxes whose bottom-centre is a given point.</summary>
internal static class Feed
{
    public static TrackedObject At(int id, double x, double y, TrackState state = TrackState.Confirmed, int cls = CocoClasses.Person, bool observed = true)
        => new(id, cls, new BoxF((float)x - 10, (float)y - 40, 20, 40), 0.9f, state, observed);

    /// <summary>Feeds one track along <paramref name="points"/> (one frame each, 10 fps), then removes it.</summary>
    public static void Walk(ITrackAnalyser a, int id, IEnumerable<(double X, double Y)> points, TrackState state = TrackState.Confirmed,
        int cls = CocoClasses.Person, double t0 = 0, bool remove = true)
    {
        double t = t0;
        foreach (var (x, y) in points)
        {
            a.Update([At(id, x, y, state, cls)], [], t);
            t += 0.1;
        }
        if (remove) a.Update([], [id], t);
    }

    public static IEnumerable<(double, double)> Ys(double x, params double[] ys) => ys.Select(y => (x, y));
}
