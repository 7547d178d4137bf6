using Ephemera.Analytics;
using Ephemera.Config;
using Ephemera.Core;

namespace Ephemera.Runtime.Scheduling;

/// <summary>Why a due detection runs (<see cref="None"/>: it is skipped and the tracker predicts instead).</summary>
public enum ScheduleTrigger
{
    None,
    /// <summary>No reference frame yet (the camera's first detection, or the frame size changed).</summary>
    First,
    /// <summary>The floor rate is due.</summary>
    Floor,
    /// <summary>More of the picture changed than the motion threshold.</summary>
    Motion,
    /// <summary>Motion in the border band: something may be entering.</summary>
    EdgeMotion,
    /// <summary>The last detection missed a track, or a track is new (tentative): its prediction is not trusted.</summary>
    UncertainTrack,
    /// <summary>A track within the guard band of a counting line or a zone edge can cross it: not confirmed, moving, or with motion inside its box.</summary>
    GuardBand,
    /// <summary>No luma plane to measure motion on: every due detection runs.</summary>
    Unmeasurable,
}

/// <summary>
/// Decides, per camera, which due detections run (the <c>by_need</c> schedule). A camera's due
/// detections come at its detect_fps; while the scene is still and every track is confidently
/// predicted, only every k-th runs (k = detect_fps ÷ floor_fps, rounded; detect_fps ÷ empty_floor_fps
/// while the camera has no track), and the tracker predicts through the others. Any trigger — motion, motion at the edge, a track missed or new, a track
/// near a line or zone edge that can cross it (not confirmed, moving towards or away from it, or with
/// motion inside its box) — runs the due detection at once, so the camera is back at full rate
/// from the next due frame. Called on the camera's own thread only; allocation-free per frame.
/// </summary>
public sealed class DetectionScheduler : IDisposable
{
    private readonly MotionMeter _motion;
    private readonly double _motionThreshold, _guardBand, _detectFps;
    private readonly GuardSegment[] _guards;
    private readonly long[] _decisions = new long[Enum.GetValues<ScheduleTrigger>().Length];
    private double _lastDetectedSeconds = double.NegativeInfinity;
    private bool _uncertain, _guardUnsure;
    // Confirmed tracks by id: where each came to rest, was last seen, and whether it is in the guard band (a fixed table, rebuilt on each ObserveTracks: no allocation per frame).
    private GuardedTrack[] _guarded = new GuardedTrack[MaxGuardedTracks], _guardedNext = new GuardedTrack[MaxGuardedTracks];
    private int _guardedCount;
    private int _missedStreak;
    private int _frameWidth, _frameHeight;
    private bool _empty = true;
    private double _lastRate;
    private double _lastDecisionSeconds = double.NaN;
    private bool _lastWasFull = true;
    private double _asked;
    private double _stillAskedSinceDetected; // asked at the floor rate since the last detection

    /// <summary>A tracked box is grown by this share of its size on each side before its cells leave the motion measure (limbs, shadow, the prediction's drift).</summary>
    public const float TrackedBoxGrowth = 0.25f;

    /// <summary>
    /// A confirmed track in the guard band whose anchor's distance to the guarded segments near it
    /// stayed within this share of its box's width (at least <see cref="MinStillPx"/>) of that where
    /// it came to rest counts as still: a person standing or sitting beside a line cannot cross it
    /// without moving their feet that far towards it.
    /// </summary>
    public const double StillShareOfWidth = 0.1;
    /// <summary>The least anchor movement, image pixels, that counts (a detector's box jitters by a few).</summary>
    public const double MinStillPx = 4;
    /// <summary>A guarded track that moved keeps the camera at full rate this long after its last move, so a slow walker stays at full rate while it crosses.</summary>
    public const double MovingHoldSeconds = 1.0;
    /// <summary>A still guarded track whose grown box (<see cref="TrackedBoxGrowth"/>) has more than this share of its cells changed since the last detection may be starting to move: full rate.</summary>
    public const double BoxMotionShare = 0.05;
    /// <summary>Confirmed tracks followed one by one; one beyond this many in the guard band asks for full rate.</summary>
    public const int MaxGuardedTracks = 32;

    private struct GuardedTrack
    {
        public int Id;
        public BoxF Rest;          // its box at its last move beyond the still distance (where it has rested since)
        public double MovedAt;     // decision time of its last move beyond the still distance
        public BoxF Box;           // its box now, for the motion inside it
        public BoxF Seen;          // its last observed box
        public bool Near;          // in the guard band now
    }

    /// <summary>A counting line or zone edge, with the anchor point its analyser uses.</summary>
    public readonly record struct GuardSegment(Point2 A, Point2 B, AnchorPoint Anchor);

