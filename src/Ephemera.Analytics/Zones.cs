using System.Runtime.InteropServices;
using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>One polygon zone in image pixels (cases 2 and 5), immutable and validated.</summary>
public sealed class ZoneOptions
{
    /// <summary>Name used in outputs; non-empty.</summary>
    public string Name { get; }
    /// <summary>The zone, image pixels; a track is inside when its anchor point is.</summary>
    public Polygon Polygon { get; }
    /// <summary>A store zone in front of a shelf: visits of at least <see cref="MinStopSeconds"/> are reported as stops (default false).</summary>
    public bool ShelfFront { get; }
    /// <summary>Minimum dwell, seconds, for a shelf-front visit to count as a stop (default 3).</summary>
    public double MinStopSeconds { get; }

    public ZoneOptions(string name, Polygon polygon, bool shelfFront = false, double minStopSeconds = 3)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new EphemeraException("zone: name must not be empty");
        if (!(minStopSeconds >= 0) || !double.IsFinite(minStopSeconds)) throw new EphemeraException($"zone '{name}': min stop seconds must be ≥ 0, got {minStopSeconds}");
        Name = name; Polygon = polygon ?? throw new EphemeraException($"zone '{name}': polygon missing");
        ShelfFront = shelfFront; MinStopSeconds = minStopSeconds;
    }

    /// <summary>Parses <c>name:x1,y1,x2,y2,x3,y3,…</c> (image pixels).</summary>
    public static ZoneOptions Parse(string text)
    {
        int colon = text.IndexOf(':');
        if (colon <= 0) throw new EphemeraException($"zone '{text}': expected name:x1,y1,x2,y2,x3,y3,…");
        try
        {
            return new ZoneOptions(text[..colon].Trim(), Polygon.Parse(text[(colon + 1)..]));
        }
        catch (EphemeraException e)
        {
            throw new EphemeraException($"zone '{text}': {e.Message}", e);
        }
    }
}

/// <summary>Options of the zone analyser: the zones and how occupancy and dwell are binned.</summary>
public sealed class ZoneAnalyserOptions
{
    public IReadOnlyList<ZoneOptions> Zones { get; }
    /// <summary>Which point of the box must be inside the polygon (default bottom-centre).</summary>
    public AnchorPoint Anchor { get; }
    /// <summary>Width of occupancy and dwell time bins, seconds (default 60).</summary>
    public double TimeBinSeconds { get; }
    /// <summary>Dwell histogram bucket lower edges in seconds, strictly increasing from 0; bucket i is
    /// [edge i, edge i+1), the last is open-ended (default 0, 5, 15, 30, 60, 120, 300, 600).</summary>
    public IReadOnlyList<double> DwellBucketEdgesSeconds { get; }
    /// <summary>A visit survives an absence (outside, lost, occluded) up to this long, seconds (default 1).</summary>
    public double ExitGraceSeconds { get; }
    /// <summary>Use confirmed tracks' predicted boxes too (default false).</summary>
    public bool UsePredicted { get; }

    /// <summary>COCO classes that take part (default person only: people, not bags or cars).</summary>
    public IReadOnlyList<int> ClassIds => ClassIdArray;
    internal int[] ClassIdArray { get; }

    public ZoneAnalyserOptions(IEnumerable<ZoneOptions> zones, AnchorPoint anchor = AnchorPoint.BottomCenter,
        double timeBinSeconds = 60, IEnumerable<double>? dwellBucketEdgesSeconds = null, double exitGraceSeconds = 1,
        bool usePredicted = false, IEnumerable<int>? classIds = null)
    {
        Zones = (zones ?? throw new EphemeraException("zones: list missing")).ToArray();
        var names = new HashSet<string>();
        foreach (var z in Zones) if (!names.Add(z.Name)) throw new EphemeraException($"zones: name '{z.Name}' is used twice");
        TimeBinning.Validate(timeBinSeconds, "zones");
        DwellBucketEdgesSeconds = DwellHistogram.ValidateEdges(dwellBucketEdgesSeconds ?? DwellHistogram.DefaultEdges, "zones");
        if (!(exitGraceSeconds >= 0) || !double.IsFinite(exitGraceSeconds)) throw new EphemeraException($"zones: exit grace must be ≥ 0 seconds, got {exitGraceSeconds}");
        Anchor = anchor; TimeBinSeconds = timeBinSeconds; ExitGraceSeconds = exitGraceSeconds; UsePredicted = usePredicted;
        ClassIdArray = TrackGate.ValidateClasses(classIds, "zones");
    }
}

