using Ephemera.Core;

namespace Ephemera.Tracking;

/// <summary>
/// Multi-object tracking from boxes alone (no appearance, so nothing that identifies a person):
/// ByteTrack's two-stage association (Zhang et al., ECCV 2022) with OC-SORT's observation-centric
/// corrections (Cao et al., CVPR 2023), on a constant-velocity Kalman filter per track
/// (<see cref="KalmanBox"/>). One instance per camera; ids count from 1 per instance.
/// </summary>
/// <remarks>
/// All buffers are owned by the instance and grow only when a frame holds more tracks or
/// detections than ever before, so steady-state updates allocate nothing. Not thread-safe.
/// The returned spans are views over internal buffers, valid until the next call.
/// </remarks>
public sealed class MultiObjectTracker
{
    private readonly TrackerOptions _o;
    private readonly bool _sort;
    private readonly LinearAssignment _lap = new();

    private Track[] _tracks = new Track[64];
    private int _trackCount;
    private TrackedObject[] _output = new TrackedObject[64];
    private int[] _removed = new int[16];
    private int _removedCount;
    private int _nextId = 1;
    private long _lastFrame;
    private bool _started, _firstUpdateDone;

    // Association scratch: candidate rows (track slots) and columns (detection indices), the cost
    // matrix, and per detection its kind and the track slot it went to (-1 none).
    private int[] _rows = new int[64], _cols = new int[256], _rowToCol = new int[64];
    private double[] _cost = new double[64 * 256];
    private DetKind[] _detKind = new DetKind[256];
    private int[] _detTrack = new int[256];

    private enum DetKind : byte { Dropped, Low, High }

    // Adaptive score thresholds (TrackerOptions.AdaptiveScores): recent scores and the thresholds
    // they set, refreshed at every update.
    private readonly ScoreHistogram? _scores;
    private float _highScore, _newTrackScore;

    public MultiObjectTracker(TrackerOptions options)
    {
        _o = options ?? throw new ArgumentNullException(nameof(options));
        _sort = options.Mode == TrackerMode.Sort;
        if (options.AdaptiveScores && !_sort) _scores = new ScoreHistogram(options.ScoreHalfLifeUpdates);
        _highScore = options.HighScore; _newTrackScore = options.NewTrackScore;
    }

    public TrackerOptions Options => _o;

    /// <summary>The high-score threshold in force at the last update (fixed unless <see cref="TrackerOptions.AdaptiveScores"/>).</summary>
    public float EffectiveHighScore => _highScore;

    /// <summary>The new-track threshold in force at the last update (fixed unless <see cref="TrackerOptions.AdaptiveScores"/>).</summary>
    public float EffectiveNewTrackScore => _newTrackScore;

    /// <summary>Ids of the tracks removed during the last <see cref="Update"/> or <see cref="Predict"/>.</summary>
    public ReadOnlySpan<int> RemovedIds => _removed.AsSpan(0, _removedCount);

    /// <summary>Live tracks (tentative, confirmed, lost) after the last call.</summary>
    public int TrackCount => _trackCount;

    /// <summary>Forgets every track and restarts ids at 1.</summary>
    public void Reset()
    {
        _trackCount = 0; _removedCount = 0; _nextId = 1; _started = false; _firstUpdateDone = false;
        _scores?.Clear();
        _highScore = _o.HighScore; _newTrackScore = _o.NewTrackScore;
    }

