using Ephemera.Core;
using Ephemera.Runtime;

namespace Ephemera.Cluster;

/// <summary>
/// One camera's way from the engine's raw bins to parts, on a worker, with the self-fence: while
/// the worker holds the camera's lease its tables go out as parts of its ownership epoch; once it
/// could not renew the lease before it expires (<see cref="Fence"/>: the server is away, or this
/// process was paused, and another worker may have the camera now) the camera keeps running but its
/// tables are <em>held</em>, never sent under the old epoch. When the worker gets the lease back
/// and nobody else ran the camera meanwhile, the held counts go out as a new epoch's parts, less
/// what the old epoch already sent (<see cref="Resume"/>), so the collector's sum of epochs is the
/// camera's whole count; when another worker took it, the held counts are dropped with the camera
/// (that worker counted those frames).
/// </summary>
/// <remarks>
/// Parts are cumulative within an epoch and epochs add up at the collector, so after a fence the new
/// epoch sends "raw − base", where base is, per bin, what earlier epochs sent last. Occupancy
/// (merged by maximum) and crowd levels (the latest reading) are not sums: they are sent raw. Thread-safe (the engine's supervisor taps, the
/// worker's watchdog fences, its step loop resumes).
/// </remarks>
public sealed class CameraOutput(string camera, ulong epoch, DateTimeOffset epochStart)
{
    private readonly object _lock = new();
    private Dictionary<(DataClass, DateTimeOffset), RawBinTable> _base = new();    // subtracted from the current epoch's tables
    private readonly Dictionary<(DataClass, DateTimeOffset), RawBinTable> _sent = new(); // raw tables as last sent, per open bin
    private readonly Dictionary<(DataClass, DateTimeOffset), (RawBinTable Table, bool Closed, long MediaFrames)> _held = new();
    private Dictionary<(DataClass, DateTimeOffset), RawBinTable>? _fenceBase;
    private long _seq;
    private DateTimeOffset _epochStart = epochStart;

    /// <summary>The camera.</summary>
    public string Camera { get; } = camera;
    /// <summary>The epoch its parts go out under.</summary>
    public ulong Epoch { get { lock (_lock) return _epoch; } }
    private ulong _epoch = epoch;
    /// <summary>True while fenced: tables are held, nothing is sent.</summary>
    public bool Fenced { get { lock (_lock) return _fenceBase is not null; } }
    /// <summary>Bins held while fenced.</summary>
    public int Held { get { lock (_lock) return _held.Count; } }

    /// <summary>Tables from the engine: parts of the current epoch, or held while fenced.</summary>
    /// <param name="mediaFrames">Media time: the frames of the file the tables cover (-1: wall clock).</param>
    public List<BinPart> Tap(TimeSpan binLength, string manifestVersion, IReadOnlyList<RawBinTable> tables, bool closed, long mediaFrames = -1)
    {
        var parts = new List<BinPart>();
        lock (_lock)
        {
            foreach (var t in tables)
            {
                var key = (t.Class, t.BinStart);
                if (_fenceBase is not null) { _held[key] = (t, closed || (_held.TryGetValue(key, out var h) && h.Closed), mediaFrames); continue; }
                parts.Add(PartOf(binLength, manifestVersion, t, closed, mediaFrames));
            }
        }
        return parts;
    }

    private BinPart PartOf(TimeSpan binLength, string manifestVersion, RawBinTable t, bool closed, long mediaFrames)
    {
        // Media time: the table counts from the file's start whoever ran it: sent whole, never a difference.
        if (mediaFrames >= 0)
            return BinPart.From(Camera, binLength, manifestVersion, _epoch, ++_seq, closed, t) with { AsOf = DateTimeOffset.UtcNow, EpochStart = _epochStart, MediaFrame = mediaFrames };
        var key = (t.Class, t.BinStart);
        var send = _base.TryGetValue(key, out var b) ? Subtract(t, b) : t;
        if (closed) { _sent.Remove(key); _base.Remove(key); } // a closed bin gets no more tables
        else _sent[key] = t;
        return BinPart.From(Camera, binLength, manifestVersion, _epoch, ++_seq, closed, send) with { AsOf = DateTimeOffset.UtcNow, EpochStart = _epochStart };
    }

