using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>A named zone on the floor plan, in metres.</summary>
public sealed class FloorZone
{
    public string Name { get; }
    public Polygon Polygon { get; }
    public FloorZone(string name, Polygon polygonMetres)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new EphemeraException("floor zone: name must not be empty");
        Name = name; Polygon = polygonMetres ?? throw new EphemeraException($"floor zone '{name}': polygon missing");
    }
    /// <summary>Parses <c>name:x1,y1,x2,y2,x3,y3,…</c> (metres).</summary>
    public static FloorZone Parse(string text)
    {
        int colon = text.IndexOf(':');
        if (colon <= 0) throw new EphemeraException($"floor zone '{text}': expected name:x1,y1,x2,y2,x3,y3,… (metres)");
        try { return new FloorZone(text[..colon].Trim(), Polygon.Parse(text[(colon + 1)..])); }
        catch (EphemeraException e) { throw new EphemeraException($"floor zone '{text}': {e.Message}", e); }
    }
}

/// <summary>
/// The floor plan: a rectangle of <see cref="WidthMetres"/> × <see cref="HeightMetres"/> with its
/// origin at the top-left corner of the plan as drawn, x to the right, y downwards (metres).
/// </summary>
public sealed class FloorPlan
{
    public double WidthMetres { get; }
    public double HeightMetres { get; }
    /// <summary>Named zones on the plan (may be empty).</summary>
    public IReadOnlyList<FloorZone> Zones { get; }

    public FloorPlan(double widthMetres, double heightMetres, IEnumerable<FloorZone>? zones = null)
    {
        if (!(widthMetres > 0) || !(heightMetres > 0) || !double.IsFinite(widthMetres) || !double.IsFinite(heightMetres) || widthMetres > 10_000 || heightMetres > 10_000)
            throw new EphemeraException($"floor plan: size must be positive metres (≤ 10 km), got {widthMetres} × {heightMetres}");
        WidthMetres = widthMetres; HeightMetres = heightMetres;
        Zones = zones?.ToArray() ?? [];
        var names = new HashSet<string>();
        foreach (var z in Zones) if (!names.Add(z.Name)) throw new EphemeraException($"floor plan: zone name '{z.Name}' is used twice");
    }

    public bool Contains(Point2 p) => p.X >= 0 && p.Y >= 0 && p.X < WidthMetres && p.Y < HeightMetres;
}

/// <summary>Options of the flow-line analyser (case 2). Immutable, validated.</summary>
public sealed class FloorFlowOptions
{
    /// <summary>Image pixels → floor metres.</summary>
    public Homography ImageToFloor { get; }
    /// <summary>Floor size and named zones.</summary>
    public FloorPlan Plan { get; }
    /// <summary>Box point projected to the floor (default bottom-centre: the feet).</summary>
    public AnchorPoint Anchor { get; }
    /// <summary>Grid cell size in metres for snapping when the plan has no named zones, and for the heat map (default 1).</summary>
    public double GridCellMetres { get; }
    /// <summary>Snap to the plan's named zones (default when it has any) instead of grid cells.</summary>
    public bool SnapToZones { get; }
    /// <summary>Width of the transition and dwell time bins, seconds (default 3600).</summary>
    public double TimeBinSeconds { get; }
    /// <summary>Points within this walked distance of a visit's start are dropped (default 1 m).</summary>
    public double TrimEntryMetres { get; }
    /// <summary>Points within this time of a visit's start are dropped (default 1 s).</summary>
    public double TrimEntrySeconds { get; }
    /// <summary>Points within this walked distance of a visit's end are dropped (default 1 m).</summary>
    public double TrimExitMetres { get; }
    /// <summary>Points within this time of a visit's end are dropped (default 1 s).</summary>
    public double TrimExitSeconds { get; }
    /// <summary>Also output one snapped, time-binned trajectory per visit (default false: only the
    /// transition matrix and dwell histograms). The manifest decides.</summary>
    public bool EmitTrajectories { get; }
    /// <summary>Times in per-visit trajectories are rounded down to this step, seconds (default 10).</summary>
    public double TrajectoryTimeStepSeconds { get; }
    /// <summary>Dwell bucket lower edges, seconds (default 0, 5, 15, 30, 60, 120, 300, 600).</summary>
    public IReadOnlyList<double> DwellBucketEdgesSeconds { get; }
    /// <summary>At most this many floor points are kept per visit; later ones are dropped (default 20000).</summary>
    public int MaxPointsPerVisit { get; }
    /// <summary>A visit whose track has not been seen for this long is closed (default 30 s).</summary>
    public double StaleTrackSeconds { get; }
    /// <summary>Use confirmed tracks' predicted boxes too (default false).</summary>
    public bool UsePredicted { get; }