    /// <summary>
    /// A frame on which the detector ran. <paramref name="frameIndex"/> must increase from call to
    /// call; a jump (dropped frames, a detector at a lower rate) is predicted through.
    /// </summary>
    public ReadOnlySpan<TrackedObject> Update(Detections detections, long frameIndex)
    {
        ArgumentNullException.ThrowIfNull(detections);
        // 0. Advance the clock: every track's Kalman filter predicts up to this frame.
        AdvanceTo(frameIndex);
        int nDet = detections.Count;
        EnsureDetectionCapacity(nDet);
        var boxes = detections.Boxes; var scores = detections.Scores; var classes = detections.ClassIds;

        // 1. Split detections by score (BYTE): high ones lead, low ones only extend tracks. With
        //    adaptive scores the thresholds come from the recent score distribution, this frame included.
        if (_scores != null) UpdateScoreThresholds(scores);
        float high = _highScore;
        for (int d = 0; d < nDet; d++)
        {
            float s = scores[d];
            _detKind[d] = s >= high ? DetKind.High : s >= _o.MinScore ? DetKind.Low : DetKind.Dropped;
            _detTrack[d] = -1;
        }
        for (int t = 0; t < _trackCount; t++) _tracks[t].MatchedNow = false;

        // 2. First association: high detections × confirmed and lost tracks (SORT: every track),
        //    on IoU with the predicted box (× score, ByteTrack) plus OC-SORT's direction term (OCM).
        Associate(Stage.First, boxes, scores, classes, frameIndex);

        if (!_sort)
        {
            // 3. Second association (BYTE): low detections × tracks that were tracked at the last
            //    update and are still unmatched; plain IoU, stricter gate.
            Associate(Stage.Second, boxes, scores, classes, frameIndex);
            // 4. Recovery (OCR): remaining high detections × still-unmatched confirmed/lost tracks,
            //    on IoU with each track's last *observed* box rather than its prediction.
            if (_o.RecoverFromLastObservation) Associate(Stage.Recovery, boxes, scores, classes, frameIndex);
            // 5. Tentative tracks × remaining high detections; a tentative track that misses is dropped.
            Associate(Stage.Tentative, boxes, scores, classes, frameIndex);
        }

        // 6. Unmatched tracks: tentative → removed (SORT: kept for its miss allowance),
        //    confirmed → lost, lost beyond the allowance → removed.
        for (int t = 0; t < _trackCount; t++)
        {
            ref var tr = ref _tracks[t];
            if (tr.MatchedNow) continue;
            tr.MissedUpdates++;
            tr.Hits = 0;
            if (tr.State == TrackState.Tentative && !_sort) tr.State = TrackState.Removed;
            else if (tr.State == TrackState.Confirmed) tr.State = TrackState.Lost;
            if (tr.State != TrackState.Removed && LostTooLong(tr, frameIndex)) tr.State = TrackState.Removed;
        }

        // 7. New tentative tracks from unmatched high detections that score enough. On the very
        //    first update they are confirmed at once (ByteTrack, SORT), there being no history.
        for (int d = 0; d < nDet; d++)
        {
            if (_detTrack[d] >= 0 || _detKind[d] != DetKind.High || scores[d] < _newTrackScore) continue;
            StartTrack(boxes[d], scores[d], classes[d], frameIndex, confirmed: !_firstUpdateDone || _o.MinHits <= 1);
        }
        _firstUpdateDone = true;

        // 8. Report the live tracks; evict the removed.
        return Report();
    }

    /// <summary>
    /// A frame on which the detector did not run: tracks move by their motion model only, keep
    /// their state, and are removed once unobserved for longer than <see cref="TrackerOptions.MaxLostFrames"/>.
    /// </summary>
    public ReadOnlySpan<TrackedObject> Predict(long frameIndex)
    {
        AdvanceTo(frameIndex);
        for (int t = 0; t < _trackCount; t++)
        {
            ref var tr = ref _tracks[t];
            tr.MatchedNow = false;
            if (frameIndex - tr.LastObservedFrame > _o.MaxLostFrames) tr.State = TrackState.Removed;
        }
        return Report();
    }

    // ------------------------------------------------------------------ steps

    /// <summary>The rule documented at <see cref="TrackerOptions.AdaptiveScores"/>.</summary>
    private void UpdateScoreThresholds(Span<float> scores)
    {
        var h = _scores!;
        h.Decay();
        foreach (float s in scores) if (s >= _o.MinScore) h.Add(s);
        if (h.Weight <= 0) return; // nothing seen yet: the fixed values stay
        double r = h.Quantile(_o.ReferenceQuantile, _o.MinScore);
        double high = Math.Max(_o.MinScore, _o.HighScoreFraction * r);
        double birth = h.Quantile(_o.NewTrackQuantile, Math.Max(_o.MinScore, _o.NewTrackFloorFraction * r));
        if (double.IsNaN(birth)) birth = high;
        _highScore = (float)high;
        _newTrackScore = (float)Math.Max(high, birth);
    }

    private void AdvanceTo(long frameIndex)
    {
        _removedCount = 0;
        if (_started && frameIndex <= _lastFrame)
            throw new ArgumentOutOfRangeException(nameof(frameIndex), frameIndex, $"frame index must increase (last was {_lastFrame})");
        long steps = _started ? frameIndex - _lastFrame : 0;
        // Tracks unobserved longer than MaxLostFrames are removed anyway; do not predict further.
        int n = (int)Math.Min(steps, _o.MaxLostFrames + 1L);
        for (int t = 0; t < _trackCount; t++)
            for (int k = 0; k < n; k++) _tracks[t].Kf.Predict(_o.PositionNoise, _o.VelocityNoise, _o.EffectiveSizeVelocityNoise);
        _lastFrame = frameIndex;
        _started = true;
    }

    private enum Stage { First, Second, Recovery, Tentative }