/// <summary>
/// Occupancy and dwell per polygon zone. Per frame, each zone's occupancy is the number of used
/// tracks whose anchor is inside; per time bin the analyser reports mean and max occupancy. A visit
/// starts at the first frame inside and ends when the track has been out (or unseen) for longer
/// than the exit grace, or is removed; its dwell (last inside − first inside) goes into the
/// histogram of the bin in which it ended. Shelf-front zones also report stops (visits ≥ their
/// minimum stop dwell).
/// </summary>
public sealed class ZoneAnalyser : ITrackAnalyser
{
    private struct Visit { public double Enter, LastInside; }

    private sealed class ZoneState(ZoneOptions options, int buckets)
    {
        public readonly ZoneOptions Options = options;
        public readonly Dictionary<int, Visit> Visits = new();
        public readonly SortedDictionary<long, BinAcc> Bins = new();
        public readonly long[] TotalDwell = new long[buckets];
        public readonly long[] TotalStopDwell = new long[buckets];
        public long TotalVisits, TotalStops;
        public int MaxOccupancy;
        public int Occupancy;
    }

    private sealed class BinAcc(int buckets)
    {
        public double SumOccupancy; public int Frames; public int MaxOccupancy;
        public readonly long[] Dwell = new long[buckets];
        public readonly long[] StopDwell = new long[buckets];
        public long Visits, Stops;
    }

    private readonly ZoneState[] _zones;
    private readonly double[] _edges;
    private readonly TimeBinning _binning;

    public ZoneAnalyserOptions Options { get; }

    public ZoneAnalyser(ZoneAnalyserOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _edges = options.DwellBucketEdgesSeconds.ToArray();
        _zones = options.Zones.Select(z => new ZoneState(z, _edges.Length)).ToArray();
        _binning = new TimeBinning(options.TimeBinSeconds);
    }

    public int TrackStateCount
    {
        get { int n = 0; foreach (var z in _zones) n += z.Visits.Count; return n; }
    }

    /// <summary>Occupancy of each zone at the last update, in <see cref="ZoneAnalyserOptions.Zones"/> order.</summary>
    public int OccupancyOf(int zoneIndex) => _zones[zoneIndex].Occupancy;