    /// <summary>COCO classes that take part (default person only: people, not bags or cars).</summary>
    public IReadOnlyList<int> ClassIds => ClassIdArray;
    internal int[] ClassIdArray { get; }
    public FloorFlowOptions(Homography imageToFloor, FloorPlan plan, AnchorPoint anchor = AnchorPoint.BottomCenter,
        double gridCellMetres = 1, bool? snapToZones = null, double timeBinSeconds = 3600,
        double trimEntryMetres = 1, double trimEntrySeconds = 1, double trimExitMetres = 1, double trimExitSeconds = 1,
        bool emitTrajectories = false, double trajectoryTimeStepSeconds = 10, IEnumerable<double>? dwellBucketEdgesSeconds = null,
        int maxPointsPerVisit = 20000, double staleTrackSeconds = 30, bool usePredicted = false, IEnumerable<int>? classIds = null)
    {
        ImageToFloor = imageToFloor ?? throw new EphemeraException("flow: the image → floor homography is missing");
        Plan = plan ?? throw new EphemeraException("flow: the floor plan is missing");
        if (!(gridCellMetres > 0) || !double.IsFinite(gridCellMetres)) throw new EphemeraException($"flow: grid cell must be > 0 metres, got {gridCellMetres}");
        if (plan.WidthMetres / gridCellMetres * (plan.HeightMetres / gridCellMetres) > 1_000_000) throw new EphemeraException("flow: more than a million grid cells; use a coarser grid");
        SnapToZones = snapToZones ?? plan.Zones.Count > 0;
        if (SnapToZones && plan.Zones.Count == 0) throw new EphemeraException("flow: snapping to zones needs at least one floor zone");
        TimeBinning.Validate(timeBinSeconds, "flow");
        foreach (var (v, n) in new[] { (trimEntryMetres, "trim entry metres"), (trimEntrySeconds, "trim entry seconds"), (trimExitMetres, "trim exit metres"), (trimExitSeconds, "trim exit seconds") })
            if (!(v >= 0) || !double.IsFinite(v)) throw new EphemeraException($"flow: {n} must be ≥ 0, got {v}");
        if (!(trajectoryTimeStepSeconds > 0)) throw new EphemeraException($"flow: trajectory time step must be > 0 seconds, got {trajectoryTimeStepSeconds}");
        if (maxPointsPerVisit < 2) throw new EphemeraException($"flow: max points per visit must be ≥ 2, got {maxPointsPerVisit}");
        if (!(staleTrackSeconds > 0)) throw new EphemeraException($"flow: stale track seconds must be > 0, got {staleTrackSeconds}");
        Anchor = anchor; GridCellMetres = gridCellMetres; TimeBinSeconds = timeBinSeconds;
        TrimEntryMetres = trimEntryMetres; TrimEntrySeconds = trimEntrySeconds; TrimExitMetres = trimExitMetres; TrimExitSeconds = trimExitSeconds;
        EmitTrajectories = emitTrajectories; TrajectoryTimeStepSeconds = trajectoryTimeStepSeconds;
        DwellBucketEdgesSeconds = DwellHistogram.ValidateEdges(dwellBucketEdgesSeconds ?? DwellHistogram.DefaultEdges, "flow");
        MaxPointsPerVisit = maxPointsPerVisit; StaleTrackSeconds = staleTrackSeconds; UsePredicted = usePredicted;
        ClassIdArray = TrackGate.ValidateClasses(classIds, "flow");
    }
}

/// <summary>
/// Flow lines (case 2): projects each used track's anchor to the floor, and when the visit ends
/// (track removed or stale) trims its entry and exit segments, snaps the rest to named floor zones
/// or grid cells, and adds its place-to-place transitions and per-place dwell to time-binned
/// aggregates. Each visit gets a fresh cryptographically random id (never the tracker id; a
/// track is one visit, so ids are never linked across visits, and the analyser is per camera).
/// Per-visit trajectories are kept only with <see cref="FloorFlowOptions.EmitTrajectories"/>.
/// Also accumulates a floor-occupancy heat map (person-frames per grid cell).
/// </summary>
public sealed class FloorFlowAnalyser : ITrackAnalyser
{
    private readonly record struct FloorSample(double X, double Y, double T);

