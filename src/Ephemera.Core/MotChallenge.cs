using System.Globalization;

namespace Ephemera.Core;

/// <summary>One MOTChallenge text row: <c>frame,id,x,y,w,h,conf,x3d,y3d,z3d</c> (frames from 1).</summary>
public readonly record struct MotRow(int Frame, int Id, BoxF Box, float Confidence, int ClassId = -1, float Visibility = -1f);

/// <summary>
/// Reads and writes MOTChallenge text files (detections, ground truth and tracker results).
/// Errors name the file, the line and the problem.
/// </summary>
public static class MotChallenge
{
    public static List<MotRow> Read(string path)
    {
        if (!File.Exists(path)) throw new EphemeraException($"{path}: file not found");
        var rows = new List<MotRow>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var f = line.Split(line.Contains(',') ? ',' : ' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (f.Length < 6) throw new EphemeraException($"{path}:{lineNo}: expected at least 6 comma-separated fields (frame,id,x,y,w,h,…), got {f.Length}");
            try
            {
                int frame = (int)Parse(f[0]);
                int id = (int)Parse(f[1]);
                var box = new BoxF(Parse(f[2]), Parse(f[3]), Parse(f[4]), Parse(f[5]));
                float conf = f.Length > 6 ? Parse(f[6]) : 1f;
                // In MOT16+ gt files column 8 is the class and 9 the visibility; MOT15 keeps -1 there.
                int cls = f.Length > 7 ? (int)Parse(f[7]) : -1;
                float vis = f.Length > 8 ? Parse(f[8]) : -1f;
                rows.Add(new MotRow(frame, id, box, conf, cls, vis));
            }
            catch (FormatException)
            {
                throw new EphemeraException($"{path}:{lineNo}: not a number in '{line}'");
            }
        }
        return rows;
    }

    /// <summary>Writes rows as <c>frame,id,x,y,w,h,conf,class,-1,-1</c> (class -1 when the row has none).</summary>
    public static void Write(string path, IEnumerable<MotRow> rows)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        using var w = new StreamWriter(path);
        foreach (var r in rows) w.WriteLine(Format(r));
    }

    public static string Format(in MotRow r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Frame},{r.Id},{r.Box.X:0.##},{r.Box.Y:0.##},{r.Box.W:0.##},{r.Box.H:0.##},{r.Confidence:0.####},{(r.ClassId >= 0 ? r.ClassId : -1)},-1,-1");

    private static float Parse(string s) => float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
