using Ephemera.Core;

namespace Ephemera.Tracking;

/// <summary>Association scheme of a <see cref="MultiObjectTracker"/>.</summary>
public enum TrackerMode
{
    /// <summary>
    /// ByteTrack's two-stage association (high- then low-score detections) with OC-SORT's
    /// observation-centric re-update (ORU), momentum (OCM) and recovery (OCR). The default.
    /// </summary>
    ByteOcSort,
    /// <summary>Plain SORT (Bewley et al. 2016): one IoU assignment, confirm after N hits, drop after a miss. For comparison.</summary>
    Sort,
}

/// <summary>
/// Every threshold of the tracker, validated when set. Scores are expected in [0, 1]; detectors
/// with another scale are rescaled before the tracker (see <see cref="ScoreNormalizer"/>).
/// Immutable: bind config and CLI to this, the per-frame work lives in <see cref="MultiObjectTracker"/>.
/// </summary>
public sealed record TrackerOptions
{
    /// <summary>
    /// The defaults used for every sequence and every detector (no per-sequence tuning): ByteTrack's
    /// two stages with OC-SORT's corrections, the score thresholds derived live from the scores seen
    /// so far (<see cref="AdaptiveScores"/>), so they suit MOT15's public Faster R-CNN boxes (scores
    /// near 1) and YOLOX's (mostly 0.3–0.9) alike. The engine's live cameras and <c>ephemera track</c>
    /// without <c>--mode</c> use these.
    /// </summary>
    public static TrackerOptions Default { get; } = new();

    /// <summary>
    /// The fixed thresholds measured on MOT15's public detections (high stage 0.6, new tracks 0.9),
    /// as the default was before <see cref="AdaptiveScores"/>: for reproducing those figures
    /// (<c>ephemera track --mode byte-ocsort</c>). On a detector whose scores rarely reach 0.9
    /// (YOLOX) almost no track starts.
    /// </summary>
    public static TrackerOptions ByteOcSort { get; } = new() { AdaptiveScores = false };

    /// <summary>Options for plain SORT: every detection, IoU ≥ 0.3, confirm after 3 hits, removed after a second missed update.</summary>
    public static TrackerOptions SortDefault { get; } = new()
    {
        Mode = TrackerMode.Sort, AdaptiveScores = false, MinScore = 0, HighScore = 0, NewTrackScore = 0, MatchIouFirst = 0.3, MinHits = 3, MaxLostUpdates = 1,
    };

    /// <summary>
    /// Options for a live detector such as the engine's YOLOX-Nano, whose clearly visible people
    /// score from about 0.5: the defaults above were measured on MOT15's public detections, where
    /// new tracks start only from near-certain boxes, which YOLOX rarely gives. Here new tracks start
    /// at 0.6 and the high stage at 0.5; weaker boxes (down to the detector's 0.1) still extend tracks.
    /// </summary>
    public static TrackerOptions Live { get; } = new() { AdaptiveScores = false, HighScore = 0.5f, NewTrackScore = 0.6f };

    public TrackerMode Mode { get; init; } = TrackerMode.ByteOcSort;

    /// <summary>Detections scoring below this are ignored entirely (ByteTrack's low threshold, 0.1).</summary>
    public float MinScore { get => _minScore; init => _minScore = Unit(value, nameof(MinScore)); }
    private readonly float _minScore = 0.1f;

    /// <summary>
    /// Derive <see cref="HighScore"/> and <see cref="NewTrackScore"/> from the detector's score
    /// distribution instead of using them as given (on in <see cref="Default"/>). Every update adds
    /// the scores ≥ <see cref="MinScore"/> of its detections to a 256-bin histogram over [0, 1] whose
    /// weights decay with a half-life of <see cref="ScoreHalfLifeUpdates"/> updates (bounded memory,
    /// usable live; the current frame counts before its thresholds are taken). From it:
    /// <list type="bullet">
    /// <item>the reference score r = the <see cref="ReferenceQuantile"/> (0.9) quantile: what a
    /// clearly visible object scores on this detector (≈ 1.0 for MOT15's Faster R-CNN, ≈ 0.85 for
    /// YOLOX-Nano on a 1080p street);</item>
    /// <item>effective high score = <see cref="HighScoreFraction"/> (0.75) × r;</item>
    /// <item>effective new-track score = the <see cref="NewTrackQuantile"/> (0.175) quantile of the
    /// scores ≥ <see cref="NewTrackFloorFraction"/> (0.7) × r — the weakest sixth of the plausible
    /// boxes cannot start a track — and never below the effective high score.</item>
    /// </list>
    /// Both quantiles are taken on the upper part of the distribution, so they do not depend on
    /// where the detector's own score cut lies (0.1 or 0.3 for YOLOX, 0.5 for the Faster R-CNN
    /// files). Before any detection has been seen the fixed values apply. On the MOT15 public
    /// detections this lands at about 0.75 / 0.9 (the fixed default was 0.6 / 0.9), on the engine's
    /// YOLOX-Nano at about 0.64 / 0.7. The constants were fitted on those two detector families
    /// (MOT15 TUD-Campus and ADL-Rundle-6 Faster R-CNN files; YOLOX-Nano at 416 and 640 on
    /// ADL-Rundle-6's video); see docs/architecture.md, "Tracking".
    /// </summary>
    public bool AdaptiveScores { get; init; } = true;