    // Trajectories: a media-time camera's visits per open bin (sent whole when the bin closes), the time
    // before which its bins are closed, and the visit groups held while fenced.
    private readonly SortedDictionary<DateTimeOffset, List<TrajectoryVisit>> _visits = new();
    // Media time: per bin, how often each visit content was seen (two people can walk the same coarse path at the
    // same times: the n-th such visit is "#n"; arrival order is the file's, so the same on every owner). Kept a while after the close, for late visits.
    private readonly SortedDictionary<DateTimeOffset, Dictionary<string, int>> _seen = new();
    private DateTimeOffset _visitsClosedBefore = DateTimeOffset.MinValue;
    private readonly List<(DateTimeOffset Bin, List<TrajectoryVisit> Visits, bool Closed, long MediaFrames)> _heldVisits = new();

    /// <summary>
    /// Coarsened visits from the engine (those that ended since its last flush) and the time before which
    /// the camera's bins are closed. Wall clock: each bin's new visits go out at once as a part of the
    /// current epoch (named by epoch and sequence). Media time: a bin's visits are kept until the bin
    /// closes, then go out in one closed part (named by the visits, the same from any owner); a visit of
    /// a bin closed before goes out alone, and the collector counts it late. Held while fenced.
    /// </summary>
    public List<TrajectoryPart> TapVisits(TimeSpan binLength, string manifestVersion, IReadOnlyList<CoarseVisit> visits, DateTimeOffset closedBefore, long mediaFrames = -1)
    {
        var groups = new List<(DateTimeOffset Bin, List<TrajectoryVisit> Visits, bool Closed, long MediaFrames)>();
        lock (_lock)
        {
            if (mediaFrames < 0)
                groups.AddRange(visits.GroupBy(v => v.BinStart).OrderBy(g => g.Key)
                    .Select(g => (g.Key, g.Select(v => new TrajectoryVisit("", v.Places, v.Steps)).ToList(), false, -1L))); // ids: epoch and sequence, when sent
            else
            {
                foreach (var g in visits.GroupBy(v => v.BinStart).OrderBy(g => g.Key))
                {
                    if (!_seen.TryGetValue(g.Key, out var seen)) _seen[g.Key] = seen = new Dictionary<string, int>(StringComparer.Ordinal);
                    var named = g.Select(v =>
                    {
                        string id = TrajectoryPart.MediaVisitId(v);
                        int n = seen.GetValueOrDefault(id);
                        seen[id] = n + 1;
                        return new TrajectoryVisit(n == 0 ? id : $"{id}#{n}", v.Places, v.Steps);
                    }).ToList();
                    if (g.Key + binLength <= _visitsClosedBefore) { groups.Add((g.Key, named, false, mediaFrames)); continue; } // late
                    if (!_visits.TryGetValue(g.Key, out var kept)) _visits[g.Key] = kept = new List<TrajectoryVisit>();
                    kept.AddRange(named);
                }
                if (closedBefore > _visitsClosedBefore) _visitsClosedBefore = closedBefore;
                foreach (var bin in _visits.Keys.Where(b => b + binLength <= _visitsClosedBefore).ToList())
                {
                    groups.Add((bin, _visits[bin], true, mediaFrames));
                    _visits.Remove(bin);
                }
                foreach (var old in _seen.Keys.Where(b => b + binLength + TimeSpan.FromHours(1) <= _visitsClosedBefore).ToList()) _seen.Remove(old);
            }
            if (_fenceBase is not null) { _heldVisits.AddRange(groups); return []; }
            return groups.Select(g => VisitPart(binLength, manifestVersion, g.Bin, g.Visits, g.Closed, g.MediaFrames)).ToList();
        }
    }

    private List<TrajectoryPart> _resumedVisits = new();

