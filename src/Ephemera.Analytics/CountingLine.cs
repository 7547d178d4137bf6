using System.Runtime.InteropServices;
using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>
/// A directed counting line (guidebook case 3), immutable and validated.
/// <para>Direction convention (image coordinates, x right, y down): stand at <see cref="Start"/>
/// and look towards <see cref="End"/> as drawn on screen. A crossing <b>in</b> goes from the
/// LEFT side of the segment to its RIGHT side; <b>out</b> is the reverse. Formally the side of a
/// point P is the sign of the cross product <c>(End − Start) × (P − Start)</c>, positive = right.
/// Examples: a line drawn left to right (0,500)→(100,500) has its right side below it, so moving
/// down the image is <c>in</c>; a line drawn top to bottom (960,0)→(960,1080) has its right side at
/// smaller x, so moving leftwards is <c>in</c>.</para>
/// </summary>
public sealed class CountingLineOptions
{
    /// <summary>Name used in outputs (default "x1,y1,x2,y2").</summary>
    public string Name { get; }
    /// <summary>Start of the directed segment, image pixels.</summary>
    public Point2 Start { get; }
    /// <summary>End of the directed segment, image pixels.</summary>
    public Point2 End { get; }
    /// <summary>Which point of the box must cross (default bottom-centre: the feet).</summary>
    public AnchorPoint Anchor { get; }
    /// <summary>Hysteresis: consecutive used frames the anchor must stay on the new side (default 3, ≥ 1).</summary>
    public int MinFramesAcross { get; }
    /// <summary>Hysteresis: distance in pixels from the line the anchor must reach on the new side before it returns (default 4, ≥ 0).</summary>
    public double MinDistancePx { get; }
    /// <summary>Width of the count time bins in seconds (default 60).</summary>
    public double TimeBinSeconds { get; }
    /// <summary>Use confirmed tracks' predicted (unobserved) boxes too (default false; see <see cref="TrackGate"/>).</summary>
    public bool UsePredicted { get; }
    /// <summary>Per-track state is dropped when a track has not been seen for this long, in case the tracker never reports its removal (default 30 s).</summary>
    public double StaleTrackSeconds { get; }
    /// <summary>How detector classes map to the reported count categories (default <see cref="CountCategories.Coco"/>; the engine passes its detector's map from the model manifest).</summary>
    public CountCategories Categories { get; }

    public CountingLineOptions(Point2 start, Point2 end, AnchorPoint anchor = AnchorPoint.BottomCenter,
        int minFramesAcross = 3, double minDistancePx = 4, double timeBinSeconds = 60, bool usePredicted = false,
        double staleTrackSeconds = 30, string? name = null, CountCategories? categories = null)
    {
        if (!double.IsFinite(start.X) || !double.IsFinite(start.Y) || !double.IsFinite(end.X) || !double.IsFinite(end.Y))
            throw new EphemeraException($"counting line: coordinates must be finite numbers, got {start} → {end}");
        if (Point2.Distance(start, end) < 1e-9) throw new EphemeraException($"counting line: start and end are the same point ({start.X}, {start.Y})");
        if (minFramesAcross < 1) throw new EphemeraException($"counting line: min frames across must be ≥ 1, got {minFramesAcross}");
        if (!(minDistancePx >= 0) || !double.IsFinite(minDistancePx)) throw new EphemeraException($"counting line: min distance must be ≥ 0 pixels, got {minDistancePx}");
        TimeBinning.Validate(timeBinSeconds, "counting line");
        if (!(staleTrackSeconds > 0)) throw new EphemeraException($"counting line: stale track seconds must be > 0, got {staleTrackSeconds}");
        Start = start; End = end; Anchor = anchor; MinFramesAcross = minFramesAcross; MinDistancePx = minDistancePx;
        TimeBinSeconds = timeBinSeconds; UsePredicted = usePredicted; StaleTrackSeconds = staleTrackSeconds;
        Categories = categories ?? CountCategories.Coco;
        Name = name ?? FormattableString.Invariant($"{start.X},{start.Y},{end.X},{end.Y}");
    }

    /// <summary>Parses <c>x1,y1,x2,y2</c> (image pixels).</summary>
    public static (Point2 Start, Point2 End) ParseSegment(string text)
    {
        var n = Numbers.ParseList(text, "line");
        if (n.Length != 4) throw new EphemeraException($"line '{text}': expected 4 numbers x1,y1,x2,y2, got {n.Length}");
        return (new Point2(n[0], n[1]), new Point2(n[2], n[3]));
    }
}

