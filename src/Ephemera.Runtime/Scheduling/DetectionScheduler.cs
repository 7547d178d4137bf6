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
    /// <summary>A track is within the guard band of a counting line or a zone edge.</summary>
    GuardBand,
    /// <summary>No luma plane to measure motion on: every due detection runs.</summary>
    Unmeasurable,
}

/// <summary>
/// Decides, per camera, which due detections run (the <c>by_need</c> schedule). A camera's due
/// detections come at its detect_fps; while the scene is still and every track is confidently
/// predicted, only every k-th runs (k = detect_fps ÷ floor_fps, rounded; detect_fps ÷ empty_floor_fps
/// while the camera has no track), and the tracker predicts through the others. Any trigger — motion, motion at the edge, a track missed or new, a track
/// near a line or zone edge — runs the due detection at once, so the camera is back at full rate
/// from the next due frame. Called on the camera's own thread only; allocation-free per frame.
/// </summary>
public sealed class DetectionScheduler : IDisposable
{
    private readonly MotionMeter _motion;
    private readonly double _motionThreshold, _guardBand, _detectFps;
    private readonly GuardSegment[] _guards;
    private readonly long[] _decisions = new long[Enum.GetValues<ScheduleTrigger>().Length];
    private double _lastDetectedSeconds = double.NegativeInfinity;
    private bool _uncertain, _nearGuard;
    private int _missedStreak;
    private bool _empty = true;
    private double _lastRate;
    private double _lastDecisionSeconds = double.NaN;
    private bool _lastWasFull = true;
    private double _asked;
    private double _stillAskedSinceDetected; // asked at the floor rate since the last detection

    /// <summary>A tracked box is grown by this share of its size on each side before its cells leave the motion measure (limbs, shadow, the prediction's drift).</summary>
    public const float TrackedBoxGrowth = 0.25f;

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
        var trigger =
            !measured ? ScheduleTrigger.Unmeasurable :
            !_motion.HasReference ? ScheduleTrigger.First :
            _uncertain ? ScheduleTrigger.UncertainTrack :
            _nearGuard ? ScheduleTrigger.GuardBand :
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
    /// detection, a tentative, lost or unobserved track makes the next decisions full rate until a
    /// detection sees every track again; after either, a track near a guard segment does.
    /// </summary>
    public void ObserveTracks(ReadOnlySpan<TrackedObject> tracks, bool detected)
    {
        if (detected)
        {
            bool tentative = false, missed = false;
            foreach (ref readonly var t in tracks)
            {
                if (t.State == TrackState.Tentative) tentative = true;
                else if (t.State == TrackState.Lost || (t.State == TrackState.Confirmed && !t.Observed)) missed = true;
            }
            _missedStreak = missed ? _missedStreak + 1 : 0;
            _uncertain = tentative || (missed && _missedStreak <= MissedGraceDetections);
        }
        // Confirmed tracks' own boxes are left out of the motion measure: the tracker follows them.
        _motion.ClearIgnored();
        foreach (ref readonly var t in tracks)
            if (t.State == TrackState.Confirmed) _motion.Ignore(t.Box, TrackedBoxGrowth);
        bool empty = true;
        foreach (ref readonly var t in tracks)
            if (t.State != TrackState.Removed) { empty = false; break; }
        _empty = empty;
        bool near = false;
        if (_guards.Length > 0)
            foreach (ref readonly var t in tracks)
            {
                if (t.State == TrackState.Removed) continue;
                foreach (var g in _guards)
                    if (DistanceToSegment(Anchors.Of(t.Box, g.Anchor), g.A, g.B) <= _guardBand) { near = true; break; }
                if (near) break;
            }
        _nearGuard = near;
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
