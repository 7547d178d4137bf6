using System.Text.Json;
using Ephemera.Core;
using Ephemera.Evaluation;

namespace Ephemera.Cli.Verbs;

/// <summary><c>./ephemera eval-mot</c>: HOTA, CLEAR MOT and identity metrics of MOTChallenge results.</summary>
public sealed class EvalMotVerb : IVerb
{
    public string Name => "eval-mot";
    public string Summary => "evaluate MOTChallenge results: HOTA, MOTA, IDF1 and friends";
    public string Usage => """
        usage: ephemera eval-mot --gt GT.txt --results RES.txt
               ephemera eval-mot --gt-root DIR --results-dir DIR
          --gt, --results       one sequence
          --gt-root             sequences are the subdirectories holding gt/gt.txt
          --results-dir         holds SEQ.txt for each sequence
        gt rows with confidence 0 are ignored regions. stdout: one JSON object
        {"sequences":{NAME:{HOTA,DetA,AssA,LocA,MOTA,MOTP,IDF1,IDP,IDR,IDSW,Frag,MT,PT,ML,FP,FN,Recall,Precision,…}},
         "combined":{…}}; MOTP is the mean 1 − IoU of matches (py-motmetrics).
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["gt", "results", "gt-root", "results-dir"], []);
        var pairs = new List<(string Name, string Gt, string Res)>();
        if (a.Get("gt-root") is { } root)
        {
            if (a.Get("gt") != null || a.Get("results") != null) throw new UsageException("use either --gt/--results or --gt-root/--results-dir");
            string resDir = a.Require("results-dir");
            if (!Directory.Exists(root)) throw new EphemeraException($"{root}: directory not found");
            if (!Directory.Exists(resDir)) throw new EphemeraException($"{resDir}: directory not found");
            foreach (var dir in Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal))
            {
                string gt = Path.Combine(dir, "gt", "gt.txt");
                if (!File.Exists(gt)) continue;
                string name = Path.GetFileName(dir);
                string res = Path.Combine(resDir, name + ".txt");
                if (!File.Exists(res)) throw new EphemeraException($"{res}: results for sequence {name} not found");
                pairs.Add((name, gt, res));
            }
            if (pairs.Count == 0) throw new EphemeraException($"{root}: no subdirectory holds gt/gt.txt");
        }
        else
        {
            string gt = a.Require("gt"), res = a.Require("results");
            if (!File.Exists(gt)) throw new EphemeraException($"{gt}: ground-truth file not found");
            if (!File.Exists(res)) throw new EphemeraException($"{res}: results file not found");
            string name = Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(gt)))) is { Length: > 0 } n && Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(gt))) == "gt"
                ? n : Path.GetFileNameWithoutExtension(gt);
            pairs.Add((name, gt, res));
        }

        // Every file is read and scored before the first byte of JSON: a bad file never leaves half an object on stdout.
        var scored = pairs.Select(p => (p.Name, Score: MotEvaluator.Score(MotChallenge.Read(p.Gt), MotChallenge.Read(p.Res)))).ToList();
        var scores = new List<SequenceScore>();
        using var stream = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteStartObject("sequences");
            foreach (var (name, s) in scored)
            {
                scores.Add(s);
                var m = s.ToMetrics();
                Console.Error.WriteLine($"{name}: HOTA {m.Hota:0.000} MOTA {m.Mota:0.000} IDF1 {m.Idf1:0.000}");
                w.WritePropertyName(name);
                Write(w, m);
            }
            w.WriteEndObject();
            w.WritePropertyName("combined");
            Write(w, MotEvaluator.Combine(scores));
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return 0;
    }

    private static void Write(Utf8JsonWriter w, MotMetrics m)
    {
        w.WriteStartObject();
        w.WriteNumber("HOTA", Math.Round(m.Hota, 6)); w.WriteNumber("DetA", Math.Round(m.DetA, 6));
        w.WriteNumber("AssA", Math.Round(m.AssA, 6)); w.WriteNumber("LocA", Math.Round(m.LocA, 6));
        w.WriteNumber("MOTA", Math.Round(m.Mota, 6)); w.WriteNumber("MOTP", Math.Round(m.Motp, 6));
        w.WriteNumber("IDF1", Math.Round(m.Idf1, 6)); w.WriteNumber("IDP", Math.Round(m.Idp, 6)); w.WriteNumber("IDR", Math.Round(m.Idr, 6));
        w.WriteNumber("IDSW", m.Idsw); w.WriteNumber("Frag", m.Frag);
        w.WriteNumber("MT", m.Mt); w.WriteNumber("PT", m.Pt); w.WriteNumber("ML", m.Ml);
        w.WriteNumber("FP", m.Fp); w.WriteNumber("FN", m.Fn);
        w.WriteNumber("Recall", Math.Round(m.Recall, 6)); w.WriteNumber("Precision", Math.Round(m.Precision, 6));
        w.WriteNumber("GT", m.GtIds); w.WriteNumber("GTBoxes", m.GtBoxes);
        w.WriteNumber("ResultIds", m.ResultIds); w.WriteNumber("ResultBoxes", m.ResultBoxes);
        w.WriteEndObject();
    }
}
