using System.Runtime.InteropServices;
using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>A crowd level: its name and the density (people per m²) from which it applies.</summary>
public readonly record struct CrowdLevel(string Name, double MinPeoplePerSquareMetre, Rgb Colour);

/// <summary>Options of the crowd-icon renderer (case 5). Immutable, validated.</summary>
public sealed class CrowdIconOptions
{
    /// <summary>Image pixels → floor metres.</summary>
    public Homography ImageToFloor { get; }
    /// <summary>Floor size and the zones whose crowd level is reported and outlined.</summary>
    public FloorPlan Plan { get; }
    /// <summary>Box point projected to the floor (default bottom-centre).</summary>
    public AnchorPoint Anchor { get; }
    /// <summary>Scale of the rendered plan (default 20 px per metre).</summary>
    public double PixelsPerMetre { get; }
    /// <summary>A new image every this many seconds (default 5).</summary>
    public double IntervalSeconds { get; }
    /// <summary>A person is "moving" above this floor speed, m/s (default 0.3).</summary>
    public double MovingSpeedMetresPerSecond { get; }
    /// <summary>Speed is measured over this window, seconds (default 1).</summary>
    public double SpeedWindowSeconds { get; }
    /// <summary>Icon radius in pixels (default 6).</summary>
    public double IconRadiusPx { get; }
    /// <summary>Plan background (default light grey #f0f0f0).</summary>
    public Rgb Background { get; }
    /// <summary>Icon colour of a still person (default blue #1f5fbf): a filled disc.</summary>
    public Rgb StillColour { get; }
    /// <summary>Icon colour of a moving person (default orange #e07000): a ring.</summary>
    public Rgb MovingColour { get; }
    /// <summary>Crowd levels by ascending density; the first starts at 0. Default: free (0), moderate (0.5),
    /// crowded (1.0), very crowded (2.0) people per m². Zone outlines are drawn in the level's colour.</summary>
    public IReadOnlyList<CrowdLevel> Levels { get; }
    /// <summary>Use confirmed tracks' predicted boxes too (default false).</summary>
    public bool UsePredicted { get; }

    /// <summary>COCO classes that take part (default person only: people, not bags or cars).</summary>
    public IReadOnlyList<int> ClassIds => ClassIdArray;
    internal int[] ClassIdArray { get; }
    public static readonly CrowdLevel[] DefaultLevels =
    [
        new("free", 0, new Rgb(40, 160, 60)), new("moderate", 0.5, new Rgb(230, 190, 0)),
        new("crowded", 1.0, new Rgb(235, 110, 0)), new("very crowded", 2.0, new Rgb(200, 20, 20)),
    ];

    public CrowdIconOptions(Homography imageToFloor, FloorPlan plan, AnchorPoint anchor = AnchorPoint.BottomCenter,
        double pixelsPerMetre = 20, double intervalSeconds = 5, double movingSpeedMetresPerSecond = 0.3, double speedWindowSeconds = 1,
        double iconRadiusPx = 6, Rgb? background = null, Rgb? stillColour = null, Rgb? movingColour = null,
        IEnumerable<CrowdLevel>? levels = null, bool usePredicted = false, IEnumerable<int>? classIds = null)
    {
        ImageToFloor = imageToFloor ?? throw new EphemeraException("crowd icons: the image → floor homography is missing");
        Plan = plan ?? throw new EphemeraException("crowd icons: the floor plan is missing");
        if (!(pixelsPerMetre > 0) || plan.WidthMetres * pixelsPerMetre > 8192 || plan.HeightMetres * pixelsPerMetre > 8192)
            throw new EphemeraException($"crowd icons: pixels per metre must be > 0 and the image ≤ 8192 px a side, got {pixelsPerMetre} for {plan.WidthMetres} × {plan.HeightMetres} m");
        if (!(intervalSeconds > 0)) throw new EphemeraException($"crowd icons: interval must be > 0 seconds, got {intervalSeconds}");
        if (!(movingSpeedMetresPerSecond >= 0)) throw new EphemeraException($"crowd icons: moving speed must be ≥ 0 m/s, got {movingSpeedMetresPerSecond}");
        if (!(speedWindowSeconds > 0)) throw new EphemeraException($"crowd icons: speed window must be > 0 seconds, got {speedWindowSeconds}");
        if (!(iconRadiusPx >= 1) || iconRadiusPx > 100) throw new EphemeraException($"crowd icons: icon radius must be 1..100 px, got {iconRadiusPx}");
        Levels = (levels ?? DefaultLevels).ToArray();
        if (Levels.Count == 0 || Levels[0].MinPeoplePerSquareMetre != 0)
            throw new EphemeraException("crowd icons: the first crowd level must start at 0 people/m²");
        for (int i = 1; i < Levels.Count; i++)
            if (!(Levels[i].MinPeoplePerSquareMetre > Levels[i - 1].MinPeoplePerSquareMetre) || string.IsNullOrWhiteSpace(Levels[i].Name))
                throw new EphemeraException($"crowd icons: crowd level thresholds must strictly increase and be named (level {i + 1} '{Levels[i].Name}')");
        Anchor = anchor; PixelsPerMetre = pixelsPerMetre; IntervalSeconds = intervalSeconds;
        MovingSpeedMetresPerSecond = movingSpeedMetresPerSecond; SpeedWindowSeconds = speedWindowSeconds; IconRadiusPx = iconRadiusPx;
        Background = background ?? new Rgb(240, 240, 240);
        StillColour = stillColour ?? new Rgb(31, 95, 191);
        MovingColour = movingColour ?? new Rgb(224, 112, 0);
        UsePredicted = usePredicted;
        ClassIdArray = TrackGate.ValidateClasses(classIds, "crowd icons");
    }