    public DetectionScheduler(ScheduleOptions options, double detectFps, IReadOnlyList<GuardSegment> guards)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!(detectFps > 0)) throw new ArgumentOutOfRangeException(nameof(detectFps), detectFps, "detections per second, > 0");
        _motion = new MotionMeter(options.PixelDelta);
        _motionThreshold = options.MotionThreshold;
        _guardBand = options.GuardBandPx;
        _detectFps = detectFps;
        FloorSlots = Math.Max(1, (int)Math.Round(detectFps / Math.Min(options.FloorFps, detectFps)));
        EmptyFloorSlots = Math.Max(FloorSlots, (int)Math.Round(detectFps / Math.Min(options.EmptyFloorFps, detectFps)));
        MissedGraceDetections = Math.Max(1, (int)Math.Ceiling(detectFps * MissedGraceSeconds));
        _guards = [.. guards];
    }

    /// <summary>
    /// The schedule for a camera's purpose analytics: its counting lines and image zones are guarded.
    /// With zones, the floor keeps at least two detections per zone exit grace, so a person standing
    /// still inside a zone is one visit, not a visit per floor interval.
    /// </summary>
    public static DetectionScheduler For(ScheduleOptions options, double detectFps, PurposeAnalytics analytics)
    {
        if (analytics.Zones is { } z && options.FloorFps < 2 / z.Options.ExitGraceSeconds)
            options = options with { FloorFps = 2 / z.Options.ExitGraceSeconds };
        var guards = new List<GuardSegment>();
        foreach (var line in analytics.Lines) guards.Add(new GuardSegment(line.Options.Start, line.Options.End, line.Options.Anchor));
        if (analytics.Zones is { } zones)
            foreach (var zone in zones.Options.Zones)
            {
                var v = zone.Polygon.Vertices;
                for (int i = 0; i < v.Count; i++) guards.Add(new GuardSegment(v[i], v[(i + 1) % v.Count], zones.Options.Anchor));
            }
        return new DetectionScheduler(options, detectFps, guards);
    }

    /// <summary>A still camera runs every this many due detections.</summary>
    public int FloorSlots { get; }
    /// <summary>A still camera without any track runs every this many due detections (≥ <see cref="FloorSlots"/>).</summary>
    public int EmptyFloorSlots { get; }
    /// <summary>
    /// A track the detector missed (lost, or confirmed but unmatched) keeps the camera at full rate for
    /// this long of consecutive detections; then motion, the guard band and the floor decide again. Most
    /// such tracks are people who left (kept for re-association for the tracker's whole lost buffer);
    /// one who is still there and moves triggers motion (a lost track's box is not left out of the
    /// measure). 0.4 s changed the plaza's counts; 1 s kept both test clips' counts exact.
    /// </summary>
    public const double MissedGraceSeconds = 1.0;
    /// <summary><see cref="MissedGraceSeconds"/> in due detections at full rate.</summary>
    public int MissedGraceDetections { get; }
    /// <summary>The motion measure of the last decision.</summary>
    public MotionMeter Motion => _motion;
    /// <summary>
    /// Detections the schedule asked for so far: detect_fps over the time it spent at full rate,
    /// detect_fps ÷ the floor's slots (<see cref="FloorSlots"/>, or <see cref="EmptyFloorSlots"/> with no track) over the time it spent still. Time-based, so a camera whose
    /// detector falls behind still owes what its schedule asked. A trigger that comes before the floor
    /// was due runs the floor's detection too: the still time since the last detection is then not
    /// counted again (up to one detection).
    /// </summary>
    public double Asked => _asked;
    /// <summary>True when the last decision asked for full rate (any trigger but the floor); false while the camera is still.</summary>
    public bool AskingFullRate => _lastWasFull;

    /// <summary>The floor's slots now: <see cref="EmptyFloorSlots"/> with no track, else <see cref="FloorSlots"/>.</summary>
    public int CurrentFloorSlots => _empty ? EmptyFloorSlots : FloorSlots;

    /// <summary>
    /// When the floor is due (the clock of <see cref="Decide"/>): the floor's slots of due intervals after
    /// the last detection, less half an interval, so a decision on a frame a little early still counts.
    /// Time-based, so the camera may decide on whichever frames it decodes while the scene is still.
    /// </summary>
    public double FloorDueSeconds => _lastDetectedSeconds + (CurrentFloorSlots - 0.5) / _detectFps;

    /// <summary>Decisions so far by trigger (<see cref="ScheduleTrigger.None"/>: skipped).</summary>
    public long Decisions(ScheduleTrigger trigger) => _decisions[(int)trigger];
    public long Skipped => _decisions[(int)ScheduleTrigger.None];

    /// <summary>
    /// A detection is due on this frame (which the caller holds): measure it and decide. A trigger
    /// other than <see cref="ScheduleTrigger.None"/> means detect; then call <see cref="Detected"/> when
    /// the detector accepted the frame.
    /// </summary>
    public ScheduleTrigger Decide(in FrameView frame, double nowSeconds)
    {
        bool measured = _motion.Measure(frame);
        (_frameWidth, _frameHeight) = (frame.Width, frame.Height);
        var trigger =
            !measured ? ScheduleTrigger.Unmeasurable :
            !_motion.HasReference ? ScheduleTrigger.First :
            _uncertain ? ScheduleTrigger.UncertainTrack :
            GuardBandAsks(nowSeconds) ? ScheduleTrigger.GuardBand :
            _motion.Changed > _motionThreshold ? ScheduleTrigger.Motion :
            _motion.EdgeChanged > _motionThreshold ? ScheduleTrigger.EdgeMotion :
            nowSeconds >= FloorDueSeconds ? ScheduleTrigger.Floor :
            ScheduleTrigger.None;
        _decisions[(int)trigger]++;
        // What was asked since the last decision, at the rate the last decision set.
        if (!double.IsNaN(_lastDecisionSeconds) && nowSeconds > _lastDecisionSeconds)
        {
            double asked = (nowSeconds - _lastDecisionSeconds) * _lastRate;
            _asked += asked;
            if (!_lastWasFull) _stillAskedSinceDetected += asked;
        }
        _lastDecisionSeconds = nowSeconds;
        _lastWasFull = trigger is not (ScheduleTrigger.None or ScheduleTrigger.Floor);
        // A trigger before the floor came due: this detection is also the floor's, which the still
        // time since the last detection was paying for (up to one). Counting both charged a camera
        // up to one detection per still stretch cut short, which it could never get.
        if (_lastWasFull) { _asked -= Math.Min(1, _stillAskedSinceDetected); _stillAskedSinceDetected = 0; }
        _lastRate = _lastWasFull ? _detectFps : _detectFps / CurrentFloorSlots;
        return trigger;
    }

    /// <summary>The detector accepted the frame last decided on: it becomes the motion reference.</summary>
    public void Detected()
    {
        _motion.SetReference();
        _lastDetectedSeconds = _lastDecisionSeconds;
        _stillAskedSinceDetected = 0;
    }

    /// <summary>A due detection that was decided on one frame and refused by a busy detector is retried on this one: measure it, so the reference is the frame detected.</summary>
    public void Remeasure(in FrameView frame) => _motion.Measure(frame);

    /// <summary>
    /// The tracker's output after a detection (<paramref name="detected"/>) or a prediction. After a
    /// detection, a tentative, lost or unobserved track (unless predicted out of the frame) makes the
    /// next decisions full rate until a detection sees every track again; after either, a track near a
    /// guard segment that can cross it does (<see cref="GuardBandAsks"/>).
    /// </summary>
    public void ObserveTracks(ReadOnlySpan<TrackedObject> tracks, bool detected)
    {
        if (detected)
        {
            bool tentative = false, missed = false;
            foreach (ref readonly var t in tracks)
            {
                if (t.State == TrackState.Tentative) tentative = true;
                else if ((t.State == TrackState.Lost || (t.State == TrackState.Confirmed && !t.Observed)) && !LeftTheFrame(t.Box)) missed = true;
            }
            _missedStreak = missed ? _missedStreak + 1 : 0;
            _uncertain = tentative || (missed && _missedStreak <= MissedGraceDetections);
        }
        _guardUnsure = ObserveConfirmed(tracks);
        // Confirmed tracks' own boxes are left out of the motion measure: the tracker follows them. A
        // predicted one's last observed box too: a prediction that drifts off a person who stopped
        // does not unmask them (moving out of both boxes is still motion).
        _motion.ClearIgnored();
        foreach (ref readonly var t in tracks)
            if (t.State == TrackState.Confirmed) _motion.Ignore(t.Box, TrackedBoxGrowth);
        for (int i = 0; i < _guardedCount; i++)
            if (_guarded[i].Seen != _guarded[i].Box) _motion.Ignore(_guarded[i].Seen, TrackedBoxGrowth);
        bool empty = true;
        foreach (ref readonly var t in tracks)
            if (t.State != TrackState.Removed) { empty = false; break; }
        _empty = empty;
    }

    /// <summary>
    /// Follows the confirmed tracks: how far each one's anchor (observed or predicted) is from the
    /// guarded segments near it, against how far it was where it came to rest. Returns true when a
    /// track in the band is not confirmed (new, or lost: where it is is not known), or there are too
    /// many tracks to follow.
    /// </summary>
    private bool ObserveConfirmed(ReadOnlySpan<TrackedObject> tracks)
    {
        double now = double.IsNaN(_lastDecisionSeconds) ? double.NegativeInfinity : _lastDecisionSeconds;
        bool unsure = false;
        int n = 0;
        foreach (ref readonly var t in tracks)
        {
            if (t.State == TrackState.Removed) continue;
            bool near = NearGuard(t.Box);
            if (t.State != TrackState.Confirmed || n == MaxGuardedTracks) { unsure |= near; continue; }
            int i = FindGuarded(t.TrackId);
            // First seen here: at rest where it is, moving if it is in the band already (it walked in).
            var g = i >= 0 ? _guarded[i] : new GuardedTrack { Id = t.TrackId, Rest = t.Box, MovedAt = near ? now : double.NegativeInfinity };
            if (i >= 0 && Moved(t.Box, g.Rest, t.Observed)) { g.Rest = t.Box; g.MovedAt = now; }
            g.Box = t.Box;
            if (i < 0 || t.Observed) g.Seen = t.Box;
            g.Near = near;
            _guardedNext[n++] = g;
        }
        (_guarded, _guardedNext) = (_guardedNext, _guarded);
        _guardedCount = n;
        return unsure;
    }

    /// <summary>
    /// Whether a track now at <paramref name="box"/> moved towards or away from a guarded segment near
    /// it by more than the still distance since it was at <paramref name="rest"/>, or is within that
    /// distance of the segment (straddling it). Moving along a line does not cross it. A predicted box
    /// (<paramref name="observed"/> false) counts only when it comes closer: one drifting away from where
    /// the person is leaves them to the motion measure (their cells are no longer masked).
    /// </summary>
    private bool Moved(in BoxF box, in BoxF rest, bool observed)
    {
        double still = Math.Max(MinStillPx, StillShareOfWidth * box.W);
        foreach (var g in _guards)
        {
            double d = DistanceToSegment(Anchors.Of(box, g.Anchor), g.A, g.B);
            double d0 = DistanceToSegment(Anchors.Of(rest, g.Anchor), g.A, g.B);
            if (Math.Min(d, d0) > _guardBand) continue;
            if (d <= still || d0 - d > still || (observed && d - d0 > still)) return true;
        }
        return false;
    }

    private bool NearGuard(in BoxF box)
    {
        foreach (var g in _guards)
            if (DistanceToSegment(Anchors.Of(box, g.Anchor), g.A, g.B) <= _guardBand) return true;
        return false;
    }

    private int FindGuarded(int id)
    {
        for (int i = 0; i < _guardedCount; i++) if (_guarded[i].Id == id) return i;
        return -1;
    }

    /// <summary>
    /// Whether a track in the guard band can cross now: one not confirmed, one that came into the band
    /// or moved within the last <see cref="MovingHoldSeconds"/>, or one at rest with motion inside its
    /// grown box since the last detection (the frame just measured): it may be starting to move. A
    /// confirmed track resting beside the line asks for nothing, and the floor and motion decide.
    /// </summary>
    private bool GuardBandAsks(double now)
    {
        if (_guardUnsure) return true;
        for (int i = 0; i < _guardedCount; i++)
        {
            ref readonly var g = ref _guarded[i];
            if (g.Near && (now - g.MovedAt < MovingHoldSeconds || _motion.ChangedIn(g.Box, TrackedBoxGrowth) > BoxMotionShare)) return true;
        }
        return false;
    }

    /// <summary>
    /// A missed track predicted with its centre outside the frame: a person who walked out, not one
    /// the detector lost sight of. Whoever comes back moves in the border band (edge motion).
    /// </summary>
    private bool LeftTheFrame(in BoxF box)
    {
        if (_frameWidth == 0) return false;
        float cx = box.X + box.W / 2, cy = box.Y + box.H / 2;
        return cx < 0 || cy < 0 || cx >= _frameWidth || cy >= _frameHeight;
    }

    internal static double DistanceToSegment(Point2 p, Point2 a, Point2 b)
    {
        var ab = b - a;
        double len2 = ab.X * ab.X + ab.Y * ab.Y;
        double t = len2 > 0 ? Math.Clamp(((p.X - a.X) * ab.X + (p.Y - a.Y) * ab.Y) / len2, 0, 1) : 0;
        return Point2.Distance(p, a + ab * t);
    }

    public void Dispose() => _motion.Dispose();
}
