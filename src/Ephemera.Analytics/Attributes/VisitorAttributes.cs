using System.Collections.Concurrent;
using Ephemera.Core;

namespace Ephemera.Analytics.Attributes;

/// <summary>Settings of the visitor attribute analyser (case 1), validated here.</summary>
public sealed class VisitorAttributeOptions
{
    public AgeBands Bands { get; }
    public double TimeBinSeconds { get; }
    /// <summary>Best-quality estimates kept per track and averaged (quality-weighted) when it ends.</summary>
    public int EstimatesPerTrack { get; }
    /// <summary>A visitor whose averaged P(male) lies within this of 0.5 goes to the "unknown" sex column.</summary>
    public double SexMargin { get; }
    /// <summary>Optional entrance zone (image pixels): only tracks seen inside it are visitors; null = every person track.</summary>
    public Polygon? Entrance { get; }
    /// <summary>Smallest IoU between a stage's person box and a track's box for an estimate to join that track.</summary>
    public float MatchIoU { get; }

    public VisitorAttributeOptions(AgeBands bands, double timeBinSeconds, int estimatesPerTrack = 5, double sexMargin = 0.1,
        Polygon? entrance = null, float matchIoU = 0.3f)
    {
        if (timeBinSeconds <= 0) throw new EphemeraException($"attributes: time bin must be positive, got {timeBinSeconds} s");
        if (estimatesPerTrack is < 1 or > 64) throw new EphemeraException($"attributes: estimates per track must be 1..64, got {estimatesPerTrack}");
        if (sexMargin is < 0 or >= 0.5) throw new EphemeraException($"attributes: sex margin must be in [0, 0.5), got {sexMargin}");
        if (matchIoU is <= 0 or > 1) throw new EphemeraException($"attributes: match IoU must be in (0, 1], got {matchIoU}");
        Bands = bands ?? throw new ArgumentNullException(nameof(bands));
        TimeBinSeconds = timeBinSeconds; EstimatesPerTrack = estimatesPerTrack; SexMargin = sexMargin; Entrance = entrance; MatchIoU = matchIoU;
    }
}

/// <summary>One bin of the attribute aggregate, raw (before the release gate): rows = age bands + "unknown", columns = female, male, unknown.</summary>
public sealed record AttributeBin(double BinStartSeconds, IReadOnlyList<string> Rows, IReadOnlyList<string> Cols, int[,] Counts)
{
    public int Total { get { int n = 0; foreach (var c in Counts) n += c; return n; } }
}

/// <summary>
/// Case 1's visitor attributes: age/sex estimates from the face stage join the person track whose box
/// they came from; when the track ends, one visitor {age band, sex} is added to the bin of its
/// arrival and every estimate of the track is wiped. A visitor whose face never passed the quality
/// gate is counted in the "unknown" row and column, so a bin's total is the number of visitors.
/// Nothing per person outlives its track (<see cref="TrackStateCount"/> is 0 once all tracks ended).
/// One instance per camera, driven by the camera's thread; no managed allocation per frame in steady state.
/// </summary>
public sealed class VisitorAttributeAnalyser : ITrackAnalyser
{
    public static readonly string[] SexColumns = ["female", "male", "unknown"];
    public const string Unknown = "unknown";
    private static readonly int[] PersonOnly = [CocoClasses.Person];

    private readonly VisitorAttributeOptions _o;
    private readonly Dictionary<int, Slot> _tracks = new();
    private readonly Stack<Slot> _free = new();
    private readonly SortedDictionary<long, int[,]> _bins = new();
    private readonly string[] _rows;
    private TrackedObject[] _current = new TrackedObject[64];
    private int _currentCount;
    // Estimates posted by the face stage's thread, joined to tracks on the camera thread at the next Update.
    private readonly ConcurrentQueue<Pending> _posted = new();
    private readonly record struct Pending(BoxF Box, float Age, float Male, float Quality);

    public VisitorAttributeOptions Options => _o;
    public IReadOnlyList<string> Rows => _rows;
    /// <summary>Tracks with per-person state (estimates) held now.</summary>
    public int TrackStateCount => _tracks.Count;
    /// <summary>Estimates that joined a track, and those that matched none (counted, dropped).</summary>
    public long EstimatesJoined { get; private set; }
    public long EstimatesUnmatched { get; private set; }
    /// <summary>Visitors added to the bins so far, and those of them without any estimate ("unknown").</summary>
    public long Visitors { get; private set; }
    public long UnknownVisitors { get; private set; }

    public VisitorAttributeAnalyser(VisitorAttributeOptions options)
    {
        _o = options ?? throw new ArgumentNullException(nameof(options));
        _rows = [.. options.Bands.Labels, Unknown];
    }

