using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>How the class column (8th) of a MOTChallenge file is read.</summary>
public enum MotClassColumn
{
    /// <summary>MOT16+ ground-truth classes: 1 pedestrian, 2 person on vehicle, 7 static person → person;
    /// 3 → car; 4 → bicycle; 5 → motorbike; others (occluders, distractors, reflections) are not counted.</summary>
    Mot16,
    /// <summary>The column holds a COCO class id (an engine track file that records classes).</summary>
    Coco,
}

/// <summary>
/// Replays a MOTChallenge track or ground-truth file through an analyser, frame by frame, as the
/// engine's tracker would feed it: every row is a confirmed, observed track; rows with confidence
/// exactly 0 (ground-truth "ignore" rows) are skipped; a track is reported removed on the frame
/// after the one where it is last seen; frame f (from 1) is at time (f − 1) / fps.
/// </summary>
public static class MotReplay
{
    /// <summary>Runs <paramref name="rows"/> through <paramref name="analyser"/>; returns the number of frames fed.</summary>
    /// <param name="defaultClass">COCO class for rows whose class column is negative (MOT15 and tracker files).</param>
    public static int Run(IReadOnlyList<MotRow> rows, ITrackAnalyser analyser, double fps, int defaultClass = CocoClasses.Person,
        MotClassColumn classColumn = MotClassColumn.Mot16)
    {
        if (!(fps > 0) || !double.IsFinite(fps)) throw new EphemeraException($"frame rate must be a positive number, got {fps}");
        var used = new List<MotRow>(rows.Count);
        foreach (var r in rows) if (r.Confidence != 0) used.Add(r);
        if (used.Count == 0) return 0;
        used.Sort((a, b) => a.Frame != b.Frame ? a.Frame.CompareTo(b.Frame) : a.Id.CompareTo(b.Id));
        var lastFrame = new Dictionary<int, int>();
        foreach (var r in used) lastFrame[r.Id] = Math.Max(lastFrame.GetValueOrDefault(r.Id), r.Frame);
        var removedAt = new Dictionary<int, List<int>>(); // frame → ids last seen on the frame before
        foreach (var (id, f) in lastFrame)
        {
            if (!removedAt.TryGetValue(f + 1, out var l)) removedAt[f + 1] = l = new List<int>();
            l.Add(id);
        }
        int firstFrame = Math.Min(1, used[0].Frame), maxFrame = used[^1].Frame;
        var tracks = new List<TrackedObject>();
        int i = 0, frames = 0;
        for (int frame = firstFrame; frame <= maxFrame + 1; frame++)
        {
            tracks.Clear();
            while (i < used.Count && used[i].Frame == frame)
            {
                var r = used[i++];
                int cls = r.ClassId < 0 ? defaultClass : classColumn == MotClassColumn.Coco ? r.ClassId : FromMot16(r.ClassId);
                tracks.Add(new TrackedObject(r.Id, cls, r.Box, r.Confidence, TrackState.Confirmed, Observed: true));
            }
            var removed = removedAt.TryGetValue(frame, out var ids) ? ids.ToArray() : [];
            analyser.Update(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tracks), removed, (frame - 1) / fps);
            frames++;
        }
        return frames;
    }

    /// <summary>MOT16 class id → COCO class id, -1 when not counted.</summary>
    public static int FromMot16(int motClass) => motClass switch
    {
        1 or 2 or 7 => CocoClasses.Person,
        3 => CocoClasses.Car,
        4 => CocoClasses.Bicycle,
        5 => CocoClasses.Motorcycle,
        _ => -1,
    };

    /// <summary>The frame rate from a <c>seqinfo.ini</c> in the track file's folder or its parent, if any.</summary>
    public static double? FrameRateBeside(string trackFile)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(trackFile));
        for (int up = 0; up < 2 && dir != null; up++, dir = Path.GetDirectoryName(dir))
        {
            var ini = Path.Combine(dir, "seqinfo.ini");
            if (!File.Exists(ini)) continue;
            foreach (var line in File.ReadLines(ini))
            {
                var kv = line.Split('=', 2, StringSplitOptions.TrimEntries);
                if (kv.Length == 2 && kv[0].Equals("frameRate", StringComparison.OrdinalIgnoreCase)
                    && double.TryParse(kv[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var fps) && fps > 0)
                    return fps;
            }
        }
        return null;
    }
}