    /// <summary>Every colour an icon image can contain.</summary>
    public IReadOnlyCollection<Rgb> PaletteColours => new HashSet<Rgb>(Levels.Select(l => l.Colour)) { Background, StillColour, MovingColour };
}

/// <summary>
/// Crowd icons (case 5): people as icons on the floor plan — position and moving/still only, no
/// id, no box size, no camera pixel — and a crowd level per zone from its density. A new image is
/// rendered every <see cref="CrowdIconOptions.IntervalSeconds"/>; it replaces the previous one
/// (<see cref="Latest"/>; <see cref="IconImageWriter"/> deletes the old file). The renderer only
/// receives floor positions and flags; it has no API that takes pixels.
/// </summary>
public sealed class CrowdIcons : ITrackAnalyser
{
    private struct Motion { public Point2 RefPos; public double RefTime; public bool Moving; public double LastSeen; }

    private readonly Dictionary<int, Motion> _motion = new();
    private readonly List<(Point2 Floor, bool Moving)> _current = new();
    private double _nextRender = double.NegativeInfinity;
    private const double StaleTrackSeconds = 30;

    public CrowdIconOptions Options { get; }
    public int TrackStateCount => _motion.Count;
    /// <summary>The latest rendered image and levels, or null before the first.</summary>
    public CrowdSnapshot? Latest { get; private set; }
    /// <summary>Raised on the caller's thread after each new image (e.g. an <see cref="IconImageWriter"/>).</summary>
    public event Action<CrowdSnapshot>? Rendered;

    public CrowdIcons(CrowdIconOptions options) => Options = options ?? throw new ArgumentNullException(nameof(options));