    public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double timeSeconds)
    {
        foreach (int id in removedIds) EndVisits(id, timeSeconds);
        foreach (var z in _zones) z.Occupancy = 0;
        foreach (ref readonly var t in tracks)
        {
            if (t.State == TrackState.Removed) { EndVisits(t.TrackId, timeSeconds); continue; }
            if (!TrackGate.Uses(t, Options.UsePredicted, Options.ClassIdArray)) continue;
            var p = Anchors.Of(t.Box, Options.Anchor);
            foreach (var z in _zones)
            {
                if (!z.Options.Polygon.Contains(p)) continue;
                z.Occupancy++;
                ref var v = ref CollectionsMarshal.GetValueRefOrAddDefault(z.Visits, t.TrackId, out bool existed);
                if (!existed) v.Enter = timeSeconds;
                v.LastInside = timeSeconds;
            }
        }
        long bin = _binning.BinOf(timeSeconds);
        foreach (var z in _zones)
        {
            var acc = BinFor(z, bin);
            acc.SumOccupancy += z.Occupancy; acc.Frames++;
            acc.MaxOccupancy = Math.Max(acc.MaxOccupancy, z.Occupancy);
            z.MaxOccupancy = Math.Max(z.MaxOccupancy, z.Occupancy);
            foreach (var (id, v) in z.Visits) // allowed: removing the current entry while enumerating
                if (timeSeconds - v.LastInside > Options.ExitGraceSeconds) { Record(z, v); z.Visits.Remove(id); }
        }
    }

    private void EndVisits(int trackId, double now)
    {
        foreach (var z in _zones)
            if (z.Visits.Remove(trackId, out var v)) Record(z, v);
    }

    private BinAcc BinFor(ZoneState z, long bin)
    {
        if (!z.Bins.TryGetValue(bin, out var acc)) z.Bins[bin] = acc = new BinAcc(_edges.Length); // once per bin
        return acc;
    }

    private void Record(ZoneState z, Visit v)
    {
        double dwell = v.LastInside - v.Enter;
        int bucket = DwellHistogram.BucketOf(_edges, dwell);
        var acc = BinFor(z, _binning.BinOf(v.LastInside));
        acc.Dwell[bucket]++; acc.Visits++; z.TotalDwell[bucket]++; z.TotalVisits++;
        if (z.Options.ShelfFront && dwell >= z.Options.MinStopSeconds)
        {
            acc.StopDwell[bucket]++; acc.Stops++; z.TotalStopDwell[bucket]++; z.TotalStops++;
        }
    }

    /// <summary>Everything so far (closed and open bins); open visits are not yet in the histograms.</summary>
    public ZoneReport Snapshot() => Build(long.MaxValue, remove: false);

    /// <summary>Bins that ended at or before <paramref name="nowSeconds"/>, removed from the analyser.</summary>
    public ZoneReport Flush(double nowSeconds) => Build(_binning.BinOf(nowSeconds), remove: true);

    private ZoneReport Build(long beforeBin, bool remove)
    {
        var results = new List<ZoneResult>();
        foreach (var z in _zones)
        {
            var occ = new List<ZoneOccupancyBin>();
            var dwell = new List<DwellHistogram>();
            var done = new List<long>();
            foreach (var (bin, acc) in z.Bins)
            {
                if (bin >= beforeBin) break;
                double s = _binning.StartOf(bin), e = _binning.StartOf(bin + 1);
                if (acc.Frames > 0) occ.Add(new ZoneOccupancyBin(s, e, acc.SumOccupancy / acc.Frames, acc.MaxOccupancy, acc.Frames));
                if (acc.Visits > 0) dwell.Add(new DwellHistogram(z.Options.Name, s, e, _edges, acc.Dwell.ToArray(), acc.Visits, false));
                if (acc.Stops > 0) dwell.Add(new DwellHistogram(z.Options.Name, s, e, _edges, acc.StopDwell.ToArray(), acc.Stops, true));
                done.Add(bin);
            }
            if (remove) foreach (var b in done) z.Bins.Remove(b);
            results.Add(new ZoneResult(z.Options.Name, z.Options.Polygon, z.Options.ShelfFront, z.MaxOccupancy, z.TotalVisits, z.TotalStops,
                new DwellHistogram(z.Options.Name, double.NegativeInfinity, double.PositiveInfinity, _edges, z.TotalDwell.ToArray(), z.TotalVisits, false),
                z.Options.ShelfFront ? new DwellHistogram(z.Options.Name, double.NegativeInfinity, double.PositiveInfinity, _edges, z.TotalStopDwell.ToArray(), z.TotalStops, true) : null,
                occ, dwell));
        }
        return new ZoneReport(results);
    }
}

/// <summary>Mean and max occupancy of a zone over one time bin (data class <see cref="DataClass.ZoneOccupancy"/>).</summary>
public sealed record ZoneOccupancyBin(double BinStartSeconds, double BinEndSeconds, double MeanOccupancy, int MaxOccupancy, int Frames)
{
    public DataClass DataClass => DataClass.ZoneOccupancy;
}