    /// <summary>
    /// One assignment stage: pick candidate tracks and detections, fill the cost matrix, solve
    /// with the stage's cost limit, apply the matches.
    /// </summary>
    private void Associate(Stage stage, Span<BoxF> boxes, Span<float> scores, Span<int> classes, long frame)
    {
        int nr = 0, nc = 0;
        if (_rows.Length < _trackCount) _rows = new int[_tracks.Length];
        for (int t = 0; t < _trackCount; t++)
        {
            ref var tr = ref _tracks[t];
            if (tr.MatchedNow) continue;
            bool candidate = stage switch
            {
                Stage.First => _sort || tr.State is TrackState.Confirmed or TrackState.Lost,
                Stage.Second => tr.State == TrackState.Confirmed && tr.MissedUpdates == 0,
                Stage.Recovery => tr.State is TrackState.Confirmed or TrackState.Lost,
                _ => tr.State == TrackState.Tentative,
            };
            if (candidate) _rows[nr++] = t;
        }
        DetKind wanted = stage == Stage.Second ? DetKind.Low : DetKind.High;
        for (int d = 0; d < boxes.Length; d++)
            if (_detTrack[d] < 0 && (_detKind[d] == wanted || (_sort && _detKind[d] != DetKind.Dropped))) _cols[nc++] = d;
        if (nr == 0 || nc == 0) return;

        double minIou = stage switch
        {
            Stage.First => _o.MatchIouFirst,
            Stage.Second => _o.MatchIouSecond,
            Stage.Recovery => _o.MatchIouRecovery,
            _ => _o.MatchIouTentative,
        };
        bool fuse = _o.FuseScore && !_sort && stage is Stage.First or Stage.Tentative;
        bool direction = stage == Stage.First && !_sort && _o.DirectionWeight > 0;
        // Cost = 1 − similarity for a pair that passes the IoU gate, else the limit (never matched).
        // The limit sits above every gated cost, so a match is made whenever it lowers the total.
        double limit = 1 + _o.DirectionWeight + 1e-9;
        EnsureCostCapacity(nr, nc);
        var cost = _cost.AsSpan(0, nr * nc);
        for (int r = 0; r < nr; r++)
        {
            ref var tr = ref _tracks[_rows[r]];
            var trackBox = stage == Stage.Recovery ? tr.LastObservation : tr.Kf.Box;
            bool hasPrevious = false;
            BoxF previous = default;
            if (direction && tr.HasDirection) hasPrevious = tr.Recent.TryGetPrevious(frame, _o.DirectionDeltaFrames, out previous);
            for (int c = 0; c < nc; c++)
            {
                int d = _cols[c];
                double iou = BoxF.IoU(trackBox, boxes[d]);
                double sim = fuse ? iou * scores[d] : iou;
                bool gated = sim >= minIou && iou > 0 && (_o.MatchAcrossClasses || classes[d] == tr.ClassId);
                if (!gated) { cost[r * nc + c] = limit; continue; }
                if (hasPrevious) sim += DirectionConsistency(tr, previous, boxes[d]) * _o.DirectionWeight * scores[d];
                cost[r * nc + c] = 1 - sim;
            }
        }
        _lap.SolveWithLimit(cost, nr, nc, limit, _rowToCol.AsSpan(0, nr));
        for (int r = 0; r < nr; r++)
        {
            int c = _rowToCol[r];
            if (c < 0) continue;
            int d = _cols[c];
            _detTrack[d] = _rows[r];
            ApplyMatch(ref _tracks[_rows[r]], boxes[d], scores[d], frame);
        }
    }

    /// <summary>
    /// OCM: how well the direction from the track's earlier observation to the detection agrees
    /// with the track's own direction; (π/2 − angle)/π, in [−0.5, 0.5].
    /// </summary>
    private static double DirectionConsistency(in Track tr, in BoxF previous, in BoxF det)
    {
        double dx = det.CenterX - previous.CenterX, dy = det.CenterY - previous.CenterY;
        double norm = Math.Sqrt(dx * dx + dy * dy) + 1e-6;
        double cos = Math.Clamp((dx * tr.DirX + dy * tr.DirY) / norm, -1, 1);
        return (Math.PI / 2 - Math.Acos(cos)) / Math.PI;
    }