    public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double timeSeconds)
    {
        foreach (int id in removedIds) _motion.Remove(id);
        _current.Clear();
        foreach (ref readonly var t in tracks)
        {
            if (t.State == TrackState.Removed) { _motion.Remove(t.TrackId); continue; }
            if (!TrackGate.Uses(t, Options.UsePredicted, Options.ClassIdArray)) continue;
            var f = Options.ImageToFloor.Map(Anchors.Of(t.Box, Options.Anchor));
            if (!double.IsFinite(f.X) || !double.IsFinite(f.Y)) continue;
            ref var m = ref CollectionsMarshal.GetValueRefOrAddDefault(_motion, t.TrackId, out bool existed);
            if (!existed) { m.RefPos = f; m.RefTime = timeSeconds; }
            else if (timeSeconds - m.RefTime >= Options.SpeedWindowSeconds)
            {
                m.Moving = Point2.Distance(f, m.RefPos) / (timeSeconds - m.RefTime) > Options.MovingSpeedMetresPerSecond;
                m.RefPos = f; m.RefTime = timeSeconds;
            }
            m.LastSeen = timeSeconds;
            _current.Add((f, m.Moving));
        }
        if (timeSeconds >= _nextRender)
        {
            _nextRender = timeSeconds + Options.IntervalSeconds;
            foreach (var (id, m) in _motion) if (timeSeconds - m.LastSeen > StaleTrackSeconds) _motion.Remove(id); // tracker never removed it
            Latest = Render(_current, timeSeconds);
            Rendered?.Invoke(Latest);
        }
    }

    /// <summary>Renders people given as floor positions (metres) with a moving flag.</summary>
    public CrowdSnapshot Render(IReadOnlyList<(Point2 Floor, bool Moving)> people, double timeSeconds)
    {
        var plan = Options.Plan;
        double s = Options.PixelsPerMetre;
        var canvas = new IconCanvas(Math.Max(1, (int)Math.Round(plan.WidthMetres * s)), Math.Max(1, (int)Math.Round(plan.HeightMetres * s)), Options.Background);
        var levels = new List<ZoneCrowdLevel>();
        foreach (var z in plan.Zones)
        {
            int n = 0;
            foreach (var p in people) if (z.Polygon.Contains(p.Floor)) n++;
            double density = n / z.Polygon.Area;
            var level = Options.Levels[0];
            foreach (var l in Options.Levels) if (density >= l.MinPeoplePerSquareMetre) level = l;
            levels.Add(new ZoneCrowdLevel(z.Name, n, Math.Round(density, 4), level.Name));
            canvas.DrawPolygon(z.Polygon.Vertices.Select(v => new Point2(v.X * s, v.Y * s)).ToArray(), 2, level.Colour);
        }
        foreach (var (f, moving) in people)
        {
            if (!plan.Contains(f)) continue;
            if (moving) canvas.DrawRing(f.X * s, f.Y * s, Options.IconRadiusPx, Math.Max(2, Options.IconRadiusPx / 3), Options.MovingColour);
            else canvas.FillCircle(f.X * s, f.Y * s, Options.IconRadiusPx, Options.StillColour);
        }
        return new CrowdSnapshot(timeSeconds, canvas.EncodePng(), canvas.Width, canvas.Height, people.Count, levels);
    }
}

/// <summary>Crowd level of one zone at one moment (data class <see cref="DataClass.CrowdLevel"/>).</summary>
public sealed record ZoneCrowdLevel(string Zone, int People, double PeoplePerSquareMetre, string Level)
{
    public DataClass DataClass => DataClass.CrowdLevel;
}

/// <summary>
/// One crowd-icon image (data class <see cref="DataClass.IconImage"/>, PNG bytes) with the zone
/// crowd levels at the same moment. Each new snapshot supersedes the previous one.
/// </summary>
public sealed record CrowdSnapshot(double TimeSeconds, byte[] Png, int Width, int Height, int People, IReadOnlyList<ZoneCrowdLevel> Levels)
{
    public DataClass DataClass => DataClass.IconImage;

    /// <summary>Metadata and levels as JSON (the PNG bytes are not included).</summary>
    public string ToJson() => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("time_s", TimeSeconds); w.WriteNumber("width", Width); w.WriteNumber("height", Height);
        w.WriteNumber("people", People); w.WriteNumber("png_bytes", Png.Length);
        w.WriteString("data_class", DataClass.ToString());
        w.WriteStartArray("zones");
        foreach (var l in Levels)
        {
            w.WriteStartObject();
            w.WriteString("zone", l.Zone); w.WriteNumber("people", l.People); w.WriteNumber("people_per_m2", l.PeoplePerSquareMetre);
            w.WriteString("level", l.Level); w.WriteString("data_class", l.DataClass.ToString());
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    });
}

/// <summary>
/// Keeps exactly one icon image on disk: each new image is written under a fresh name (temporary
/// file, then rename) and the previous file is deleted, so an old image never outlives its
/// successor. <see cref="LatestPng"/> holds the bytes for the store.
/// </summary>
public sealed class IconImageWriter
{
    private readonly string _directory;
    private long _sequence;
    public string? CurrentPath { get; private set; }
    public byte[]? LatestPng { get; private set; }

    public IconImageWriter(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new EphemeraException("icon writer: directory missing");
        _directory = directory;
        Directory.CreateDirectory(directory);
    }

    public string Write(CrowdSnapshot snapshot)
    {
        var path = Path.Combine(_directory, $"crowd-icons-{++_sequence:D8}.png");
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, snapshot.Png);
        File.Move(tmp, path, overwrite: true);
        var old = CurrentPath;
        CurrentPath = path;
        LatestPng = snapshot.Png;
        if (old != null && File.Exists(old)) File.Delete(old);
        return path;
    }
}
