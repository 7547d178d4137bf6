using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Runtime;

namespace Ephemera.Cluster;

/// <summary>What <see cref="BinCollector.Add"/> did with a part.</summary>
public enum PartOutcome
{
    /// <summary>Kept (new, or a newer part of the same worker epoch replacing an older one).</summary>
    Accepted,
    /// <summary>An older or equal part of an epoch already held: nothing changes.</summary>
    Stale,
    /// <summary>The bin was already released: the part is not released on its own (it would be a sub-k difference), counted and audited.</summary>
    Late,
    /// <summary>A part of an epoch taken after a newer epoch of the camera began (its worker ran on past its lease): ignored, counted and audited.</summary>
    StaleEpoch,
    /// <summary>No manifest for the camera, a different manifest version, or a class the manifest does not release.</summary>
    Refused,
}

/// <summary>
/// Where a bin split between workers is merged: the collector holds, per camera, class and bin, the
/// latest part of each worker epoch (parts are cumulative within an epoch), and releases the bin
/// once, whole (the epochs added up), through <see cref="ReleaseGate.CountTable"/> (k-suppression
/// with complementary suppression; heat maps through <see cref="ReleaseGate.HeatMap"/>, crowd levels,
/// a reading and not a count, as the latest reading through <see cref="ReleaseGate.CrowdLevels"/>)
/// once the bin has ended and a grace for late parts has passed. A
/// part arriving after that is never released. So every released cell is one merged, suppressed
/// bin: no half of a split bin, and no difference of two releases, is ever out.
/// </summary>
/// <remarks>Not thread-safe: the collector's one loop calls it.</remarks>
public sealed class BinCollector
{
    private readonly Func<string, CameraManifest?> _manifest;
    private readonly Dictionary<(string Camera, DataClass Class, DateTimeOffset Bin), Dictionary<ulong, BinPart>> _open = new();
    private readonly HashSet<(string Camera, DataClass Class, DateTimeOffset Bin)> _released = new();
    private readonly Dictionary<string, SortedList<ulong, DateTimeOffset>> _epochStarts = new(StringComparer.Ordinal);

    /// <param name="manifest">The manifest each camera's bins are released under (null = unknown camera).</param>
    /// <param name="grace">How long after a bin's end parts may still arrive (lease time + checkpoint interval + transport).</param>
    /// <param name="floorPlan">The camera's floor plan, for the zone outlines on a heat map's image (null, or null for a camera: none drawn).</param>
    public BinCollector(Func<string, CameraManifest?> manifest, TimeSpan grace, Func<string, FloorPlan?>? floorPlan = null)
    {
        _manifest = manifest; Grace = grace; _floorPlan = floorPlan;
    }

    private readonly Func<string, FloorPlan?>? _floorPlan;

    /// <summary>How long after a bin's end it waits for parts.</summary>
    public TimeSpan Grace { get; }
    /// <summary>Bins waiting for their end and grace.</summary>
    public int OpenBins => _open.Count;

    /// <summary>Marks a bin released before (the collector's persistent list), so a part for it is late.</summary>
    public void MarkReleased(string camera, DataClass cls, DateTimeOffset bin) => _released.Add((camera, cls, bin));

    /// <summary>The classes whose parts the collector takes: the count tables, crowd levels (<see cref="CrowdLevelTable"/>) and heat maps (<see cref="HeatMapTable"/>).</summary>
    public static bool Travels(DataClass cls) => EphemeraStore.IsCountTable(cls) || cls is DataClass.CrowdLevel or DataClass.HeatMap;

    /// <summary>Takes a part.</summary>
    public PartOutcome Add(BinPart p)
    {
        var m = _manifest(p.CameraId);
        if (m is null || m.VersionHash != p.ManifestVersion || !m.Declares(p.Class) || !Travels(p.Class))
            return PartOutcome.Refused;
        var key = (p.CameraId, p.Class, p.BinStart);
        if (p.IsMediaTime) return AddMediaTime(key, p);
        if (IsStale(p)) return PartOutcome.StaleEpoch;
        if (_released.Contains(key)) return PartOutcome.Late;
        NoteEpochStart(p.CameraId, p.Epoch, p.EpochStart);
        if (!_open.TryGetValue(key, out var epochs)) _open[key] = epochs = new Dictionary<ulong, BinPart>();
        if (epochs.TryGetValue(p.Epoch, out var have) && have.Seq >= p.Seq) return PartOutcome.Stale;
        epochs[p.Epoch] = p;
        return PartOutcome.Accepted;
    }

