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
    /// <summary>The defaults used for every sequence (no per-sequence tuning).</summary>
    public static TrackerOptions Default { get; } = new();

    /// <summary>Options for plain SORT: every detection, IoU ≥ 0.3, confirm after 3 hits, removed after a second missed update.</summary>
    public static TrackerOptions SortDefault { get; } = new()
    {
        Mode = TrackerMode.Sort, MinScore = 0, HighScore = 0, NewTrackScore = 0, MatchIouFirst = 0.3, MinHits = 3, MaxLostUpdates = 1,
    };

    public TrackerMode Mode { get; init; } = TrackerMode.ByteOcSort;

    /// <summary>Detections scoring below this are ignored entirely (ByteTrack's low threshold, 0.1).</summary>
    public float MinScore { get => _minScore; init => _minScore = Unit(value, nameof(MinScore)); }
    private readonly float _minScore = 0.1f;

    /// <summary>High-score detections (≥ this) take part in the first association and may start tracks; the rest only extend tracks (BYTE's second stage).</summary>
    public float HighScore { get => _highScore; init => _highScore = Unit(value, nameof(HighScore)); }
    private readonly float _highScore = 0.6f;

    /// <summary>
    /// A new track starts only from an unmatched detection scoring at least this. ByteTrack uses
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

    /// <summary>Scales <see cref="MaxLostFrames"/> (given for 30 fps) to another frame rate.</summary>
    public TrackerOptions WithFrameRate(double fps) => fps is > 0 and < 1000
        ? this with { MaxLostFrames = Math.Max(1, (int)(fps / 30.0 * MaxLostFrames)) }
        : throw Range("fps", fps, "(0, 1000)");

    private static float Unit(float v, string name) => v is >= 0 and <= 1 ? v : throw Range(name, v, "[0, 1]");
    private static double Unit(double v, string name) => v is >= 0 and <= 1 ? v : throw Range(name, v, "[0, 1]");
    private static ArgumentOutOfRangeException Range(string name, object v, string expected) =>
        new(name, v, $"TrackerOptions.{name} must be in {expected}, got {v}");
}