    /// <summary>The trajectory parts of visits held while fenced, made by the last <see cref="Resume"/> (once: cleared here).</summary>
    public List<TrajectoryPart> TakeResumedVisits()
    {
        lock (_lock) { var v = _resumedVisits; _resumedVisits = new(); return v; }
    }

    private TrajectoryPart VisitPart(TimeSpan binLength, string manifestVersion, DateTimeOffset bin, List<TrajectoryVisit> visits, bool closed, long mediaFrames)
    {
        long seq = ++_seq;
        return new TrajectoryPart(TrajectoryPart.TrajectoryKind, Camera, manifestVersion, bin, binLength.TotalSeconds, _epoch, seq, closed,
            visits.Select((v, i) => v.Id.Length > 0 ? v : v with { Id = $"e{_epoch}.{seq}.{i}" }).ToList(), DateTimeOffset.UtcNow, _epochStart, mediaFrames);
    }

    /// <summary>The lease could not be renewed in time: from now on tables are held. What was sent so far stays the old epoch's.</summary>
    public void Fence()
    {
        lock (_lock)
        {
            if (_fenceBase is not null) return;
            // Per open bin, what the epochs so far sent in all: the next epoch sends only what comes on top.
            _fenceBase = new Dictionary<(DataClass, DateTimeOffset), RawBinTable>(_base);
            foreach (var (key, t) in _sent) _fenceBase[key] = t;
        }
    }

    /// <summary>
    /// Ends the fence: under <paramref name="newEpoch"/> (the lease claimed again; nobody else ran the
    /// camera meanwhile) the held tables go out less what the old epoch sent; under the same epoch (the
    /// lease was renewed after all) they go out as they are (less the current epoch's own base). Returns the parts.
    /// </summary>
    public List<BinPart> Resume(ulong newEpoch, DateTimeOffset newEpochStart, TimeSpan binLength, string manifestVersion)
    {
        lock (_lock)
        {
            if (_fenceBase is null) return [];
            if (newEpoch != _epoch) { _base = _fenceBase; _sent.Clear(); _epoch = newEpoch; _epochStart = newEpochStart; }
            _fenceBase = null;
            var parts = _held.Values.OrderBy(h => h.Table.BinStart).Select(h => PartOf(binLength, manifestVersion, h.Table, h.Closed, h.MediaFrames)).ToList();
            // Visits are not cumulative: the held ones go out as they are, under the (new) epoch.
            _resumedVisits = _heldVisits.Select(g => VisitPart(binLength, manifestVersion, g.Bin, g.Visits, g.Closed, g.MediaFrames)).ToList();
            _heldVisits.Clear();
            _held.Clear();
            return parts;
        }
    }

    /// <summary>
    /// Whether the collector adds a class's parts of different epochs up (counts, dwell, transitions,
    /// attribute aggregates) — else it merges them by maximum (occupancy) or takes the latest reading
    /// (crowd levels), and a new epoch sends the raw table, not a difference.
    /// </summary>
    public static bool IsSummed(DataClass cls) => cls is not (DataClass.ZoneOccupancy or DataClass.CrowdLevel);

    /// <summary><paramref name="t"/> less <paramref name="b"/>, cell by label (a class not <see cref="IsSummed"/> as it is).</summary>
    public static RawBinTable Subtract(RawBinTable t, RawBinTable b)
    {
        if (!IsSummed(t.Class)) return t;
        var counts = new int[t.Rows.Count, t.Cols.Count];
        for (int r = 0; r < t.Rows.Count; r++)
        {
            int br = IndexOf(b.Rows, t.Rows[r]);
            for (int c = 0; c < t.Cols.Count; c++)
            {
                int bc = IndexOf(b.Cols, t.Cols[c]);
                counts[r, c] = Math.Max(0, t.Counts[r, c] - (br >= 0 && bc >= 0 ? b.Counts[br, bc] : 0));
            }
        }
        return t with { Counts = counts };
    }

    private static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int i = 0; i < labels.Count; i++) if (labels[i] == label) return i;
        return -1;
    }
}