/// <summary>
/// Counts tracks crossing one directed segment, per class, direction and time bin.
/// <para>Semantics: a crossing starts when a used track's anchor moves from one side to the other
/// and the step between its last and current positions intersects the SEGMENT (passing beside an
/// end, across the infinite line only, is not a crossing). It is counted once the anchor has been
/// on the new side for <see cref="CountingLineOptions.MinFramesAcross"/> used frames and has reached
/// <see cref="CountingLineOptions.MinDistancePx"/> from the line; if it returns to the old side
/// first, nothing is counted (box flicker). Both hysteresis conditions must hold: set
/// MinFramesAcross = 1 for a distance-only rule, MinDistancePx = 0 for a frames-only rule. Points exactly on the line belong to no side and change
/// nothing. Each track is counted at most once per direction per line (in, then back out, gives
/// in=1, out=1; further flips are ignored). The count goes to the category
/// (<see cref="CountingLineOptions.Categories"/>) of the class the track has when the crossing is
/// confirmed and to the time bin of the frame where it crossed.</para>
/// <para>Classes the detector confuses with vehicles (a COCO detector looking down on a road calls
/// cars "airplane" or "boat") count as vehicles only with evidence that the track is a road user:
/// it has moved at least <see cref="EvidenceMinTravelBoxes"/> of its box's longer side from where it
/// was first seen, along a roughly straight path (net travel ≥ <see cref="EvidenceMinStraightness"/>
/// of the path length), and, once this line has counted vehicles of a direct class, its box size is
/// within a factor <see cref="EvidenceSizeFactor"/> of theirs (a running mean of log size) and, once
/// it has counted people, no smaller than they are.</para>
/// </summary>
public sealed class LineCounter : ITrackAnalyser
{
    private struct TrackLineState
    {
        public Point2 Last;
        public sbyte Side;          // settled side: +1 right, -1 left, 0 unknown (started on the line)
        public sbyte PendingSide;   // side being confirmed, 0 when none
        public byte CountedMask;    // bit 0: counted in, bit 1: counted out
        public int PendingFrames;
        public double PendingMaxDistance;
        public double PendingTime;
        public double LastSeen;
        public Point2 First;        // anchor when first seen, and the path length since: motion evidence
        public double Path;
    }

    /// <summary>Net travel, in box lengths, a track of an evidence-only class needs before it counts.</summary>
    public const double EvidenceMinTravelBoxes = 0.5;
    /// <summary>Net travel / path length a track of an evidence-only class needs (a jittering false box wanders).</summary>
    public const double EvidenceMinStraightness = 0.6;
    /// <summary>How far (as a factor either way) an evidence-only track's box size may be from the direct vehicles' mean.</summary>
    public const double EvidenceSizeFactor = 2.5;

    private readonly Dictionary<int, TrackLineState> _tracks = new();
    private readonly SortedDictionary<long, int[]> _bins = new(); // bin → [slot*2 + (0 in | 1 out)]
    private readonly int[] _totals = new int[CountCategories.Names.Length * 2];
    private double _vehicleLogSize, _personLogSize; // running means of log(√area) of direct-class vehicles and of people counted here
    private int _vehicleSizes, _personSizes;
    private readonly Point2 _a, _ab;
    private readonly double _abLength, _abLength2;
    private readonly TimeBinning _binning;
    private double _lastStaleScan = double.NegativeInfinity;

    public CountingLineOptions Options { get; }
    public int TrackStateCount => _tracks.Count;
    /// <summary>Crossings counted so far, all classes, left → right.</summary>
    public int In { get; private set; }
    /// <summary>Crossings counted so far, all classes, right → left.</summary>
    public int Out { get; private set; }

    public LineCounter(CountingLineOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _a = options.Start;
        _ab = options.End - options.Start;
        _abLength2 = _ab.X * _ab.X + _ab.Y * _ab.Y;
        _abLength = Math.Sqrt(_abLength2);
        _binning = new TimeBinning(options.TimeBinSeconds);
    }

    /// <summary>Signed distance of <paramref name="p"/> from the infinite line, pixels; positive = right side.</summary>
    public double SignedDistance(Point2 p) => Point2.Cross(_ab, p - _a) / _abLength;