    private sealed class Visit
    {
        public ulong Id;
        public readonly List<FloorSample> Points = new();
        public double LastSeen;
        // The heat-map bin this visit last added to, and the cells it already counted there: a visit
        // counts once per cell and bin towards the distinct-track count the release gate needs.
        public long HeatBin = long.MinValue;
        public readonly HashSet<int> HeatCells = new();
    }

    /// <summary>One time bin of the heat map: person-frames and distinct visits per grid cell.</summary>
    private sealed class HeatBin(int cells)
    {
        public readonly long[] Frames = new long[cells];
        public readonly int[] Tracks = new int[cells];
    }

    private readonly Dictionary<int, Visit> _visits = new();
    private readonly Stack<Visit> _pool = new();
    private readonly int _gridW, _gridH;
    private readonly long[] _heat;
    private readonly string[] _placeNames;
    private readonly double[] _edges;
    private readonly TimeBinning _binning;
    private readonly SortedDictionary<long, Dictionary<(int From, int To), long>> _transitions = new();
    private readonly SortedDictionary<long, Dictionary<int, long[]>> _dwell = new();
    private readonly SortedDictionary<long, HeatBin> _heatBins = new();
    private readonly List<Trajectory> _trajectories = new();
    private readonly List<int> _stale = new();
    private double _lastStaleScan = double.NegativeInfinity;

    public FloorFlowOptions Options { get; }
    public int TrackStateCount => _visits.Count;
    /// <summary>Visits closed so far.</summary>
    public long VisitsClosed { get; private set; }

    public FloorFlowAnalyser(FloorFlowOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _gridW = (int)Math.Ceiling(options.Plan.WidthMetres / options.GridCellMetres);
        _gridH = (int)Math.Ceiling(options.Plan.HeightMetres / options.GridCellMetres);
        _heat = new long[_gridW * _gridH];
        _placeNames = options.SnapToZones
            ? options.Plan.Zones.Select(z => z.Name).ToArray()
            : Enumerable.Range(0, _gridW * _gridH).Select(i => $"cell_{i % _gridW}_{i / _gridW}").ToArray();
        _edges = options.DwellBucketEdgesSeconds.ToArray();
        _binning = new TimeBinning(options.TimeBinSeconds);
    }

