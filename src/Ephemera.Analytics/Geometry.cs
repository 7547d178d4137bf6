using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>A point in image pixels (y down) or floor metres, depending on context.</summary>
public readonly record struct Point2(double X, double Y)
{
    public static Point2 operator -(Point2 a, Point2 b) => new(a.X - b.X, a.Y - b.Y);
    public static Point2 operator +(Point2 a, Point2 b) => new(a.X + b.X, a.Y + b.Y);
    public static Point2 operator *(Point2 a, double s) => new(a.X * s, a.Y * s);
    public double Length => Math.Sqrt(X * X + Y * Y);
    /// <summary>z component of the 2-D cross product <c>a × b</c>.</summary>
    public static double Cross(Point2 a, Point2 b) => a.X * b.Y - a.Y * b.X;
    public static double Distance(Point2 a, Point2 b) => (a - b).Length;
}

/// <summary>Which point of a track's box stands for the track in the analytics.</summary>
public enum AnchorPoint
{
    /// <summary>Bottom edge, horizontal centre: where a standing person touches the floor (default).</summary>
    BottomCenter,
    /// <summary>Box centre.</summary>
    Center,
    /// <summary>Top edge, horizontal centre (heads, for cameras looking down on crowds).</summary>
    TopCenter,
}

public static class Anchors
{
    /// <summary>The anchor point of <paramref name="box"/> in image pixels.</summary>
    public static Point2 Of(in BoxF box, AnchorPoint anchor) => anchor switch
    {
        AnchorPoint.Center => new Point2(box.CenterX, box.CenterY),
        AnchorPoint.TopCenter => new Point2(box.CenterX, box.Y),
        _ => new Point2(box.CenterX, box.Bottom),
    };

    /// <summary>Parses <c>bottom-center</c>, <c>center</c>, <c>top-center</c> (also with "centre"/underscores).</summary>
    public static AnchorPoint Parse(string text) => text.Trim().ToLowerInvariant().Replace('_', '-').Replace("centre", "center") switch
    {
        "bottom-center" or "bottom" => AnchorPoint.BottomCenter,
        "center" => AnchorPoint.Center,
        "top-center" or "top" => AnchorPoint.TopCenter,
        _ => throw new EphemeraException($"anchor '{text}': expected bottom-center, center or top-center"),
    };
}

/// <summary>
/// A simple polygon (not self-intersecting), in image pixels or floor metres. Immutable; validated:
/// at least 3 vertices, finite coordinates, non-zero area.
/// </summary>
public sealed class Polygon
{
    private readonly Point2[] _v;
    public IReadOnlyList<Point2> Vertices => _v;
    public double MinX { get; } public double MinY { get; } public double MaxX { get; } public double MaxY { get; }
    /// <summary>Absolute area (square pixels or square metres).</summary>
    public double Area { get; }

    public Polygon(IEnumerable<Point2> vertices)
    {
        ArgumentNullException.ThrowIfNull(vertices);
        _v = vertices.ToArray();
        if (_v.Length < 3) throw new EphemeraException($"polygon: needs at least 3 vertices, got {_v.Length}");
        foreach (var p in _v)
            if (!double.IsFinite(p.X) || !double.IsFinite(p.Y)) throw new EphemeraException($"polygon: vertex ({p.X}, {p.Y}) is not finite");
        double a = 0;
        for (int i = 0, j = _v.Length - 1; i < _v.Length; j = i++) a += Point2.Cross(_v[j], _v[i]);
        Area = Math.Abs(a) / 2;
        if (Area <= 0) throw new EphemeraException("polygon: vertices are collinear (zero area)");
        MinX = _v.Min(p => p.X); MinY = _v.Min(p => p.Y); MaxX = _v.Max(p => p.X); MaxY = _v.Max(p => p.Y);
    }

    /// <summary>Parses <c>x1,y1,x2,y2,x3,y3,…</c>.</summary>
    public static Polygon Parse(string text)
    {
        var n = Numbers.ParseList(text, "polygon");
        if (n.Length < 6 || n.Length % 2 != 0)
            throw new EphemeraException($"polygon '{text}': expected an even count (≥ 6) of numbers x1,y1,x2,y2,x3,y3,…, got {n.Length}");
        var pts = new Point2[n.Length / 2];
        for (int i = 0; i < pts.Length; i++) pts[i] = new Point2(n[2 * i], n[2 * i + 1]);
        return new Polygon(pts);
    }

    /// <summary>
    /// Even-odd ray test. Points exactly on an edge count as inside for the lower/left edges and
    /// outside for the upper/right ones, so a point on the shared edge of two adjacent zones is
    /// in exactly one of them.
    /// </summary>
    public bool Contains(Point2 p)
    {
        if (p.X < MinX || p.X > MaxX || p.Y < MinY || p.Y > MaxY) return false;
        bool inside = false;
        var v = _v;
        for (int i = 0, j = v.Length - 1; i < v.Length; j = i++)
        {
            if ((v[i].Y > p.Y) != (v[j].Y > p.Y))
            {
                double xCross = v[j].X + (p.Y - v[j].Y) * (v[i].X - v[j].X) / (v[i].Y - v[j].Y);
                if (p.X < xCross) inside = !inside;
            }
        }
        return inside;
    }
}

internal static class Numbers
{
    public static double[] ParseList(string text, string what)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var r = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out r[i]) || !double.IsFinite(r[i]))
                throw new EphemeraException($"{what} '{text}': '{parts[i]}' is not a number");
        return r;
    }
}

/// <summary>
/// Maps a timestamp to a time bin: bin <c>k</c> covers <c>[k·width, (k+1)·width)</c> seconds.
/// </summary>
public readonly record struct TimeBinning(double WidthSeconds)
{
    public long BinOf(double timeSeconds) => (long)Math.Floor(timeSeconds / WidthSeconds);
    public double StartOf(long bin) => bin * WidthSeconds;
    public static void Validate(double width, string name)
    {
        if (!(width > 0) || !double.IsFinite(width)) throw new EphemeraException($"{name}: time bin width must be a positive number of seconds, got {width}");
    }
}