    public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double timeSeconds)
    {
        foreach (int id in removedIds) _tracks.Remove(id);
        foreach (ref readonly var t in tracks)
        {
            if (t.State == TrackState.Removed) { _tracks.Remove(t.TrackId); continue; }
            if (!TrackGate.Uses(t, Options.UsePredicted)) continue;
            Step(t, timeSeconds);
        }
        EvictStale(timeSeconds);
    }

    private void Step(in TrackedObject t, double time)
    {
        var p = Anchors.Of(t.Box, Options.Anchor);
        double d = SignedDistance(p);
        sbyte s = d > 0 ? (sbyte)1 : d < 0 ? (sbyte)-1 : (sbyte)0;
        ref var st = ref CollectionsMarshal.GetValueRefOrAddDefault(_tracks, t.TrackId, out bool existed);
        if (!existed)
        {
            st = new TrackLineState { Last = p, Side = s, LastSeen = time, First = p };
            return;
        }
        st.Path += Point2.Distance(st.Last, p);
        if (st.PendingSide != 0)
        {
            if (s == st.PendingSide)
            {
                st.PendingFrames++;
                st.PendingMaxDistance = Math.Max(st.PendingMaxDistance, Math.Abs(d));
            }
            else if (s == st.Side) st.PendingSide = 0; // came back before the hysteresis: flicker, not a crossing
        }
        else if (s != 0)
        {
            if (st.Side == 0) st.Side = s;
            else if (s != st.Side)
            {
                if (StepCrossesSegment(st.Last, p))
                {
                    st.PendingSide = s; st.PendingFrames = 1; st.PendingMaxDistance = Math.Abs(d); st.PendingTime = time;
                }
                else st.Side = s; // went round the end of the segment: now on that side, no crossing
            }
        }
        if (st.PendingSide != 0 && st.PendingFrames >= Options.MinFramesAcross && st.PendingMaxDistance >= Options.MinDistancePx)
        {
            Count(ref st, t);
            st.Side = st.PendingSide; st.PendingSide = 0;
        }
        st.Last = p; st.LastSeen = time;
    }

    /// <summary>Whether the step q0 → q1 meets the segment (q0 on one side or on the line, q1 strictly on the other).</summary>
    private bool StepCrossesSegment(Point2 q0, Point2 q1)
    {
        double d0 = Point2.Cross(_ab, q0 - _a), d1 = Point2.Cross(_ab, q1 - _a);
        if (d0 == d1) return false;
        double f = d0 / (d0 - d1);                    // where along the step the infinite line is met
        var x = q0 + (q1 - q0) * f;
        double u = ((x.X - _a.X) * _ab.X + (x.Y - _a.Y) * _ab.Y) / _abLength2; // position along the segment
        return u >= 0 && u <= 1;
    }

    private void Count(ref TrackLineState st, in TrackedObject t)
    {
        bool isIn = st.PendingSide > 0; // left (-1) → right (+1)
        byte bit = isIn ? (byte)1 : (byte)2;
        if ((st.CountedMask & bit) != 0) return;
        var categories = Options.Categories;
        int slot = categories.CategoryOf(t.ClassId);
        if (slot < 0) { st.CountedMask |= bit; return; }
        double logSize = 0.5 * Math.Log(Math.Max(1e-6, (double)t.Box.W * t.Box.H));
        if (categories.NeedsEvidence(t.ClassId) && !HasRoadUserEvidence(st, Anchors.Of(t.Box, Options.Anchor), t.Box, logSize)) return; // may still count on a later crossing
        st.CountedMask |= bit;
        // Bounded: running means that forget slowly once they have 32 samples.
        if (categories.IsDirectVehicle(t.ClassId))
        {
            _vehicleSizes = Math.Min(_vehicleSizes + 1, 32);
            _vehicleLogSize += (logSize - _vehicleLogSize) / _vehicleSizes;
        }
        else if (slot == 0)
        {
            _personSizes = Math.Min(_personSizes + 1, 32);
            _personLogSize += (logSize - _personLogSize) / _personSizes;
        }
        if (isIn) In++; else Out++;
        int k = slot * 2 + (isIn ? 0 : 1);
        _totals[k]++;
        long bin = _binning.BinOf(st.PendingTime);
        if (!_bins.TryGetValue(bin, out var cells)) _bins[bin] = cells = new int[_totals.Length]; // once per bin, not per frame
        cells[k]++;
    }

    private bool HasRoadUserEvidence(in TrackLineState st, Point2 now, in BoxF box, double logSize)
    {
        double travel = Point2.Distance(st.First, now);
        if (travel < EvidenceMinTravelBoxes * Math.Max(box.W, box.H)) return false;
        if (travel < EvidenceMinStraightness * st.Path) return false;
        if (_personSizes > 0 && logSize < _personLogSize) return false; // smaller than the people here: not a road vehicle
        return _vehicleSizes == 0 || Math.Abs(logSize - _vehicleLogSize) <= Math.Log(EvidenceSizeFactor);
    }

    private void EvictStale(double now)
    {
        if (now - _lastStaleScan < Options.StaleTrackSeconds * 0.25) return;
        _lastStaleScan = now;
        foreach (var (id, st) in _tracks)
            if (now - st.LastSeen > Options.StaleTrackSeconds) _tracks.Remove(id);
    }

    /// <summary>All counts so far (closed and open bins); the counter keeps them.</summary>
    public LineCounts Snapshot() => Build(long.MaxValue, remove: false);

    /// <summary>Counts of the bins that ended at or before <paramref name="nowSeconds"/>; they are
    /// removed from the counter (the totals <see cref="In"/>/<see cref="Out"/> keep counting).</summary>
    public LineCounts Flush(double nowSeconds) => Build(_binning.BinOf(nowSeconds), remove: true);

    private LineCounts Build(long beforeBin, bool remove)
    {
        var rows = new List<LineCountBin>();
        List<long>? done = remove ? new() : null;
        foreach (var (bin, cells) in _bins)
        {
            if (bin >= beforeBin) break;
            for (int slot = 0; slot < CountCategories.Names.Length; slot++)
            {
                int i = cells[slot * 2], o = cells[slot * 2 + 1];
                if (i != 0 || o != 0)
                    rows.Add(new LineCountBin(_binning.StartOf(bin), _binning.StartOf(bin + 1), CountCategories.Names[slot], i, o));
            }
            done?.Add(bin);
        }
        if (done != null) foreach (var b in done) _bins.Remove(b);
        var byClass = new Dictionary<string, DirectionCounts>();
        for (int slot = 0; slot < CountCategories.Names.Length; slot++) // every category, zeros included
            byClass[CountCategories.Names[slot]] = new DirectionCounts(_totals[slot * 2], _totals[slot * 2 + 1]);
        return new LineCounts(Options.Name, Options.Start, Options.End, In, Out, byClass, rows);
    }
}

