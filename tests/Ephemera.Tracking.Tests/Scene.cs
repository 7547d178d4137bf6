using Ephemera.Core;

namespace Ephemera.Tracking.Tests;

/// <summary>Synthetic detections: boxes moving at constant velocity, which a frame can omit.</summary>
internal static class Scene
{
    public static BoxF At(float x0, float y0, float vx, float vy, long frame, float w = 40, float h = 100) =>
        new(x0 + vx * frame, y0 + vy * frame, w, h);

    public static Detections Frame(params BoxF[] boxes) => Frame(0.95f, boxes);

    public static Detections Frame(float score, params BoxF[] boxes)
    {
        var d = new Detections();
        foreach (var b in boxes) d.Add(b, score, 0);
        return d;
    }

    public static TrackedObject Only(ReadOnlySpan<TrackedObject> tracks)
    {
        Assert.Equal(1, tracks.Length);
        return tracks[0];
    }
}