    /// <summary>
    /// A media-time part: the bin's count from the file's start up to <see cref="BinPart.MediaFrame"/>,
    /// the same from any worker (detections on fixed frames, bins in media time). The part covering the
    /// most frames is kept (at equal frames the closed one); a bin already released gets only a replay
    /// of it (a new owner catching up from the file's start), which changes nothing: stale, not late.
    /// No epoch fence is needed: an old owner's part is a prefix of the same count, never a double count.
    /// </summary>
    private PartOutcome AddMediaTime((string, DataClass, DateTimeOffset) key, BinPart p)
    {
        if (_released.Contains(key)) return PartOutcome.Stale;
        if (!_open.TryGetValue(key, out var parts)) _open[key] = parts = new Dictionary<ulong, BinPart>();
        if (parts.TryGetValue(MediaTimeSlot, out var have) && (have.MediaFrame > p.MediaFrame || (have.MediaFrame == p.MediaFrame && (have.Closed || !p.Closed))))
            return PartOutcome.Stale;
        parts[MediaTimeSlot] = p;
        return PartOutcome.Accepted;
    }

    // A media-time bin holds one part (the furthest), in this slot of the per-epoch map.
    private const ulong MediaTimeSlot = ulong.MaxValue;

    /// <summary>
    /// The fence at the collector: a part taken (<see cref="BinPart.AsOf"/>) after a newer epoch of its
    /// camera began was counted while another worker had the camera; it is not taken. (The worker fences
    /// itself first; this covers a worker that did not. The newer epoch is known once one of its parts
    /// came: a stale part that comes before it is taken; workers' clocks must agree within a checkpoint.)
    /// </summary>
    private bool IsStale(BinPart p) => IsStale(p.CameraId, p.Epoch, p.AsOf);

    private bool IsStale(string camera, ulong epoch, DateTimeOffset asOf)
    {
        if (asOf == default || !_epochStarts.TryGetValue(camera, out var starts)) return false;
        for (int i = starts.Count - 1; i >= 0 && starts.Keys[i] > epoch; i--)
            if (starts.Values[i] < asOf) return true;
        return false;
    }

    private void NoteEpochStart(string camera, ulong epoch, DateTimeOffset epochStart)
    {
        if (epochStart == default) return;
        if (!_epochStarts.TryGetValue(camera, out var starts)) _epochStarts[camera] = starts = new SortedList<ulong, DateTimeOffset>();
        starts[epoch] = epochStart;
    }

    // Trajectories: per camera and bin, the union of the visits the parts carried (by visit id), whether a
    // media-time bin's closed part came, and its length; after the release, the ids released (or counted
    // late) with when, so a replay is stale and a new visit late.
    private sealed class VisitBin
    {
        public readonly Dictionary<string, TrajectoryVisit> Visits = new(StringComparer.Ordinal);
        public bool MediaTime, Closed;
        public double BinSeconds;
    }
    private readonly Dictionary<(string Camera, DateTimeOffset Bin), VisitBin> _visits = new();
    private readonly Dictionary<(string Camera, DateTimeOffset Bin), (HashSet<string> Ids, DateTime At)> _releasedVisits = new();

    /// <summary>Visits that came for bins already released (counted late: never released on their own).</summary>
    public long LateVisits { get; private set; }

    /// <summary>
    /// Takes a trajectory part: its visits join the bin's union (a visit id seen before is a replay). A part
    /// of a released bin with a visit not seen before is late (the new visits are counted, never released);
    /// one carrying only seen visits is stale.
    /// </summary>
    public PartOutcome Add(TrajectoryPart p)
    {
        var m = _manifest(p.CameraId);
        if (m is null || m.VersionHash != p.ManifestVersion || !m.Declares(DataClass.Trajectory) || !m.Privacy.StoreTrajectories)
            return PartOutcome.Refused;
        var key = (p.CameraId, p.BinStart);
        if (!p.IsMediaTime && IsStale(p.CameraId, p.Epoch, p.AsOf)) return PartOutcome.StaleEpoch;
        if (_released.Contains((p.CameraId, DataClass.Trajectory, p.BinStart)))
        {
            if (!_releasedVisits.TryGetValue(key, out var done)) _releasedVisits[key] = done = (new HashSet<string>(StringComparer.Ordinal), DateTime.UtcNow);
            int fresh = p.Visits.Count(v => done.Ids.Add(v.Id));
            LateVisits += fresh;
            return fresh > 0 ? PartOutcome.Late : PartOutcome.Stale;
        }
        if (!p.IsMediaTime) NoteEpochStart(p.CameraId, p.Epoch, p.EpochStart);
        if (!_visits.TryGetValue(key, out var bin)) _visits[key] = bin = new VisitBin { MediaTime = p.IsMediaTime, BinSeconds = p.BinSeconds };
        int added = p.Visits.Count(v => bin.Visits.TryAdd(v.Id, v));
        bool closing = p.IsMediaTime && p.Closed && !bin.Closed;
        bin.Closed |= p.IsMediaTime && p.Closed;
        return added > 0 || closing ? PartOutcome.Accepted : PartOutcome.Stale;
    }

    /// <summary>Trajectory bins waiting for their release.</summary>
    public int OpenTrajectoryBins => _visits.Count;