    public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double timeSeconds)
    {
        if (_current.Length < tracks.Length) _current = new TrackedObject[Math.Max(tracks.Length, _current.Length * 2)];
        _currentCount = 0;
        foreach (ref readonly var t in tracks)
        {
            if (!TrackGate.Uses(t, usePredicted: false, PersonOnly)) continue;
            _current[_currentCount++] = t;
            if (_o.Entrance is { } zone && !zone.Contains(new Point2(t.Box.CenterX, t.Box.Bottom))) continue;
            if (!_tracks.ContainsKey(t.TrackId))
            {
                var s = _free.Count > 0 ? _free.Pop() : new Slot(_o.EstimatesPerTrack);
                s.ArrivalSeconds = timeSeconds;
                _tracks[t.TrackId] = s;
            }
        }
        while (_posted.TryDequeue(out var p)) Observe(p.Box, p.Age, p.Male, p.Quality);
        foreach (var id in removedIds) End(id);
    }

    /// <summary>
    /// Thread-safe: queues one estimate from the face stage (any thread); it joins a track at the next
    /// <see cref="Update(ReadOnlySpan{TrackedObject}, ReadOnlySpan{int}, double)"/>, matched against that frame's tracks.
    /// </summary>
    public void Post(in BoxF personBox, float age, float maleProbability, float quality) =>
        _posted.Enqueue(new Pending(personBox, age, maleProbability, quality));

    /// <summary>
    /// One estimate from the face stage for the person in <paramref name="personBox"/> (frame pixels):
    /// it joins the current visitor track with the highest IoU (at least <see cref="VisitorAttributeOptions.MatchIoU"/>).
    /// <paramref name="quality"/> in (0, 1] ranks and weights the estimates of a track.
    /// </summary>
    public bool Observe(in BoxF personBox, float age, float maleProbability, float quality)
    {
        int best = -1; float bestIoU = _o.MatchIoU;
        for (int i = 0; i < _currentCount; i++)
        {
            float iou = BoxF.IoU(personBox, _current[i].Box);
            if (iou >= bestIoU && _tracks.ContainsKey(_current[i].TrackId)) { bestIoU = iou; best = i; }
        }
        if (best < 0) { EstimatesUnmatched++; return false; }
        _tracks[_current[best].TrackId].Add(age, maleProbability, Math.Clamp(quality, 1e-6f, 1f));
        EstimatesJoined++;
        return true;
    }

    /// <summary>Ends every track still open (camera stop): each becomes a visitor now.</summary>
    public void EndAll()
    {
        foreach (var id in _tracks.Keys.ToArray()) End(id);
    }

    /// <summary>Bins that closed before <paramref name="nowSeconds"/>, removed from the analyser.</summary>
    public IReadOnlyList<AttributeBin> Flush(double nowSeconds)
    {
        var done = new List<AttributeBin>();
        foreach (var (key, counts) in _bins)
        {
            double start = key * _o.TimeBinSeconds;
            if (start + _o.TimeBinSeconds > nowSeconds) break;
            done.Add(new AttributeBin(start, _rows, SexColumns, counts));
        }
        foreach (var b in done) _bins.Remove((long)Math.Floor(b.BinStartSeconds / _o.TimeBinSeconds));
        return done;
    }

    /// <summary>Every bin so far (open ones included), not removed.</summary>
    public IReadOnlyList<AttributeBin> Snapshot() =>
        _bins.Select(kv => new AttributeBin(kv.Key * _o.TimeBinSeconds, _rows, SexColumns, (int[,])kv.Value.Clone())).ToList();

    private void End(int trackId)
    {
        if (!_tracks.Remove(trackId, out var s)) return;
        long key = (long)Math.Floor(s.ArrivalSeconds / _o.TimeBinSeconds);
        if (!_bins.TryGetValue(key, out var counts)) _bins[key] = counts = new int[_rows.Length, SexColumns.Length];
        Visitors++;
        if (s.Count == 0) { counts[_rows.Length - 1, 2]++; UnknownVisitors++; }
        else
        {
            var (age, male) = s.Mean();
            int col = male >= 0.5 + _o.SexMargin ? 1 : male <= 0.5 - _o.SexMargin ? 0 : 2;
            counts[_o.Bands.IndexOf(age), col]++;
        }
        s.Wipe(); // the per-track estimates are gone before the slot is reused
        _free.Push(s);
    }

    /// <summary>A track's best estimates (fixed arrays, reused across tracks).</summary>
    private sealed class Slot(int capacity)
    {
        private readonly float[] _age = new float[capacity], _male = new float[capacity], _q = new float[capacity];
        public int Count;
        public double ArrivalSeconds;

        public void Add(float age, float male, float q)
        {
            if (Count < _q.Length) { _age[Count] = age; _male[Count] = male; _q[Count] = q; Count++; return; }
            int worst = 0;
            for (int i = 1; i < Count; i++) if (_q[i] < _q[worst]) worst = i;
            if (q <= _q[worst]) return;
            _age[worst] = age; _male[worst] = male; _q[worst] = q;
        }

        public (double Age, double Male) Mean()
        {
            double w = 0, a = 0, m = 0;
            for (int i = 0; i < Count; i++) { w += _q[i]; a += _q[i] * _age[i]; m += _q[i] * _male[i]; }
            return (a / w, m / w);
        }

        public void Wipe()
        {
            Array.Clear(_age); Array.Clear(_male); Array.Clear(_q);
            Count = 0; ArrivalSeconds = 0;
        }
    }
}