    private void ApplyMatch(ref Track tr, in BoxF box, float score, long frame)
    {
        long gap = frame - tr.LastObservedFrame;
        if (_o.ReUpdateAfterGap && !_sort && tr.MissedUpdates > 0 && gap > 1)
        {
            // ORU: the prediction drifted while unobserved. Restart from the state at the last
            // observation and re-run the filter along a straight virtual path to this observation.
            tr.Kf = tr.KfAtLastObservation;
            int steps = (int)Math.Min(gap, _o.MaxLostFrames + 1L);
            var from = tr.LastObservation;
            for (int i = 1; i <= steps; i++)
            {
                tr.Kf.Predict(_o.PositionNoise, _o.VelocityNoise, _o.EffectiveSizeVelocityNoise);
                if (i == steps) break;
                float a = (float)i / steps;
                tr.Kf.Update(new BoxF(from.X + a * (box.X - from.X), from.Y + a * (box.Y - from.Y),
                    from.W + a * (box.W - from.W), from.H + a * (box.H - from.H)), _o.EffectiveMeasurementNoise);
            }
        }
        tr.Kf.Update(box, _o.EffectiveMeasurementNoise);
        tr.KfAtLastObservation = tr.Kf;
        // The track's direction of motion (OCM) from an observation Δt frames back to this one.
        if (tr.Recent.TryGetPrevious(frame, _o.DirectionDeltaFrames, out var previous))
        {
            double dx = box.CenterX - previous.CenterX, dy = box.CenterY - previous.CenterY;
            double norm = Math.Sqrt(dx * dx + dy * dy);
            if (norm > 1e-6) { tr.DirX = dx / norm; tr.DirY = dy / norm; tr.HasDirection = true; }
        }
        tr.Recent.Add(frame, box);
        tr.LastObservation = box;
        tr.LastObservedFrame = frame;
        tr.Score = score;
        tr.Hits++;
        tr.MissedUpdates = 0;
        tr.MatchedNow = true;
        if (tr.State == TrackState.Lost || (tr.State == TrackState.Tentative && tr.Hits >= _o.MinHits))
            tr.State = TrackState.Confirmed;
    }

    private bool LostTooLong(in Track tr, long frame) =>
        frame - tr.LastObservedFrame > _o.MaxLostFrames || (_o.MaxLostUpdates > 0 && tr.MissedUpdates > _o.MaxLostUpdates);

    private void StartTrack(in BoxF box, float score, int classId, long frame, bool confirmed)
    {
        if (_trackCount == _tracks.Length) Array.Resize(ref _tracks, _tracks.Length * 2);
        ref var tr = ref _tracks[_trackCount++];
        tr = default;
        tr.Id = _nextId++;
        tr.ClassId = classId;
        tr.Score = score;
        tr.State = confirmed ? TrackState.Confirmed : TrackState.Tentative;
        tr.Kf = KalmanBox.Initiate(box, _o.PositionNoise, _o.VelocityNoise);
        tr.KfAtLastObservation = tr.Kf;
        tr.LastObservation = box;
        tr.LastObservedFrame = frame;
        tr.Recent.Add(frame, box);
        tr.Hits = 1;
        tr.MatchedNow = true;
    }

    private ReadOnlySpan<TrackedObject> Report()
    {
        int w = 0;
        if (_output.Length < _trackCount) _output = new TrackedObject[_tracks.Length];
        for (int t = 0; t < _trackCount; t++)
        {
            ref var tr = ref _tracks[t];
            if (tr.State == TrackState.Removed)
            {
                if (_removedCount == _removed.Length) Array.Resize(ref _removed, _removed.Length * 2);
                _removed[_removedCount++] = tr.Id;
                continue;
            }
            if (w != t) _tracks[w] = tr;
            ref var kept = ref _tracks[w];
            _output[w] = new TrackedObject(kept.Id, kept.ClassId,
                kept.MatchedNow && _o.ReportObservedBox ? kept.LastObservation : kept.Kf.Box, kept.Score, kept.State, kept.MatchedNow);
            w++;
        }
        _trackCount = w;
        return _output.AsSpan(0, w);
    }

    private void EnsureDetectionCapacity(int n)
    {
        if (_detKind.Length >= n) return;
        int size = Math.Max(n, _detKind.Length * 2);
        _detKind = new DetKind[size]; _detTrack = new int[size]; _cols = new int[size];
    }

    private void EnsureCostCapacity(int rows, int cols)
    {
        if (_rowToCol.Length < rows) _rowToCol = new int[Math.Max(rows, _rowToCol.Length * 2)];
        if (_cost.Length < rows * cols) _cost = new double[Math.Max(rows * cols, _cost.Length * 2)];
    }

    /// <summary>Everything the tracker knows about one track. A struct in one array: no per-track objects.</summary>
    private struct Track
    {
        public int Id, ClassId;
        public TrackState State;
        public float Score;
        public KalmanBox Kf;
        /// <summary>Filter state right after the last observation, for ORU.</summary>
        public KalmanBox KfAtLastObservation;
        public BoxF LastObservation;
        public long LastObservedFrame;
        public ObservationRing Recent;
        /// <summary>Unit direction of motion between observations (OCM).</summary>
        public double DirX, DirY;
        public bool HasDirection;
        /// <summary>Consecutive matched updates (reset by a miss).</summary>
        public int Hits;
        /// <summary>Updates since the last match.</summary>
        public int MissedUpdates;
        public bool MatchedNow;
    }
}