    public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double timeSeconds)
    {
        foreach (int id in removedIds) EndVisit(id);
        foreach (ref readonly var t in tracks)
        {
            if (t.State == TrackState.Removed) { EndVisit(t.TrackId); continue; }
            if (!TrackGate.Uses(t, Options.UsePredicted, Options.ClassIdArray)) continue;
            var f = Options.ImageToFloor.Map(Anchors.Of(t.Box, Options.Anchor));
            if (!double.IsFinite(f.X) || !double.IsFinite(f.Y)) continue; // beyond the horizon: calibration does not cover it
            ref var v = ref CollectionsMarshal.GetValueRefOrAddDefault(_visits, t.TrackId, out bool existed);
            if (!existed) v = StartVisit();
            v!.LastSeen = timeSeconds;
            if (v.Points.Count < Options.MaxPointsPerVisit) v.Points.Add(new FloorSample(f.X, f.Y, timeSeconds));
            int cell = CellOf(f);
            if (cell >= 0) AddHeat(v, cell, timeSeconds);
        }
        if (timeSeconds - _lastStaleScan >= Options.StaleTrackSeconds * 0.25)
        {
            _lastStaleScan = timeSeconds;
            _stale.Clear();
            foreach (var (id, v) in _visits) if (timeSeconds - v.LastSeen > Options.StaleTrackSeconds) _stale.Add(id);
            foreach (int id in _stale) EndVisit(id);
        }
    }

    private void AddHeat(Visit v, int cell, double t)
    {
        _heat[cell]++;
        long b = _binning.BinOf(t);
        if (!_heatBins.TryGetValue(b, out var hb)) _heatBins[b] = hb = new HeatBin(_heat.Length); // once per bin, not per frame
        if (v.HeatBin != b) { v.HeatBin = b; v.HeatCells.Clear(); }
        hb.Frames[cell]++;
        if (v.HeatCells.Add(cell)) hb.Tracks[cell]++;
    }

    private Visit StartVisit()
    {
        var v = _pool.Count > 0 ? _pool.Pop() : new Visit();
        v.Points.Clear();
        v.HeatBin = long.MinValue; v.HeatCells.Clear();
        v.Id = NewVisitId();
        return v;
    }

    /// <summary>A random 64-bit id from the OS CSPRNG, ≥ 2³² so it can never equal a tracker id (an int).</summary>
    private static ulong NewVisitId()
    {
        Span<byte> b = stackalloc byte[8];
        ulong id;
        do { RandomNumberGenerator.Fill(b); id = BitConverter.ToUInt64(b); } while (id <= uint.MaxValue);
        return id;
    }

    private int CellOf(Point2 f)
    {
        if (!Options.Plan.Contains(f)) return -1;
        int gx = Math.Min(_gridW - 1, (int)(f.X / Options.GridCellMetres)), gy = Math.Min(_gridH - 1, (int)(f.Y / Options.GridCellMetres));
        return gy * _gridW + gx;
    }

    private int PlaceOf(Point2 f)
    {
        if (!Options.SnapToZones) return CellOf(f);
        var zones = Options.Plan.Zones;
        for (int i = 0; i < zones.Count; i++) if (zones[i].Polygon.Contains(f)) return i;
        return -1;
    }

    private void EndVisit(int trackId)
    {
        if (!_visits.Remove(trackId, out var v)) return;
        Summarise(v);
        VisitsClosed++;
        v.Points.Clear(); v.Id = 0;
        _pool.Push(v);
    }

    private void Summarise(Visit v)
    {
        var pts = v.Points;
        if (pts.Count == 0) return;
        // Walked distance from the start for every point, then the total, to trim both ends.
        var along = new double[pts.Count];
        for (int i = 1; i < pts.Count; i++) along[i] = along[i - 1] + Math.Sqrt(Sq(pts[i].X - pts[i - 1].X) + Sq(pts[i].Y - pts[i - 1].Y));
        double total = along[^1], t0 = pts[0].T, tEnd = pts[^1].T;
        var stays = new List<(int Place, double Enter, double Last)>();
        for (int i = 0; i < pts.Count; i++)
        {
            var p = pts[i];
            if (along[i] < Options.TrimEntryMetres || p.T - t0 < Options.TrimEntrySeconds
                || total - along[i] < Options.TrimExitMetres || tEnd - p.T < Options.TrimExitSeconds) continue;
            int place = PlaceOf(new Point2(p.X, p.Y));
            if (place < 0) continue; // between zones / off the plan: the stay in the last place goes on
            if (stays.Count > 0 && stays[^1].Place == place) stays[^1] = (place, stays[^1].Enter, p.T);
            else stays.Add((place, p.T, p.T));
        }
        for (int i = 0; i < stays.Count; i++)
        {
            var s = stays[i];
            AddDwell(s.Place, s.Last - s.Enter, s.Last);
            if (i + 1 < stays.Count)
            {
                var map = BinOf(_transitions, stays[i + 1].Enter);
                var key = (s.Place, stays[i + 1].Place);
                map[key] = map.GetValueOrDefault(key) + 1;
            }
        }
        if (Options.EmitTrajectories && stays.Count > 0)
        {
            double step = Options.TrajectoryTimeStepSeconds;
            _trajectories.Add(new Trajectory(v.Id.ToString("x16"),
                stays.Select(s => new TrajectoryStay(_placeNames[s.Place], Math.Floor(s.Enter / step) * step, Math.Floor(s.Last / step) * step)).ToArray()));
        }
    }

    private static double Sq(double x) => x * x;

    private Dictionary<(int, int), long> BinOf(SortedDictionary<long, Dictionary<(int, int), long>> bins, double t)
    {
        long b = _binning.BinOf(t);
        if (!bins.TryGetValue(b, out var m)) bins[b] = m = new();
        return m;
    }

    private void AddDwell(int place, double dwell, double t)
    {
        long b = _binning.BinOf(t);
        if (!_dwell.TryGetValue(b, out var m)) _dwell[b] = m = new();
        if (!m.TryGetValue(place, out var h)) m[place] = h = new long[_edges.Length];
        h[DwellHistogram.BucketOf(_edges, dwell)]++;
    }

    /// <summary>The floor-occupancy heat map so far (person-frames per grid cell).</summary>
    public FloorHeatMap HeatMap() => new(_gridW, _gridH, Options.GridCellMetres, _heat.ToArray(), Options.Plan);

    /// <summary>Everything closed so far; nothing is removed. Open visits are not included.</summary>
    public FlowReport Snapshot() => Build(long.MaxValue, remove: false);

    /// <summary>The bins ended at or before <paramref name="nowSeconds"/> and the trajectories of the
    /// visits closed so far; both are removed from the analyser.</summary>
    public FlowReport Flush(double nowSeconds) => Build(_binning.BinOf(nowSeconds), remove: true);

    private FlowReport Build(long beforeBin, bool remove)
    {
        var matrices = new List<TransitionMatrix>();
        var done = new List<long>();
        foreach (var (bin, map) in _transitions)
        {
            if (bin >= beforeBin) break;
            matrices.Add(new TransitionMatrix(_binning.StartOf(bin), _binning.StartOf(bin + 1),
                map.OrderBy(kv => kv.Key.From).ThenBy(kv => kv.Key.To)
                   .Select(kv => new Transition(_placeNames[kv.Key.From], _placeNames[kv.Key.To], kv.Value)).ToArray()));
            done.Add(bin);
        }
        if (remove) foreach (var b in done) _transitions.Remove(b);
        done.Clear();
        var dwell = new List<DwellHistogram>();
        foreach (var (bin, map) in _dwell)
        {
            if (bin >= beforeBin) break;
            foreach (var (place, h) in map.OrderBy(kv => kv.Key))
                dwell.Add(new DwellHistogram(_placeNames[place], _binning.StartOf(bin), _binning.StartOf(bin + 1), _edges, h.ToArray(), h.Sum(), false));
            done.Add(bin);
        }
        if (remove) foreach (var b in done) _dwell.Remove(b);
        done.Clear();
        var heat = new List<FloorHeatMapBin>();
        foreach (var (bin, hb) in _heatBins)
        {
            if (bin >= beforeBin) break;
            heat.Add(new FloorHeatMapBin(_binning.StartOf(bin), _binning.StartOf(bin + 1),
                new FloorHeatMap(_gridW, _gridH, Options.GridCellMetres, hb.Frames.ToArray(), Options.Plan), hb.Tracks.ToArray()));
            done.Add(bin);
        }
        if (remove) foreach (var b in done) _heatBins.Remove(b);
        var traj = _trajectories.ToArray();
        if (remove) _trajectories.Clear();
        return new FlowReport(matrices, dwell, Options.EmitTrajectories ? traj : null, heat);
    }
}

