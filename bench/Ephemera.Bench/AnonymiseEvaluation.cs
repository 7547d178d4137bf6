using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ephemera.Anonymisation;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Inference;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Runtime;

namespace Ephemera.Bench;

/// <summary>
/// The case-4 closing figures, reproducible: face recall by face height against a reference ensemble,
/// hand-labelled plates, over-masking and kept signs, per-stage throughput at 720p and 1080p against
/// the same detectors run whole-frame back to back, and the pixel ledger.
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- anonymise-eval [--only faces|plates|throughput|textscale] [--default-only] [--before edge] [--dump DIR] [--adl-frames N] [--perf-frames N] [--json FILE]</c>
/// (see docs/anonymisation.md for what each figure means and where it falls short).
/// </summary>
public static class AnonymiseEvaluation
{
    private static readonly InferenceOptions Cpu = new(intraOpThreads: 2, parallelRuns: 1);
    private static readonly DateTimeOffset At = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, object> Report = new();

    // Face height buckets (px) of the report.
    private static readonly (string Name, float Lo, float Hi)[] Buckets =
        [("<12", 0, 12), ("12-16", 12, 16), ("16-32", 16, 32), ("32-64", 32, 64), (">64", 64, float.MaxValue)];

    public static void Run(string[] args)
    {
        int adlFrames = Arg(args, "--adl-frames", 12), perfFrames = Arg(args, "--perf-frames", 6);
        string? json = args.SkipWhile(a => a != "--json").Skip(1).FirstOrDefault();
        s_dump = args.SkipWhile(a => a != "--dump").Skip(1).FirstOrDefault(); // released plate frames as JPEGs, to look at
        string? only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault(); // faces | plates | throughput
        var manifest = ManifestLoader.Load(Path.Combine(RepoPaths.Root, "configs", "manifests", "case4-vehicle-streetscape.yaml"));
        GC.Collect(); GC.WaitForPendingFinalizers();
        var before = PixelLedger.Snapshot();
        using (var anonymiser = new StreetAnonymiser(manifest, null, Cpu))
        using (var context = ObjectDetector.Open(new DetectorOptions { Inference = Cpu, MaxBatch = 1, Decode = new DecodeOptions(0.3f, 0.45f) }))
        using (var reference = new ReferenceFaces())
        using (var text = new TextCheck(anonymiser.Options))
        {
            if (only is null or "faces") Faces(anonymiser, context, reference, text, adlFrames);
            if (only is null or "plates")
            {
                // Each step of the plate search on its own, then the default (all on).
                var o = AnonymiseOptions.FromManifest(manifest);
                var variants = new List<object>();
                foreach (var (name, options) in new[]
                {
                    ("DB on vehicle crops only (before)", o with { PlateContrastSearch = false, PlateZoneFallback = false }),
                    ("+ contrast-normalised crops", o with { PlateZoneFallback = false }),
                    ("+ plate-zone fallback only", o with { PlateContrastSearch = false }),
                }.Where(_ => !args.Contains("--default-only"))
                    .Concat([
                        ("previous default (contrast + fallback): no vehicle tiles, no stroke finder", o with { VehicleTiles = false, PlateStrokeSearch = false }),
                        ("default before the edge score (tile boxes at the frame's edge from VehicleScore too)", o with { EdgeVehicleScore = o.VehicleScore }),
                        ("+ vehicle tiles only", o with { PlateStrokeSearch = false }),
                        ("+ stroke finder in vehicle regions only", o with { VehicleTiles = false }),
                        ("default + stroke finder over the whole frame (opt-in)", o with { PlateStrokeWholeFrame = true }),
                    ]))
                    using (var v = new StreetAnonymiser(manifest, options, Cpu))
                        variants.Add(new { variant = name, result = Plates(v, context, text, name) });
                variants.Add(new { variant = "default (contrast + fallback + vehicle tiles + stroke finder)", result = Plates(anonymiser, context, text, "default (contrast + fallback + vehicle tiles + stroke finder)") });
                Report["plates"] = variants;
            }
            if (only == "textscale") TextScale();
            if (only is null or "throughput")
            {
                // The anonymiser as it was before the vehicle tiles and the stroke finder (--before edge: before the
                // edge score only), alternated frame by frame.
                var o = AnonymiseOptions.FromManifest(manifest);
                bool edge = args.SkipWhile(a => a != "--before").Skip(1).FirstOrDefault() == "edge";
                using var previous = new StreetAnonymiser(manifest, edge ? o with { EdgeVehicleScore = o.VehicleScore } : o with { VehicleTiles = false, PlateStrokeSearch = false }, Cpu);
                Throughput(anonymiser, previous, edge ? "edge score = vehicle score" : "no vehicle tiles, no stroke finder", context, perfFrames);
            }
        }
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        var after = PixelLedger.Snapshot();
        Report["ledger"] = new
        {
            allocated = after.Allocated - before.Allocated, wiped = after.Wiped - before.Wiped,
            in_use_before = before.InUse, in_use_after = after.InUse, leaked = after.Leaked - before.Leaked,
        };
        Console.WriteLine($"ledger: allocated +{after.Allocated - before.Allocated}, wiped +{after.Wiped - before.Wiped}, in use {before.InUse} → {after.InUse}, leaked +{after.Leaked - before.Leaked}");
        if (json != null) File.WriteAllText(json, JsonSerializer.Serialize(Report, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static string? s_dump;

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    // ------------------------------------------------------------------ faces

    private sealed class FaceStats
    {
        public readonly int[] Total = new int[Buckets.Length], Masked = new int[Buckets.Length];
        public readonly double[] ShareSum = new double[Buckets.Length];
        public void Add(BoxF b, double share)
        {
            int i = Array.FindIndex(Buckets, k => b.H >= k.Lo && b.H < k.Hi);
            Total[i]++; ShareSum[i] += share;
            if (share >= 0.95) Masked[i]++;
        }
        public object Rows() => Buckets.Select((k, i) => new
        {
            height = k.Name, faces = Total[i], masked_95 = Masked[i],
            recall = Total[i] > 0 ? Math.Round((double)Masked[i] / Total[i], 3) : (double?)null,
            mean_share = Total[i] > 0 ? Math.Round(ShareSum[i] / Total[i], 3) : (double?)null,
        }).ToList();
        public void Print(string what)
        {
            Console.WriteLine($"faces, {what}: height  faces  masked(≥95%)  recall  mean masked share");
            for (int i = 0; i < Buckets.Length; i++)
                Console.WriteLine($"  {Buckets[i].Name,-6} {Total[i],6} {Masked[i],8} {(Total[i] > 0 ? (double)Masked[i] / Total[i] : double.NaN),10:F3} {(Total[i] > 0 ? ShareSum[i] / Total[i] : double.NaN),10:F3}");
        }
    }

    private static void Faces(StreetAnonymiser a, ObjectDetector context, ReferenceFaces reference, TextCheck text, int adlFrames)
    {
        var stills = new FaceStats();
        var areas = new List<object>();
        foreach (var name in new[] { "selfie.jpg", "ultraface_imgs_1.jpg", "ultraface_imgs_17.jpg", "messi5.jpg" })
        {
            using var src = Open(RepoPaths.Data(Path.Combine("images", name)));
            Require(src.Read(out var lease) == ReadStatus.Frame, name);
            using (lease!)
            {
                var f = lease!.View;
                var r = a.Anonymise(f, Context(context, f), At);
                int w = f.Width & ~1, h = f.Height & ~1;
                var refs = reference.Find(f);
                foreach (var b in refs) stills.Add(b, Covered(b, r.MaskRects, w, h));
                areas.Add(Area(name, r, w, h, text, f));
                Console.WriteLine($"{name}: {refs.Count} reference faces, anonymiser {r.Masked.Faces} faces, {r.OutputCheck}");
            }
        }
        stills.Print("stills (selfie, ultraface_imgs_1/17, messi5)");

        // ADL-Rundle-6 at 1080p: every 40th frame, as stills (no carry), plus the MOT ground-truth heads.
        var adl = new FaceStats();
        var heads = new FaceStats();
        var gt = File.ReadAllLines(RepoPaths.Data("mot15/ADL-Rundle-6/gt/gt.txt"))
            .Select(l => l.Split(',')).Where(p => p[6] != "0")
            .Select(p => (Frame: int.Parse(p[0], CultureInfo.InvariantCulture) - 1, Box: new BoxF(F(p[2]), F(p[3]), F(p[4]), F(p[5])))).ToList();
        using (var src = Open(RepoPaths.Data("mot15/ADL-Rundle-6/video.mp4")))
        {
            int taken = 0;
            for (long n = 0; taken < adlFrames; n++)
            {
                var st = src.Read(out var lease);
                if (st == ReadStatus.EndOfStream) break;
                if (st is ReadStatus.Timeout or ReadStatus.Reconnecting) { n--; continue; }
                if (st != ReadStatus.Frame) continue; // a frame dropped or skipped: its index passes
                using (lease!)
                {
                    if (n % 40 != 0) continue;
                    taken++;
                    var f = lease!.View;
                    int w = f.Width & ~1, h = f.Height & ~1;
                    var r = a.Anonymise(f, Context(context, f), At);
                    var refs = reference.Find(f);
                    foreach (var b in refs)
                    {
                        double share = Covered(b, r.MaskRects, w, h);
                        adl.Add(b, share);
                        if (share < 0.95) Console.WriteLine($"  miss: frame {n} face {b.X:F0},{b.Y:F0} {b.W:F0}x{b.H:F0} masked {share:P0}{(r.Withheld ? " (frame withheld)" : "")}");
                    }
                    // Heads of annotated pedestrians (fronts and backs): the top seventh of the box, its middle half.
                    foreach (var (fr, p) in gt)
                        if (fr == n && p.H >= 84) heads.Add(new BoxF(p.X + p.W * 0.25f, p.Y, p.W * 0.5f, p.H / 7), Covered(new BoxF(p.X + p.W * 0.25f, p.Y, p.W * 0.5f, p.H / 7), r.MaskRects, w, h));
                    areas.Add(Area($"ADL-Rundle-6#{n}", r, w, h, text, f));
                    Console.WriteLine($"ADL-Rundle-6 frame {n}: {refs.Count} reference faces, anonymiser {r.Masked.Faces} faces, {r.Masked.HeadBands} head bands, {r.OutputCheck}, {r.Timings.TotalMs:F0} ms");
                }
            }
        }
        adl.Print("ADL-Rundle-6 1080p");
        heads.Print("ADL-Rundle-6 ground-truth head regions (height = head box; fronts and backs of heads)");
        Report["faces_stills"] = stills.Rows();
        Report["faces_adl"] = adl.Rows();
        Report["heads_adl_gt"] = heads.Rows();
        Report["area_faces"] = areas;

        static float F(string s) => float.Parse(s, CultureInfo.InvariantCulture);
    }

    // ------------------------------------------------------------------ plates

    // Hand-labelled readable plates (frame pixels), see docs/anonymisation.md.
    private static readonly (string Source, int Frame, BoxF[] Plates)[] PlateLabels =
    [
        ("video/car-detection.mp4", 80, [new(355, 297, 25, 11)]),
        ("video/car-detection.mp4", 90, [new(340, 150, 20, 8)]),
        ("video/car-detection.mp4", 200, [new(162, 242, 24, 8)]),
        ("video/car-detection.mp4", 210, [new(391, 332, 29, 11)]),
        ("video/car-detection.mp4", 220, [new(379, 180, 26, 12)]),
        ("video/car-detection.mp4", 330, [new(195, 290, 25, 12)]),
        // Labelled after the plate search was built, as a check it was not fitted to the frames above.
        ("video/car-detection.mp4", 195, [new(174, 164, 23, 8)]),
        ("video/car-detection.mp4", 320, [new(225, 66, 21, 10)]),
        // Held out: labelled after the vehicle tiles were built, never used to tune them (frame 100: the silver car's
        // rear plate as it leaves at the top edge; 190: the green car's front plate as it enters; 226: the red car's rear plate).
        ("video/car-detection.mp4", 100, [new(332, 37, 23, 9)]),
        ("video/car-detection.mp4", 190, [new(184, 98, 22, 10)]),
        ("video/car-detection.mp4", 226, [new(371, 102, 24, 12)]),
        ("images/licenseplate_motion.jpg", 0, [new(228, 228, 130, 68)]),
        ("images/opencv4nodejs_cars.jpeg", 0, []),
    ];

    private static object Plates(StreetAnonymiser a, ObjectDetector context, TextCheck text, string variant)
    {
        int labelled = 0, masked = 0;
        var rows = new List<object>();
        var areas = new List<object>();
        foreach (var group in PlateLabels.GroupBy(l => l.Source))
        {
            using var src = Open(RepoPaths.Data(group.Key));
            var wanted = group.ToDictionary(g => (long)g.Frame, g => g.Plates);
            long last = wanted.Keys.Max();
            for (long n = 0; n <= last; n++)
            {
                var st = src.Read(out var lease);
                if (st == ReadStatus.EndOfStream) break;
                if (st is ReadStatus.Timeout or ReadStatus.Reconnecting) { n--; continue; }
                if (st != ReadStatus.Frame) continue; // a frame dropped or skipped: its index passes
                using (lease!)
                {
                    if (!wanted.TryGetValue(n, out var plates)) continue;
                    var f = lease!.View;
                    int w = f.Width & ~1, h = f.Height & ~1;
                    var objects = Context(context, f);
                    var seen = new List<string>();
                    for (int i = 0; i < objects.Count; i++) seen.Add($"{CocoClasses.NameOf(objects.ClassIds[i])} {objects.Scores[i]:F2} {objects.Boxes[i].W:F0}x{objects.Boxes[i].H:F0}");
                    Console.WriteLine($"  {group.Key}#{n} YOLOX: {string.Join("; ", seen)}");
                    var r = a.Anonymise(f, objects, At);
                    if (s_dump != null && r.Record is { } released)
                        File.WriteAllBytes(Path.Combine(s_dump, $"{new string(variant.Where(char.IsLetterOrDigit).ToArray())}-{Path.GetFileNameWithoutExtension(group.Key)}-{n}.jpg"), released.Jpeg.ToArray());
                    Console.WriteLine($"    masks: {string.Join(" ", r.MaskRects.Select(m => $"{m.X0},{m.Y0}-{m.X1},{m.Y1}"))}; survivors: {string.Join(" ", r.SurvivorBoxes)}");
                    foreach (var p in plates)
                    {
                        double share = Covered(p, r.MaskRects, w, h);
                        labelled++;
                        if (share >= 0.95) masked++;
                        rows.Add(new { source = group.Key, frame = n, plate = $"{p.X},{p.Y},{p.W},{p.H}", share = Math.Round(share, 3) });
                        Console.WriteLine($"plate {group.Key}#{n} {p.W}x{p.H} at {p.X},{p.Y}: masked share {share:F3} (anonymiser: {r.Masked.Plates} plates incl. {r.PlateZones} fallback zones and {r.StrokePlates} stroke candidates, {r.TileVehicles} tile vehicles, {r.OutputCheck})");
                    }
                    areas.Add(Area($"{Path.GetFileName(group.Key)}#{n}", r, w, h, text, f));
                }
            }
        }
        Console.WriteLine($"plates, {variant}: {masked} of {labelled} hand-labelled plates ≥95% masked");
        return new { labelled, masked, rows, areas };
    }

    /// <summary>Experiment: does the whole-frame text detector find the labelled plates at 1×, 1.5×, 2×?</summary>
    private static void TextScale()
    {
        foreach (var scale in new[] { 1.0, 1.5, 2.0 })
            foreach (var score in new[] { 0.3f, 0.15f })
            {
                int hit = 0, all = 0;
                foreach (var (source, frame, plates) in PlateLabels)
                {
                    using var src = Open(RepoPaths.Data(source));
                    for (long n = 0; n <= frame; n++)
                    {
                        var st = src.Read(out var lease);
                        if (st != ReadStatus.Frame) continue;
                        using (lease!)
                        {
                            if (n != frame) continue;
                            var f = lease!.View;
                            int tw = (int)Math.Ceiling(f.Width * scale / 32) * 32, th = (int)Math.Ceiling(f.Height * scale / 32) * 32;
                            using var d = ObjectDetector.Open(new DetectorOptions { Model = "ch_PP-OCRv4_det_infer", Inference = Cpu, InputWidth = tw, InputHeight = th, MaxBatch = 1, Decode = new DecodeOptions(score, 0.3f, 500) });
                            var found = new Detections();
                            d.Detect(f, found);
                            foreach (var p in plates)
                            {
                                all++;
                                bool ok = false;
                                foreach (var b in found.Boxes)
                                    if (b.X < p.Right + 10 && b.Right > p.X - 10 && b.Y < p.Bottom + 10 && b.Bottom > p.Y - 10)
                                    {
                                        Console.WriteLine($"    {source}#{frame} plate {p.X},{p.Y} {p.W}x{p.H}: box {b.X:F0},{b.Y:F0} {b.W:F0}x{b.H:F0} score?");
                                        if (Covered(p, [((int)b.X, (int)b.Y, (int)MathF.Ceiling(b.Right), (int)MathF.Ceiling(b.Bottom))], 10000, 10000) > 0.5) ok = true;
                                    }
                                if (ok) hit++;
                            }
                        }
                    }
                }
                Console.WriteLine($"text detector whole frame ×{scale} score {score}: {hit}/{all} plates found");
            }
    }

    // ------------------------------------------------------------------ over-masking and kept signs

    /// <summary>Share of the frame under masks, and whether the large text kept on the input is still found on the output JPEG.</summary>
    private static object Area(string what, AnonymiseResult r, int w, int h, TextCheck text, in FrameView input)
    {
        var mask = new bool[w * h];
        foreach (var (x0, y0, x1, y1) in r.MaskRects)
            for (int y = y0; y < y1; y++) mask.AsSpan(y * w + x0, x1 - x0).Fill(true);
        double area = mask.Count(m => m) / (double)(w * h);
        int kept = 0, found = 0;
        if (r.Record is { } rec)
        {
            var signs = text.Large(input).Where(b => Covered(b, r.MaskRects, w, h) < 0.5).ToList();
            kept = signs.Count;
            if (kept > 0)
            {
                string tmp = Path.Combine(Path.GetTempPath(), $"ephemera-eval-{Environment.ProcessId}.jpg");
                File.WriteAllBytes(tmp, rec.Jpeg.ToArray());
                try
                {
                    using var src = Open(tmp);
                    Require(src.Read(out var back) == ReadStatus.Frame, tmp);
                    using (back!)
                    {
                        var after = text.All(back!.View);
                        found = signs.Count(s => after.Any(b => BoxF.IoU(s, b) >= 0.3f));
                    }
                }
                finally { File.Delete(tmp); }
            }
        }
        Console.WriteLine($"  {what}: masked area {area:P1}, kept large text {kept}, still detected in the JPEG {found}");
        return new { what, masked_area = Math.Round(area, 4), kept_large_text = kept, found_in_output = found, check = r.OutputCheck };
    }

    // ------------------------------------------------------------------ throughput

    private static void Throughput(StreetAnonymiser a, StreetAnonymiser before, string beforeName, ObjectDetector context, int frames)
    {
        string src1080 = RepoPaths.Data("mot15/ADL-Rundle-6/video.mp4");
        string src720 = Path.Combine(Path.GetTempPath(), $"ephemera-eval-720p-{Environment.ProcessId}.mp4");
        var ff = Process.Start(new ProcessStartInfo("ffmpeg", ["-v", "error", "-y", "-i", src1080, "-frames:v", "40", "-vf", "scale=1280:720", "-c:v", "libx264", "-crf", "18", src720]))!;
        ff.WaitForExit();
        Require(ff.ExitCode == 0, "ffmpeg could not scale ADL-Rundle-6 to 720p");
        try
        {
            var rows = new List<object>();
            PixelLedger.ResetLifetimeStats();
            foreach (var (label, path) in new[] { ("1280x720", src720), ("1920x1080", src1080) })
                rows.Add(Stages(a, before, beforeName, context, label, path, frames));
            var l = PixelLedger.Snapshot();
            Console.WriteLine($"engine-held lifetime of the anonymised frames (decode → YOLOX → anonymise → release): p50 {l.EngineHeldP50Ms:F0} ms, p99 {l.EngineHeldP99Ms:F0} ms, max {l.EngineHeldMaxMs:F0} ms over {l.EngineHeldCount} frames");
            Report["throughput"] = rows;
            Report["engine_held_ms"] = new { p50 = l.EngineHeldP50Ms, p99 = l.EngineHeldP99Ms, max = l.EngineHeldMaxMs, frames = l.EngineHeldCount };
        }
        finally { File.Delete(src720); }
    }

    /// <summary>
    /// Per-stage milliseconds of the anonymiser on consecutive frames (tracks on), alternating with the
    /// same three detectors run once each on the whole frame at native resolution (no tiles, no check).
    /// </summary>
    private static object Stages(StreetAnonymiser a, StreetAnonymiser before, string beforeName, ObjectDetector context, string label, string path, int frames)
    {
        using var src = Open(path);
        var t = new List<AnonymiseTimings>(); var tb = new List<AnonymiseTimings>(); var ctx = new List<double>(); var whole = new List<(double Yunet, double Ultra, double Text)>();
        WholeFrame? wf = null;
        var area = new List<double>(); var areaBefore = new List<double>(); int strokes = 0, tiles = 0;
        try
        {
            for (long n = 0; t.Count < frames + 1; n++)
            {
                var st = src.Read(out var lease);
                if (st == ReadStatus.EndOfStream) break;
                if (st is ReadStatus.Timeout or ReadStatus.Reconnecting) { n--; continue; }
                if (st != ReadStatus.Frame) continue; // a frame dropped or skipped: its index passes
                using (lease!)
                {
                    var f = lease!.View;
                    wf ??= new WholeFrame(f.Width, f.Height);
                    long t0 = Stopwatch.GetTimestamp();
                    var objects = Context(context, f);
                    double c = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    var r = a.Anonymise(f, objects, At, frameIndex: n);
                    var rb = before.Anonymise(f, objects, At, frameIndex: n);
                    var wt = wf.Time(f);
                    if (n == 0) continue; // warm-up: sessions sized, tensors allocated
                    t.Add(r.Timings); tb.Add(rb.Timings); ctx.Add(c); whole.Add(wt);
                    area.Add(MaskedShare(r, f.Width & ~1, f.Height & ~1)); areaBefore.Add(MaskedShare(rb, f.Width & ~1, f.Height & ~1));
                    strokes += r.StrokePlates; tiles += r.TileVehicles;
                }
            }
        }
        finally { wf?.Dispose(); }
        double M(Func<AnonymiseTimings, double> s) => t.Select(s).Order().ElementAt(t.Count / 2);
        double B(Func<AnonymiseTimings, double> s) => tb.Select(s).Order().ElementAt(tb.Count / 2);
        double copy = M(x => x.CopyMs), faces = M(x => x.FacesMs), text = M(x => x.TextMs), mask = M(x => x.MaskMs), check = M(x => x.CheckMs), enc = M(x => x.EncodeMs);
        double vehicles = M(x => x.VehiclesMs);
        double total = M(x => x.TotalMs), yolox = ctx.Order().ElementAt(ctx.Count / 2);
        double wy = whole.Select(x => x.Yunet).Order().ElementAt(whole.Count / 2), wu = whole.Select(x => x.Ultra).Order().ElementAt(whole.Count / 2),
            wtx = whole.Select(x => x.Text).Order().ElementAt(whole.Count / 2);
        Console.WriteLine($"{label}, median of {t.Count} frames, ms: copy {copy:F1}, vehicle tiles (YOLOX) {vehicles:F0}, faces (YuNet tiles + whole + UltraFace) {faces:F0}, text (frame + vehicle crops) {text:F0}, " +
            $"mask {mask:F1}, check {check:F0}, encode {enc:F1}, anonymiser total {total:F0} (+ YOLOX context {yolox:F0}) → {1000 / (total + yolox):F2} frames/s");
        Console.WriteLine($"{label}: masked area per frame, median {area.Order().ElementAt(area.Count / 2):P1} (before {areaBefore.Order().ElementAt(areaBefore.Count / 2):P1}), max {area.Max():P1} (before {areaBefore.Max():P1}); " +
            $"{strokes} stroke candidates and {tiles} tile vehicles over {t.Count} frames");
        Console.WriteLine($"{label}, before ({beforeName}), ms: faces {B(x => x.FacesMs):F0}, text {B(x => x.TextMs):F0}, check {B(x => x.CheckMs):F0}, " +
            $"total {B(x => x.TotalMs):F0} → {1000 / (B(x => x.TotalMs) + yolox):F2} frames/s");
        Console.WriteLine($"{label}, same detectors whole-frame back to back, ms: YuNet native {wy:F0}, UltraFace {wu:F0}, text native {wtx:F0}, sum {wy + wu + wtx:F0} " +
            $"(+ YOLOX {yolox:F0}) → {1000 / (wy + wu + wtx + yolox):F2} frames/s detection only, no mask, no check");
        return new
        {
            size = label, frames = t.Count, masked_area_median = area.Order().ElementAt(area.Count / 2), masked_area_before_median = areaBefore.Order().ElementAt(areaBefore.Count / 2),
            stroke_candidates = strokes, tile_vehicles = tiles, copy_ms = copy, vehicle_tiles_ms = vehicles, faces_ms = faces, text_ms = text, mask_ms = mask, check_ms = check, encode_ms = enc, total_ms = total, yolox_ms = yolox,
            fps = 1000 / (total + yolox),
            before = new { faces_ms = B(x => x.FacesMs), text_ms = B(x => x.TextMs), check_ms = B(x => x.CheckMs), total_ms = B(x => x.TotalMs), fps = 1000 / (B(x => x.TotalMs) + yolox) },
            whole_frame = new { yunet_ms = wy, ultraface_ms = wu, text_ms = wtx, fps = 1000 / (wy + wu + wtx + yolox) },
        };
    }

    /// <summary>Share of the frame under the union of the masks.</summary>
    private static double MaskedShare(AnonymiseResult r, int w, int h)
    {
        var mask = new bool[w * h];
        foreach (var (x0, y0, x1, y1) in r.MaskRects)
            for (int y = y0; y < y1; y++) mask.AsSpan(y * w + x0, x1 - x0).Fill(true);
        return mask.Count(m => m) / (double)(w * h);
    }

    /// <summary>YuNet and the text detector at the frame's own size (multiples of 32), UltraFace at its 320×240: the naive pipeline.</summary>
    private sealed class WholeFrame : IDisposable
    {
        private readonly ObjectDetector _yunet, _ultra, _text;
        private readonly Detections _d = new(2000);
        public WholeFrame(int w, int h)
        {
            int pw = (w + 31) / 32 * 32, ph = (h + 31) / 32 * 32;
            _yunet = ObjectDetector.Open(new DetectorOptions { Model = "face_detection_yunet_2026may", Inference = Cpu, InputWidth = pw, InputHeight = ph, MaxBatch = 1, Decode = new DecodeOptions(0.3f, 0.3f, 1000) });
            _ultra = ObjectDetector.Open(new DetectorOptions { Model = "ultraface_version-RFB-320", Inference = Cpu, MaxBatch = 1, Decode = new DecodeOptions(0.5f, 0.3f, 500) });
            _text = ObjectDetector.Open(new DetectorOptions { Model = "ch_PP-OCRv4_det_infer", Inference = Cpu, InputWidth = pw, InputHeight = ph, MaxBatch = 1, Decode = new DecodeOptions(0.3f, 0.3f, 500) });
        }
        public (double, double, double) Time(in FrameView f)
        {
            long t0 = Stopwatch.GetTimestamp();
            _yunet.Detect(f, _d);
            long t1 = Stopwatch.GetTimestamp();
            _ultra.Detect(f, _d);
            long t2 = Stopwatch.GetTimestamp();
            _text.Detect(f, _d);
            long t3 = Stopwatch.GetTimestamp();
            double ms = 1000.0 / Stopwatch.Frequency;
            return ((t1 - t0) * ms, (t2 - t1) * ms, (t3 - t2) * ms);
        }
        public void Dispose() { _yunet.Dispose(); _ultra.Dispose(); _text.Dispose(); }
    }

    // ------------------------------------------------------------------ references

    /// <summary>
    /// The face reference: YuNet on the whole frame at native resolution and YuNet on four overlapping
    /// quarters upscaled 2× (so faces down to ~6 px are found), both at score ≥ 0.6, unioned. Another
    /// input geometry than the anonymiser's (640 px tiles at 1×, score 0.3, plus UltraFace), but the
    /// same YuNet weights: it measures what tiling and thresholds lose, not YuNet's own blind spots.
    /// </summary>
    private sealed class ReferenceFaces : IDisposable
    {
        private readonly Dictionary<(int, int), ObjectDetector> _byInput = new();
        private readonly Detections _d = new(2000);

        private ObjectDetector For(int w, int h)
        {
            int pw = (w + 31) / 32 * 32, ph = (h + 31) / 32 * 32;
            if (!_byInput.TryGetValue((pw, ph), out var d))
                _byInput[(pw, ph)] = d = ObjectDetector.Open(new DetectorOptions
                {
                    Model = "face_detection_yunet_2026may", Inference = Cpu, InputWidth = pw, InputHeight = ph, MaxBatch = 1, Decode = new DecodeOptions(0.6f, 0.3f, 2000),
                });
            return d;
        }

        public List<BoxF> Find(in FrameView f)
        {
            var all = new List<BoxF>();
            For(f.Width, f.Height).Detect(f, _d);
            all.AddRange(_d.Boxes.ToArray());
            int qw = (f.Width / 2 + 64) & ~1, qh = (f.Height / 2 + 64) & ~1;
            foreach (int y0 in new[] { 0, (f.Height - qh) & ~1 })
                foreach (int x0 in new[] { 0, (f.Width - qw) & ~1 })
                {
                    var q = Crop(f, x0, y0, qw, qh);
                    For(qw * 2, qh * 2).Detect(q, _d);
                    foreach (var b in _d.Boxes) all.Add(new BoxF(b.X + x0, b.Y + y0, b.W, b.H));
                }
            // Union: a box that overlaps a kept one (IoU ≥ 0.3) is the same face.
            var kept = new List<BoxF>();
            foreach (var b in all.OrderByDescending(b => b.Area))
                if (!kept.Any(k => BoxF.IoU(k, b) >= 0.3f)) kept.Add(b);
            return kept;
        }

        public void Dispose() { foreach (var d in _byInput.Values) d.Dispose(); }
    }

    /// <summary>The text detector at the anonymiser's whole-frame geometry; "large" = taller than its small-text limit.</summary>
    private sealed class TextCheck(AnonymiseOptions o) : IDisposable
    {
        private readonly Dictionary<(int, int), ObjectDetector> _byInput = new();
        private readonly Detections _d = new(500);

        public List<BoxF> All(in FrameView f)
        {
            float scale = MathF.Min(1f, (float)o.TextMaxSide / Math.Max(f.Width, f.Height));
            int tw = Math.Max(32, (int)MathF.Ceiling(f.Width * scale / 32f) * 32), th = Math.Max(32, (int)MathF.Ceiling(f.Height * scale / 32f) * 32);
            if (!_byInput.TryGetValue((tw, th), out var d))
                _byInput[(tw, th)] = d = ObjectDetector.Open(new DetectorOptions
                {
                    Model = "ch_PP-OCRv4_det_infer", Inference = Cpu, InputWidth = tw, InputHeight = th, MaxBatch = 1, Decode = new DecodeOptions(o.TextScore, 0.3f, 500),
                });
            d.Detect(f, _d);
            return _d.Boxes.ToArray().ToList();
        }

        public List<BoxF> Large(in FrameView f)
        {
            float limit = o.SmallTextMaxHeight * f.Height;
            return All(f).Where(b => b.H > limit).ToList();
        }

        public void Dispose() { foreach (var d in _byInput.Values) d.Dispose(); }
    }

    // ------------------------------------------------------------------ helpers

    private static VideoSource Open(string path) =>
        VideoSource.Open(path, new SourceOptions { Hardware = HardwareDecode.None, DecoderThreads = 1 });

    private static readonly Detections s_objects = new();
    private static Detections Context(ObjectDetector context, in FrameView f)
    {
        context.Detect(f, s_objects);
        return s_objects;
    }

    private static FrameView Crop(in FrameView f, int x0, int y0, int w, int h) =>
        new(w, h, PixelFormat.Yuv420P,
            f.Plane0[(y0 * f.Stride0 + x0)..], f.Stride0,
            f.Plane1[(y0 / 2 * f.Stride1 + x0 / 2)..], f.Stride1,
            f.Plane2[(y0 / 2 * f.Stride2 + x0 / 2)..], f.Stride2, f.FullRange);

    /// <summary>Fraction of <paramref name="b"/> inside the union of the mask rectangles (see <see cref="Ephemera.Anonymisation.MaskCoverage"/>).</summary>
    private static double Covered(BoxF b, IReadOnlyList<(int X0, int Y0, int X1, int Y1)> rects, int w, int h) => Ephemera.Anonymisation.MaskCoverage.Fraction(b, rects, w, h);

    private static void Require(bool ok, string what)
    {
        if (!ok) throw new EphemeraException($"anonymise-eval: {what}");
    }
}
