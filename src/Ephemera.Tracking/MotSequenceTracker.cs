using Ephemera.Core;

namespace Ephemera.Tracking;

/// <summary>Result of tracking one MOTChallenge detection file.</summary>
public sealed record MotTrackingResult(List<MotRow> Rows, int Frames, int Tracks, bool ScoresRescaled);

/// <summary>
/// Runs a <see cref="MultiObjectTracker"/> over MOTChallenge detections (frames from 1) and
/// produces result rows. What gets written: confirmed tracks on frames where they were observed,
/// plus, when a tentative track is confirmed, the frames it spent tentative (backfilled, since
/// they were the same object). Predicted-only boxes of lost tracks are not written: without a
/// detection they are more often wrong than right. Optionally (off by default) short gaps
/// of a track are filled by linear interpolation, an offline step ByteTrack's evaluation also offers.
/// </summary>
public static class MotSequenceTracker
{
    /// <param name="imageWidth">When &gt; 0 (with <paramref name="imageHeight"/>), written boxes are clipped to the
    /// image: the filtered estimate of someone leaving the frame overshoots its border, and a box
    /// past the border puts its anchor beside a counting line drawn to the border (it was missed).</param>
    public static MotTrackingResult Run(IReadOnlyList<MotRow> detections, TrackerOptions options, int sequenceLength = 0, int interpolateGap = 0,
        int imageWidth = 0, int imageHeight = 0, int minTrackLength = 0, int detectEvery = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(detectEvery, 1);
        var normalizer = ScoreNormalizer.Fit(detections.Select(d => d.Confidence).ToArray());
        // Files with a class column (≥ 0) get the track's class written back; MOT15's -1 stays -1.
        bool hasClasses = detections.Any(d => d.ClassId >= 0);
        var byFrame = detections.GroupBy(d => d.Frame).ToDictionary(g => g.Key, g => g.ToList());
        int lastFrame = Math.Max(sequenceLength, byFrame.Count == 0 ? 0 : byFrame.Keys.Max());
        var tracker = new MultiObjectTracker(options);
        var dets = new Detections();
        var rows = new List<MotRow>();
        var pending = new Dictionary<int, List<MotRow>>(); // tentative tracks' observed boxes
        var ids = new HashSet<int>();
        for (int frame = 1; frame <= lastFrame; frame++)
        {
            if ((frame - 1) % detectEvery != 0)
            {
                // The detector skipped this frame (a live camera detecting at a lower rate): motion only,
                // nothing written (a lost track's prediction is not an observation; gap filling may add it).
                tracker.Predict(frame);
                foreach (int id in tracker.RemovedIds) pending.Remove(id);
                continue;
            }
            dets.Clear();
            if (byFrame.TryGetValue(frame, out var list))
                foreach (var d in list) dets.Add(d.Box, normalizer.Normalize(d.Confidence), d.ClassId < 0 ? 0 : d.ClassId);
            var tracks = tracker.Update(dets, frame);
            foreach (var t in tracks)
            {
                if (!t.Observed) continue;
                var row = new MotRow(frame, t.TrackId, imageWidth > 0 && imageHeight > 0 ? Clip(t.Box, imageWidth, imageHeight) : t.Box, t.Score,
                    hasClasses ? t.ClassId : -1);
                if (t.State == TrackState.Tentative)
                {
                    if (!pending.TryGetValue(t.TrackId, out var p)) pending[t.TrackId] = p = new List<MotRow>();
                    p.Add(row);
                    continue;
                }
                if (t.State != TrackState.Confirmed) continue;
                if (pending.Remove(t.TrackId, out var backfill)) rows.AddRange(backfill);
                rows.Add(row);
                ids.Add(t.TrackId);
            }
            foreach (int id in tracker.RemovedIds) pending.Remove(id);
        }
        if (minTrackLength > 1) rows = DropShortTracks(rows, minTrackLength, ids);
        if (interpolateGap > 0) rows = Interpolate(rows, interpolateGap);
        rows.Sort((a, b) => a.Frame != b.Frame ? a.Frame.CompareTo(b.Frame) : a.Id.CompareTo(b.Id));
        return new MotTrackingResult(rows, lastFrame, ids.Count, normalizer.Rescales);
    }

    /// <summary>The part of <paramref name="b"/> inside a <paramref name="width"/> × <paramref name="height"/> image (kept at least 1 px).</summary>
    public static BoxF Clip(in BoxF b, int width, int height)
    {
        float x1 = Math.Clamp(b.X, 0, width - 1), y1 = Math.Clamp(b.Y, 0, height - 1);
        float x2 = Math.Clamp(b.Right, x1 + 1, width), y2 = Math.Clamp(b.Bottom, y1 + 1, height);
        return BoxF.FromCorners(x1, y1, x2, y2);
    }

    /// <summary>Removes tracks observed on fewer than <paramref name="minLength"/> frames (and their ids from <paramref name="ids"/>).</summary>
    public static List<MotRow> DropShortTracks(List<MotRow> rows, int minLength, HashSet<int> ids)
    {
        var counts = new Dictionary<int, int>();
        foreach (var r in rows) counts[r.Id] = counts.GetValueOrDefault(r.Id) + 1;
        foreach (var (id, n) in counts) if (n < minLength) ids.Remove(id);
        return rows.Where(r => counts[r.Id] >= minLength).ToList();
    }

    /// <summary>Fills gaps of at most <paramref name="maxGap"/> missing frames inside each track linearly.</summary>
    public static List<MotRow> Interpolate(List<MotRow> rows, int maxGap)
    {
        var result = new List<MotRow>(rows);
        foreach (var track in rows.GroupBy(r => r.Id))
        {
            var seq = track.OrderBy(r => r.Frame).ToList();
            for (int i = 1; i < seq.Count; i++)
            {
                int gap = seq[i].Frame - seq[i - 1].Frame - 1;
                if (gap < 1 || gap > maxGap) continue;
                var a = seq[i - 1].Box; var b = seq[i].Box;
                for (int k = 1; k <= gap; k++)
                {
                    float t = (float)k / (gap + 1);
                    var box = new BoxF(a.X + t * (b.X - a.X), a.Y + t * (b.Y - a.Y), a.W + t * (b.W - a.W), a.H + t * (b.H - a.H));
                    result.Add(new MotRow(seq[i - 1].Frame + k, track.Key, box, -1, seq[i - 1].ClassId));
                }
            }
        }
        return result;
    }
}