    /// <summary>Half-life, in updates, of the score histogram behind <see cref="AdaptiveScores"/> (default 900: 30 s at 30 fps).</summary>
    public int ScoreHalfLifeUpdates { get => _halfLife; init => _halfLife = value is >= 1 and <= 10_000_000 ? value : throw Range(nameof(ScoreHalfLifeUpdates), value, "[1, 10000000]"); }
    private readonly int _halfLife = 900;

    /// <summary>Quantile of the recent scores (≥ <see cref="MinScore"/>) taken as the detector's reference score r (<see cref="AdaptiveScores"/>).</summary>
    public double ReferenceQuantile { get => _refQ; init => _refQ = Unit(value, nameof(ReferenceQuantile)); }
    private readonly double _refQ = 0.9;

    /// <summary>Effective high score as a fraction of the reference score (<see cref="AdaptiveScores"/>).</summary>
    public double HighScoreFraction { get => _highFrac; init => _highFrac = Unit(value, nameof(HighScoreFraction)); }
    private readonly double _highFrac = 0.75;

    /// <summary>Scores below this fraction of the reference score are left out of the new-track quantile (<see cref="AdaptiveScores"/>).</summary>
    public double NewTrackFloorFraction { get => _floorFrac; init => _floorFrac = Unit(value, nameof(NewTrackFloorFraction)); }
    private readonly double _floorFrac = 0.7;

    /// <summary>Quantile of the scores above the floor that sets the effective new-track score (<see cref="AdaptiveScores"/>).</summary>
    public double NewTrackQuantile { get => _newQ; init => _newQ = Unit(value, nameof(NewTrackQuantile)); }
    private readonly double _newQ = 0.175;

    /// <summary>
    /// High-score detections (≥ this) take part in the first association and may start tracks; the
    /// rest only extend tracks (BYTE's second stage). Used as given when <see cref="AdaptiveScores"/>
    /// is off; with it on, only until the first detection has been seen.
    /// </summary>
    public float HighScore { get => _highScore; init => _highScore = Unit(value, nameof(HighScore)); }
    private readonly float _highScore = 0.6f;

    /// <summary>
    /// A new track starts only from an unmatched detection scoring at least this (when
    /// <see cref="AdaptiveScores"/> is off; with it on, only before the first detection). ByteTrack uses
    /// high + 0.1 = 0.7; 0.9 measured better on both MOT15 sequences with ground truth (fewer
    /// short false tracks), and only new tracks are affected: weaker detections still extend them.
    /// </summary>
    public float NewTrackScore { get => _newTrackScore; init => _newTrackScore = Unit(value, nameof(NewTrackScore)); }
    private readonly float _newTrackScore = 0.9f;

    /// <summary>Minimum (score-fused) IoU of a first-stage match (ByteTrack: cost 0.8 → 0.2).</summary>
    public double MatchIouFirst { get => _matchIouFirst; init => _matchIouFirst = Unit(value, nameof(MatchIouFirst)); }
    private readonly double _matchIouFirst = 0.2;

    /// <summary>Minimum IoU of a second-stage (low-score) match (ByteTrack: 0.5).</summary>
    public double MatchIouSecond { get => _matchIouSecond; init => _matchIouSecond = Unit(value, nameof(MatchIouSecond)); }
    private readonly double _matchIouSecond = 0.5;

    /// <summary>Minimum IoU between a tentative track and a detection (ByteTrack: cost 0.7 → 0.3).</summary>
    public double MatchIouTentative { get => _matchIouTentative; init => _matchIouTentative = Unit(value, nameof(MatchIouTentative)); }
    private readonly double _matchIouTentative = 0.3;

    /// <summary>
    /// Minimum IoU for OC-SORT's recovery step, matched on the tracks' last observed boxes. OC-SORT
    /// uses its first-stage 0.3; 0.5 avoids recovering a lost track onto a passer-by.
    /// </summary>
    public double MatchIouRecovery { get => _matchIouRecovery; init => _matchIouRecovery = Unit(value, nameof(MatchIouRecovery)); }
    private readonly double _matchIouRecovery = 0.5;

    /// <summary>ByteTrack's score fusion: first-stage similarity is IoU × detection score.</summary>
    public bool FuseScore { get; init; } = true;

    /// <summary>OC-SORT's velocity-direction consistency weight (OCM); 0 turns it off.</summary>
    public double DirectionWeight { get => _directionWeight; init => _directionWeight = value is >= 0 and <= 10 ? value : throw Range(nameof(DirectionWeight), value, "[0, 10]"); }
    private readonly double _directionWeight = 0.2;

    /// <summary>Frames between the two observations that define a track's direction (OC-SORT's Δt = 3).</summary>
    public int DirectionDeltaFrames { get => _deltaFrames; init => _deltaFrames = value is >= 1 and <= ObservationRing.Capacity - 1 ? value : throw Range(nameof(DirectionDeltaFrames), value, $"[1, {ObservationRing.Capacity - 1}]"); }
    private readonly int _deltaFrames = 3;