/// <summary>One cell of a transition matrix: visits that went from one place directly to another.</summary>
public sealed record Transition(string From, string To, long Count);

/// <summary>Zone-to-zone (or cell-to-cell) transitions in one time bin (data class <see cref="DataClass.TransitionMatrix"/>); only non-zero cells are listed.</summary>
public sealed record TransitionMatrix(double BinStartSeconds, double BinEndSeconds, IReadOnlyList<Transition> Cells)
{
    public DataClass DataClass => DataClass.TransitionMatrix;
    public long CountOf(string from, string to) { foreach (var c in Cells) if (c.From == from && c.To == to) return c.Count; return 0; }
}

/// <summary>One stay of a visit: the snapped place and the time-rounded first and last times there.</summary>
public sealed record TrajectoryStay(string Place, double EnterSeconds, double LastSeconds);

/// <summary>A trimmed, snapped, time-binned visit under a random visit id (data class <see cref="DataClass.Trajectory"/>).</summary>
public sealed record Trajectory(string VisitId, IReadOnlyList<TrajectoryStay> Stays)
{
    public DataClass DataClass => DataClass.Trajectory;
}

/// <summary>
/// One time bin of the floor heat map, raw: person-frames per cell (<see cref="Map"/>) and how many
/// distinct visits contributed to each cell (<see cref="Tracks"/>, row-major like the map), which
/// the release gate needs for its k rule. Never released as is.
/// </summary>
public sealed record FloorHeatMapBin(double BinStartSeconds, double BinEndSeconds, FloorHeatMap Map, IReadOnlyList<int> Tracks)
{
    public DataClass DataClass => DataClass.HeatMap;
}