    /// <summary>Bins the gate refused (camera, class, bin, reason): nothing of them was released. The collector audits and clears them.</summary>
    public List<(string Camera, DataClass Class, DateTimeOffset Bin, string Reason)> GateRefusals { get; } = new();

    /// <summary>The parts held now (for the collector's checkpoint).</summary>
    public IEnumerable<BinPart> Held => _open.Values.SelectMany(e => e.Values);

    /// <summary>
    /// Releases every bin whose end plus <see cref="Grace"/> is at or before <paramref name="now"/>
    /// (all of them with null): the epochs merged, then the gate. Each bin is released once.
    /// A media-time bin is released when its closed part came (the media passed its end, or the file
    /// ended), whatever the wall clock says, and never before: its bin times are the media's.
    /// </summary>
    public List<DerivedRecord> ReleaseDue(DateTimeOffset? now)
    {
        var due = _open.Where(kv => kv.Value.TryGetValue(MediaTimeSlot, out var media)
                ? media.Closed
                : now is null || kv.Value.Values.First().BinStart + TimeSpan.FromSeconds(kv.Value.Values.First().BinSeconds) + Grace <= now)
            .Select(kv => kv.Key).OrderBy(k => k.Bin).ToList();
        var records = new List<DerivedRecord>();
        foreach (var key in due)
        {
            var parts = _open[key].Values.OrderBy(p => p.Epoch).ToList();
            _open.Remove(key);
            _released.Add(key);
            try
            {
                var m = _manifest(key.Camera) ?? throw new EphemeraException($"camera {key.Camera}'s manifest went away");
                if (key.Class == DataClass.CrowdLevel)
                {
                    // A reading, not a count: the bin's latest one (of any epoch) is what one engine would release last.
                    var latest = parts.OrderBy(p => p.AsOf).ThenBy(p => p.Epoch).Last();
                    records.Add(CrowdLevelTable.Release(m, latest.ToTable()));
                }
                else
                {
                    var merged = parts.Select(p => p.ToTable()).Aggregate((a, b) => a.Merge(b));
                    records.Add(key.Class == DataClass.HeatMap
                        ? HeatMapTable.Release(m, merged, _floorPlan?.Invoke(key.Camera), HeatMapTable.OwnersPerCell(parts.Select(p => p.ToTable()))) // cells summed, then k distinct visits per cell, counted conservatively across owners
                        : ReleaseGate.CountTable(m, merged.Class, merged.BinStart, merged.Rows, merged.Cols, merged.Counts));
                }
            }
            catch (EphemeraException e)
            {
                // The gate refused the bin (M2, H3): nothing of it leaves; the others go on.
                GateRefusals.Add((key.Camera, key.Class, key.Bin, e.Message));
            }
        }
        records.AddRange(ReleaseVisits(now));
        return records;
    }

    /// <summary>
    /// The trajectory bins due at the same moment as the tables (bin end + grace; media time: the closed
    /// part came): each bin's union of visits goes through the unicity gate once, whole. A refused set
    /// is in <see cref="GateRefusals"/>; nothing of it leaves.
    /// </summary>
    private List<DerivedRecord> ReleaseVisits(DateTimeOffset? now)
    {
        var records = new List<DerivedRecord>();
        var due = _visits.Where(kv => kv.Value.MediaTime ? kv.Value.Closed : now is null || kv.Key.Bin + TimeSpan.FromSeconds(kv.Value.BinSeconds) + Grace <= now)
            .Select(kv => kv.Key).OrderBy(k => k.Bin).ToList();
        foreach (var key in due)
        {
            var bin = _visits[key];
            _visits.Remove(key);
            _released.Add((key.Camera, DataClass.Trajectory, key.Bin));
            _releasedVisits[key] = (bin.Visits.Keys.ToHashSet(StringComparer.Ordinal), DateTime.UtcNow);
            try
            {
                var m = _manifest(key.Camera) ?? throw new EphemeraException($"camera {key.Camera}'s manifest went away");
                // Ordered by id: the set does not depend on the order the parts came in.
                var visits = bin.Visits.Values.OrderBy(v => v.Id, StringComparer.Ordinal)
                    .Select(v => new CoarseVisit(key.Bin, v.Places, v.Steps, double.NaN, double.NaN)).ToList();
                var set = CoarseVisit.Release(m, key.Bin, visits, Random.Shared, out var gate);
                if (set is not null) records.Add(set);
                else GateRefusals.Add((key.Camera, DataClass.Trajectory, key.Bin, gate.Reason));
            }
            catch (EphemeraException e) { GateRefusals.Add((key.Camera, DataClass.Trajectory, key.Bin, e.Message)); }
        }
        // A released bin's ids are kept a day (a media-time replay later than that would count as late again).
        var cutoff = DateTime.UtcNow.AddDays(-1);
        foreach (var old in _releasedVisits.Where(kv => kv.Value.At < cutoff).Select(kv => kv.Key).ToList()) _releasedVisits.Remove(old);
        return records;
    }
}