/// <summary>
/// Dwell-time histogram of one zone over one time bin (or over all time when the bounds are
/// infinite), data class <see cref="DataClass.DwellHistogram"/>. <see cref="Counts"/>[i] counts
/// visits with dwell in [Edges[i], Edges[i+1]); the last bucket is open-ended. <see cref="StopsOnly"/>
/// marks the shelf-front stop histogram.
/// </summary>
public sealed record DwellHistogram(string Zone, double BinStartSeconds, double BinEndSeconds, IReadOnlyList<double> Edges,
    IReadOnlyList<long> Counts, long Visits, bool StopsOnly)
{
    public static readonly double[] DefaultEdges = [0, 5, 15, 30, 60, 120, 300, 600];
    public DataClass DataClass => DataClass.DwellHistogram;

    internal static double[] ValidateEdges(IEnumerable<double> edges, string what)
    {
        var e = edges.ToArray();
        if (e.Length == 0 || e[0] != 0) throw new EphemeraException($"{what}: dwell bucket edges must start at 0, got [{string.Join(", ", e)}]");
        for (int i = 1; i < e.Length; i++)
            if (!(e[i] > e[i - 1]) || !double.IsFinite(e[i])) throw new EphemeraException($"{what}: dwell bucket edges must strictly increase, got [{string.Join(", ", e)}]");
        return e;
    }

    internal static int BucketOf(double[] edges, double dwell)
    {
        int i = edges.Length - 1;
        while (i > 0 && dwell < edges[i]) i--;
        return i;
    }

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("zone", Zone);
        if (double.IsFinite(BinStartSeconds)) { w.WriteNumber("start_s", BinStartSeconds); w.WriteNumber("end_s", BinEndSeconds); }
        w.WriteBoolean("stops_only", StopsOnly);
        w.WriteStartArray("edges_s"); foreach (var x in Edges) w.WriteNumberValue(x); w.WriteEndArray();
        w.WriteStartArray("counts"); foreach (var x in Counts) w.WriteNumberValue(x); w.WriteEndArray();
        w.WriteNumber("visits", Visits);
        w.WriteString("data_class", DataClass.ToString());
        w.WriteEndObject();
    }
}

/// <summary>One zone's outputs.</summary>
public sealed record ZoneResult(string Name, Polygon Polygon, bool ShelfFront, int MaxOccupancy, long Visits, long Stops,
    DwellHistogram TotalDwell, DwellHistogram? TotalStopDwell,
    IReadOnlyList<ZoneOccupancyBin> Occupancy, IReadOnlyList<DwellHistogram> DwellBins)
{
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("zone", Name);
        w.WriteStartArray("polygon");
        foreach (var p in Polygon.Vertices) { w.WriteNumberValue(p.X); w.WriteNumberValue(p.Y); }
        w.WriteEndArray();
        w.WriteBoolean("shelf_front", ShelfFront);
        w.WriteNumber("max_occupancy", MaxOccupancy);
        w.WriteNumber("visits", Visits);
        if (ShelfFront) w.WriteNumber("stops", Stops);
        w.WritePropertyName("dwell"); TotalDwell.WriteJson(w);
        if (TotalStopDwell != null) { w.WritePropertyName("stop_dwell"); TotalStopDwell.WriteJson(w); }
        w.WriteStartArray("occupancy");
        foreach (var o in Occupancy)
        {
            w.WriteStartObject();
            w.WriteNumber("start_s", o.BinStartSeconds); w.WriteNumber("end_s", o.BinEndSeconds);
            w.WriteNumber("mean", Math.Round(o.MeanOccupancy, 4)); w.WriteNumber("max", o.MaxOccupancy); w.WriteNumber("frames", o.Frames);
            w.WriteString("data_class", o.DataClass.ToString());
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("dwell_bins"); foreach (var d in DwellBins) d.WriteJson(w); w.WriteEndArray();
        w.WriteEndObject();
    }
}

/// <summary>All zones of one camera.</summary>
public sealed record ZoneReport(IReadOnlyList<ZoneResult> Zones)
{
    public string ToJson() => Json.Write(w => { w.WriteStartArray(); foreach (var z in Zones) z.WriteJson(w); w.WriteEndArray(); });
}