    /// <summary>OC-SORT's observation-centric re-update after a gap (ORU).</summary>
    public bool ReUpdateAfterGap { get; init; } = true;

    /// <summary>OC-SORT's last-observation recovery (OCR).</summary>
    public bool RecoverFromLastObservation { get; init; } = true;

    /// <summary>Consecutive matched updates needed to confirm a track (ByteTrack: 2). On the very first frame tracks confirm at once.</summary>
    public int MinHits { get => _minHits; init => _minHits = value is >= 1 and <= 100 ? value : throw Range(nameof(MinHits), value, "[1, 100]"); }
    private readonly int _minHits = 2;

    /// <summary>
    /// Frames a confirmed track survives without observation before removal (ByteTrack's
    /// track buffer, 30 frames at 30 fps). Set it from the frame rate: <see cref="WithFrameRate"/>.
    /// </summary>
    public int MaxLostFrames { get => _maxLostFrames; init => _maxLostFrames = value is >= 1 and <= 100_000 ? value : throw Range(nameof(MaxLostFrames), value, "[1, 100000]"); }
    private readonly int _maxLostFrames = 30;

    /// <summary>
    /// Updates (frames with detections) a track may go unmatched before removal; 0 means no limit
    /// other than <see cref="MaxLostFrames"/>. SORT uses 1.
    /// </summary>
    public int MaxLostUpdates { get => _maxLostUpdates; init => _maxLostUpdates = value is >= 0 ? value : throw Range(nameof(MaxLostUpdates), value, "≥ 0"); }
    private readonly int _maxLostUpdates;

    /// <summary>On a matched frame, report the detection's own box rather than the filtered estimate.</summary>
    public bool ReportObservedBox { get; init; }

    /// <summary>When false, a track only matches detections of its own class.</summary>
    public bool MatchAcrossClasses { get; init; }

    /// <summary>Std of position noise per unit of box size (ByteTrack: 1/20).</summary>
    public double PositionNoise { get => _posNoise; init => _posNoise = value > 0 && value < 10 ? value : throw Range(nameof(PositionNoise), value, "(0, 10)"); }
    private readonly double _posNoise = 1.0 / 20;

    /// <summary>Std of velocity noise per unit of box size (ByteTrack: 1/160).</summary>
    public double VelocityNoise { get => _velNoise; init => _velNoise = value > 0 && value < 10 ? value : throw Range(nameof(VelocityNoise), value, "(0, 10)"); }
    private readonly double _velNoise = 1.0 / 160;

    /// <summary>
    /// Std of the width/height velocity noise per unit of box size; null (default) = <see cref="VelocityNoise"/>.
    /// Larger lets the box grow or shrink faster, as for people walking toward or away from the camera.
    /// </summary>
    public double? SizeVelocityNoise { get => _sizeVelNoise; init => _sizeVelNoise = value is null or (> 0 and < 10) ? value : throw Range(nameof(SizeVelocityNoise), value, "(0, 10)"); }
    private readonly double? _sizeVelNoise;

    /// <summary>
    /// Std of the detector's box error per unit of box size (the Kalman measurement noise); null
    /// (default) = <see cref="PositionNoise"/>, as in ByteTrack. A property of the detector, not of
    /// the motion: a small detector's boxes jitter more from frame to frame than Faster R-CNN's.
    /// </summary>
    public double? MeasurementNoise { get => _measNoise; init => _measNoise = value is null or (> 0 and < 10) ? value : throw Range(nameof(MeasurementNoise), value, "(0, 10)"); }
    private readonly double? _measNoise;

    internal double EffectiveMeasurementNoise => _measNoise ?? _posNoise;

    internal double EffectiveSizeVelocityNoise => _sizeVelNoise ?? _velNoise;

    /// <summary>
    /// These options with the detector's box noise from its manifest entry (<see cref="DetectorTrackingProfile"/>);
    /// unchanged for null or for fields the entry leaves out.
    /// </summary>
    public TrackerOptions ForDetector(DetectorTrackingProfile? profile) => profile is null ? this : this with
    {
        MeasurementNoise = profile.MeasurementNoise ?? MeasurementNoise,
        SizeVelocityNoise = profile.SizeVelocityNoise ?? SizeVelocityNoise,
    };

    /// <summary>Scales <see cref="MaxLostFrames"/> (given for 30 fps) to another frame rate.</summary>
    public TrackerOptions WithFrameRate(double fps) => fps is > 0 and < 1000
        ? this with { MaxLostFrames = Math.Max(1, (int)(fps / 30.0 * MaxLostFrames)) }
        : throw Range("fps", fps, "(0, 1000)");

    private static float Unit(float v, string name) => v is >= 0 and <= 1 ? v : throw Range(name, v, "[0, 1]");
    private static double Unit(double v, string name) => v is >= 0 and <= 1 ? v : throw Range(name, v, "[0, 1]");
    private static ArgumentOutOfRangeException Range(string name, object v, string expected) =>
        new(name, v, $"TrackerOptions.{name} must be in {expected}, got {v}");
}