/// <summary>The flow outputs: transition matrices and dwell histograms per bin, trajectories only when enabled, and the binned heat maps (raw, for the release gate; not in the JSON).</summary>
public sealed record FlowReport(IReadOnlyList<TransitionMatrix> Transitions, IReadOnlyList<DwellHistogram> Dwell, IReadOnlyList<Trajectory>? Trajectories,
    IReadOnlyList<FloorHeatMapBin>? HeatMaps = null)
{
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartArray("transitions");
        foreach (var m in Transitions)
        {
            w.WriteStartObject();
            w.WriteNumber("start_s", m.BinStartSeconds); w.WriteNumber("end_s", m.BinEndSeconds);
            w.WriteStartArray("cells");
            foreach (var c in m.Cells) { w.WriteStartObject(); w.WriteString("from", c.From); w.WriteString("to", c.To); w.WriteNumber("count", c.Count); w.WriteEndObject(); }
            w.WriteEndArray();
            w.WriteString("data_class", m.DataClass.ToString());
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("dwell"); foreach (var d in Dwell) d.WriteJson(w); w.WriteEndArray();
        if (Trajectories != null)
        {
            w.WriteStartArray("trajectories");
            foreach (var t in Trajectories)
            {
                w.WriteStartObject();
                w.WriteString("visit", t.VisitId);
                w.WriteStartArray("stays");
                foreach (var s in t.Stays) { w.WriteStartObject(); w.WriteString("place", s.Place); w.WriteNumber("enter_s", s.EnterSeconds); w.WriteNumber("last_s", s.LastSeconds); w.WriteEndObject(); }
                w.WriteEndArray();
                w.WriteString("data_class", t.DataClass.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    public string ToJson() => Json.Write(WriteJson);
}

/// <summary>
/// Floor occupancy per grid cell (person-frames), data class <see cref="DataClass.HeatMap"/>.
/// Rendered as a PNG with a fixed 8-colour palette; no camera pixel is involved.
/// </summary>
public sealed record FloorHeatMap(int CellsX, int CellsY, double CellMetres, IReadOnlyList<long> PersonFrames, FloorPlan Plan)
{
    public DataClass DataClass => DataClass.HeatMap;

    /// <summary><c>{"cells_x":…,"cells_y":…,"cell_m":…,"person_frames":[row-major]}</c>.</summary>
    public string ToJson() => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("cells_x", CellsX); w.WriteNumber("cells_y", CellsY); w.WriteNumber("cell_m", CellMetres);
        w.WriteStartArray("person_frames"); foreach (var v in PersonFrames) w.WriteNumberValue(v); w.WriteEndArray();
        w.WriteString("data_class", DataClass.ToString());
        w.WriteEndObject();
    });

    /// <summary>Background (no one there) then seven levels from low (blue) to high (red).</summary>
    public static readonly Rgb[] Palette =
    [
        new(255, 255, 255), new(49, 54, 149), new(69, 117, 180), new(116, 173, 209),
        new(254, 224, 144), new(253, 174, 97), new(244, 109, 67), new(215, 48, 39),
    ];
    /// <summary>Colour of the zone outlines drawn over the heat map.</summary>
    public static readonly Rgb OutlineColour = new(0, 0, 0);

    /// <summary>Palette index of a cell: 0 when empty, else 1..7 by its share of the busiest cell.</summary>
    public int LevelOf(int cx, int cy) => Level(PersonFrames[cy * CellsX + cx], MaxPersonFrames());

    private long MaxPersonFrames() { long max = 0; foreach (var c in PersonFrames) max = Math.Max(max, c); return max; }

    private static int Level(long v, long max) => v <= 0 || max <= 0 ? 0 : 1 + (int)Math.Min(6, (v * 7 - 1) / max);

    /// <summary>PNG of the heat map: <paramref name="pixelsPerCell"/> square pixels per cell, zone outlines on top.</summary>
    public byte[] RenderPng(int pixelsPerCell = 16)
    {
        if (pixelsPerCell < 1 || pixelsPerCell > 256) throw new EphemeraException($"heat map: pixels per cell must be 1..256, got {pixelsPerCell}");
        var canvas = new IconCanvas(CellsX * pixelsPerCell, CellsY * pixelsPerCell, Palette[0]);
        long max = MaxPersonFrames();
        for (int cy = 0; cy < CellsY; cy++)
            for (int cx = 0; cx < CellsX; cx++)
            {
                int level = Level(PersonFrames[cy * CellsX + cx], max);
                if (level > 0) canvas.FillRect(cx * pixelsPerCell, cy * pixelsPerCell, (cx + 1) * pixelsPerCell, (cy + 1) * pixelsPerCell, Palette[level]);
            }
        double pxPerMetre = pixelsPerCell / CellMetres;
        foreach (var z in Plan.Zones)
            canvas.DrawPolygon(z.Polygon.Vertices.Select(p => new Point2(p.X * pxPerMetre, p.Y * pxPerMetre)).ToArray(), 1, OutlineColour);
        return canvas.EncodePng();
    }
}