/// <summary>Crossings in one direction pair.</summary>
public readonly record struct DirectionCounts(int In, int Out);

/// <summary>One time bin × class cell of a counting line.</summary>
public sealed record LineCountBin(double BinStartSeconds, double BinEndSeconds, string Class, int In, int Out);

/// <summary>
/// Counts of one line (data class <see cref="DataClass.Count"/>): cumulative totals per direction and
/// class, plus the time-binned cells (k-suppression of small cells is the governance layer's job).
/// </summary>
public sealed record LineCounts(string Name, Point2 Start, Point2 End, int In, int Out,
    IReadOnlyDictionary<string, DirectionCounts> ByClass, IReadOnlyList<LineCountBin> Bins)
{
    public DataClass DataClass => DataClass.Count;

    /// <summary>Writes <c>{"line":[x1,y1,x2,y2],"in":N,"out":M,"by_class":{…}}</c>, plus name, bins and
    /// data class when <paramref name="full"/>.</summary>
    public void WriteJson(Utf8JsonWriter w, bool full = true)
    {
        w.WriteStartObject();
        if (full) w.WriteString("name", Name);
        w.WriteStartArray("line");
        w.WriteNumberValue(Start.X); w.WriteNumberValue(Start.Y); w.WriteNumberValue(End.X); w.WriteNumberValue(End.Y);
        w.WriteEndArray();
        w.WriteNumber("in", In);
        w.WriteNumber("out", Out);
        w.WriteStartObject("by_class");
        foreach (var (cls, c) in ByClass)
        {
            w.WriteStartObject(cls); w.WriteNumber("in", c.In); w.WriteNumber("out", c.Out); w.WriteEndObject();
        }
        w.WriteEndObject();
        if (!full) { w.WriteEndObject(); return; }
        w.WriteStartArray("bins");
        foreach (var b in Bins)
        {
            w.WriteStartObject();
            w.WriteNumber("start_s", b.BinStartSeconds); w.WriteNumber("end_s", b.BinEndSeconds);
            w.WriteString("class", b.Class); w.WriteNumber("in", b.In); w.WriteNumber("out", b.Out);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("data_class", DataClass.ToString());
        w.WriteEndObject();
    }

    public string ToJson() => Json.Write(w => WriteJson(w));
}

internal static class Json
{
    public static string Write(Action<Utf8JsonWriter> body)
    {
        var buf = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buf)) body(w);
        return System.Text.Encoding.UTF8.GetString(buf.WrittenSpan);
    }
}
