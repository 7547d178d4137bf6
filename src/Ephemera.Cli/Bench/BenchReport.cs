using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ephemera.Cli.Bench;

/// <summary>
/// <c>bench --report DIR</c>: the bench's JSON and one self-contained HTML page that a benchmarker
/// can hand on (mail it, attach it to a ticket): inline CSS and SVG charts drawn here, no script,
/// no font, no CDN, so it renders the same offline and years later. Charts: every trial (streams
/// against achieved detection rate, p99 latency and CPU per camera-second), the CPU per stage, the
/// ceilings against the result, memory per stream and the soak when measured, and the machine.
/// </summary>
public static class BenchReport
{
    public const string JsonName = "bench.json", HtmlName = "report.html";

    /// <summary>Writes <c>DIR/bench.json</c> and <c>DIR/report.html</c>; returns the HTML's path.</summary>
    public static string Write(JsonObject result, string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, JsonName), result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        string html = Path.Combine(dir, HtmlName);
        File.WriteAllText(html, Html(result));
        return html;
    }

    /// <summary>The page for one bench result (the JSON <c>bench --json</c> writes, with <c>machine</c>).</summary>
    public static string Html(JsonObject result)
    {
        // Through text once: every value becomes a JSON element, readable as double or bool whatever it was built from.
        var r = JsonNode.Parse(result.ToJsonString())!.AsObject();
        var h = new StringBuilder();
        string source = Path.GetFileName(Str(r["source"]));
        h.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ephemera bench: ")
         .Append(E(source)).Append("</title><style>")
         .Append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}h1{font-size:20px}h2{font-size:16px;margin-top:28px}")
         .Append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}.ok{color:#1a7f37}.no{color:#c62828}")
         .Append(".charts{display:flex;flex-wrap:wrap;gap:16px}svg{background:#fafafa;border:1px solid #ddd}svg text{font:11px sans-serif}.flags{font:11px monospace;word-break:break-all}")
         .Append("</style></head><body>");
        bool sustained = r["sustained"]?.GetValue<bool>() ?? false;
        h.Append("<h1>Ephemera stream benchmark — ").Append(E(source)).Append("</h1>");
        h.Append("<p id=\"verdict\">").Append(Num(r["streams"])).Append(" streams: <b class=\"").Append(sustained ? "ok\">sustained" : "no\">not sustained").Append("</b>")
         .Append(" (").Append(Num(r["sustained_trials"])).Append(" of ").Append(Num(r["repeat"])).Append(" trials); capacity ")
         .Append(Num(r["capacity_streams"])).Append(" streams; efficiency ").Append(Num(r["efficiency"])).Append(" (").Append(Num(r["efficiency_engine_input"])).Append(" at the engine's input); rule: ").Append(E(Str(r["rule_text"]))).Append("</p>");

        Machine(h, r["machine"] as JsonObject);

        h.Append("<h2>Trials</h2><div class=\"charts\">");
        var trials = (r["trials"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var pts = (string key) => trials.Select(t => (X: D(t["streams"]), Y: D(t[key]), Ok: t["sustained"]?.GetValue<bool>() ?? false)).ToList();
        h.Append(Scatter("chart-detect", "detections/s per camera achieved", pts("detect_fps_achieved"), D(r["detect_fps"])));
        h.Append(Scatter("chart-latency", "p99 latency, ms", pts("latency_p99_ms"), D(r["rule"]?["p99_floor_ms"])));
        h.Append(Scatter("chart-cpu", "CPU ms per camera-second", pts("cpu_ms_per_camera_second"), null));
        if (trials.Any(t => t["rss_mb"] != null)) h.Append(Scatter("chart-rss", "RSS, MB", pts("rss_mb"), null));
        h.Append("</div><p>Each dot is one trial (green: sustained, red: not); the dashed line is the target.</p>");
        h.Append("<table id=\"trials\"><tr><th>streams</th><th>sustained</th><th>detect/s/cam</th><th>p99 ms</th><th>CPU ms/cam-s</th><th>capacity</th><th>why not</th></tr>");
        foreach (var t in trials)
            h.Append("<tr><td>").Append(Num(t["streams"])).Append("</td><td>").Append((t["sustained"]?.GetValue<bool>() ?? false) ? "yes" : "no")
             .Append("</td><td>").Append(Num(t["detect_fps_achieved"])).Append("</td><td>").Append(Num(t["latency_p99_ms"]))
             .Append("</td><td>").Append(Num(t["cpu_ms_per_camera_second"])).Append("</td><td>").Append(Num(t["capacity_streams"]))
             .Append("</td><td>").Append(E(Str(t["why_not_sustained"]))).Append("</td></tr>");
        h.Append("</table>");

        if (r["cpu_ms_per_camera_second"] is JsonObject cpu)
        {
            h.Append("<h2>Where the time goes (CPU ms per camera-second, at ").Append(Num(r["streams"])).Append(" streams)</h2>");
            var stages = cpu.Where(kv => kv.Key != "total").Select(kv => (kv.Key, D(kv.Value))).ToList();
            h.Append(Bars("chart-stages", stages, "ms"));
        }

        if (r["ceiling"] is JsonObject c)
        {
            h.Append("<h2>Ceilings</h2>");
            h.Append(Bars("chart-ceilings",
            [
                ($"decode fps (FFmpeg alone)", D(c["decode_fps"])),
                ($"detect images/s at {Str(c["detect_input"])}", D(c["detect_ips"])),
                ($"detect images/s at {Str(c["engine_input"])}", D(c["detect_ips_engine_input"])),
            ], ""));
            h.Append(Bars("chart-streams",
            [
                ("streams the ceilings allow", D(r["streams_allowed"])),
                ("... at the engine's input", D(r["streams_allowed_engine_input"])),
                ("max sustained", sustained ? D(r["streams"]) : 0),
                ("capacity from CPU cost", D(r["capacity_streams"])),
            ], "streams"));
        }

        if (r["detector_cost"] is JsonObject dc)
        {
            h.Append("<h2>Detector: inside the engine vs alone</h2><p id=\"detector-cost\">At ").Append(E(Str(dc["input"]))).Append(", one image costs ")
             .Append(Num(dc["engine_cpu_ms_per_image"])).Append(" CPU ms in the engine and ").Append(Num(dc["bare_cpu_ms_per_image"]))
             .Append(" in the bare ONNX Runtime loop of the same run: ").Append(Num(dc["cpu_ratio"])).Append("×.</p>");
        }

        if (r["memory"] is JsonObject mem)
        {
            var points = (mem["rss"] as JsonArray ?? []).OfType<JsonObject>().Select(p => (X: D(p["streams"]), Y: D(p["rss_mb"]), Ok: true)).ToList();
            h.Append("<h2>Memory per stream</h2><div class=\"charts\">").Append(Scatter("chart-memory", "RSS, MB", points, null)).Append("</div>");
            h.Append("<p id=\"mb-per-stream\">").Append(Num(mem["mb_per_added_stream"])).Append(" MB per added stream (goal ≤ ").Append(Num(mem["goal_mb_per_stream"])).Append(")</p>");
        }
        if (r["soak"] is JsonObject soak)
        {
            var points = (soak["rss"] as JsonArray ?? []).OfType<JsonObject>().Select(p => (X: D(p["seconds"]), Y: D(p["rss_mb"]), Ok: true)).ToList();
            h.Append("<h2>Soak: ").Append(Num(soak["streams"])).Append(" streams for ").Append(Num(soak["seconds"])).Append(" s</h2><div class=\"charts\">")
             .Append(Scatter("chart-soak", "RSS, MB over seconds", points, null, line: true)).Append("</div>");
            h.Append("<p id=\"soak-drift\">RSS drift after the first minute: ").Append(Pct(soak["rss_drift"])).Append(" (goal within ").Append(Pct(soak["goal_drift"]))
             .Append("); sustained: ").Append((soak["sustained"]?.GetValue<bool>() ?? false) ? "yes" : "no").Append("</p>");
        }
        h.Append("<h2>Raw result</h2><p>The same figures as JSON: <code>").Append(JsonName).Append("</code> beside this page.</p></body></html>");
        return h.ToString();
    }

    private static void Machine(StringBuilder h, JsonObject? m)
    {
        h.Append("<h2>Machine</h2><table id=\"machine\">");
        if (m == null) { h.Append("<tr><td>not recorded</td></tr></table>"); return; }
        void Row(string k, string v) => h.Append("<tr><th>").Append(k).Append("</th><td>").Append(E(v)).Append("</td></tr>");
        Row("CPU", Str(m["cpu_model"]));
        Row("logical cores", Num(m["cores"]));
        Row("SIMD", string.Join(" ", (m["simd"] as JsonArray ?? []).Select(Str)));
        Row("memory", $"{Num(m["memory_mb"])} MB");
        Row("ONNX Runtime provider", Str(m["provider"]));
        Row("OS, runtime", $"{Str(m["os"])}, {Str(m["runtime"])}");
        h.Append("<tr><th>CPU flags</th><td class=\"flags\">").Append(E(Str(m["cpu_flags"]))).Append("</td></tr></table>");
    }

    private const int W = 340, Hh = 220, L = 48, R = 12, T = 24, B = 34;

    /// <summary>One SVG scatter (or line) chart: x from 0 to the largest x, y from 0; an optional dashed target.</summary>
    private static string Scatter(string id, string title, List<(double X, double Y, bool Ok)> pts, double? target, bool line = false)
    {
        var s = new StringBuilder();
        s.Append($"<svg id=\"{id}\" width=\"{W}\" height=\"{Hh}\" viewBox=\"0 0 {W} {Hh}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">");
        s.Append($"<text x=\"{L}\" y=\"15\" font-weight=\"bold\">{E(title)}</text>");
        double maxX = Math.Max(1, pts.Count == 0 ? 1 : pts.Max(p => p.X)), maxY = Math.Max(pts.Count == 0 ? 1 : pts.Max(p => p.Y), target ?? 0);
        maxY = maxY <= 0 ? 1 : maxY * 1.1;
        double minX = line && pts.Count > 0 ? pts.Min(p => p.X) : 0;
        if (maxX <= minX) maxX = minX + 1;
        string Px(double x) => F(L + (x - minX) / (maxX - minX) * (W - L - R));
        string Py(double y) => F(Hh - B - y / maxY * (Hh - B - T));
        Axes(s, F(minX), F(maxX), F(maxY), line ? "seconds" : "streams");
        if (target is > 0)
            s.Append($"<line class=\"target\" x1=\"{L}\" x2=\"{W - R}\" y1=\"{Py(target.Value)}\" y2=\"{Py(target.Value)}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>");
        if (line && pts.Count > 1)
            s.Append("<polyline fill=\"none\" stroke=\"#1565c0\" points=\"").AppendJoin(' ', pts.Select(p => $"{Px(p.X)},{Py(p.Y)}")).Append("\"/>");
        foreach (var p in pts)
            s.Append($"<circle class=\"trial\" cx=\"{Px(p.X)}\" cy=\"{Py(p.Y)}\" r=\"{(line ? 2 : 4)}\" fill=\"{(p.Ok ? "#1a7f37" : "#c62828")}\"><title>{F(p.X)}: {F(p.Y)}</title></circle>");
        return s.Append("</svg>").ToString();
    }

    private static void Axes(StringBuilder s, string minX, string maxX, string maxY, string xLabel)
    {
        s.Append($"<line x1=\"{L}\" y1=\"{Hh - B}\" x2=\"{W - R}\" y2=\"{Hh - B}\" stroke=\"#444\"/><line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{Hh - B}\" stroke=\"#444\"/>");
        s.Append($"<text x=\"{L}\" y=\"{Hh - B + 14}\">{minX}</text><text x=\"{W - R}\" y=\"{Hh - B + 14}\" text-anchor=\"end\">{maxX}</text>");
        s.Append($"<text x=\"{(L + W - R) / 2}\" y=\"{Hh - 4}\" text-anchor=\"middle\">{xLabel}</text>");
        s.Append($"<text x=\"{L - 4}\" y=\"{T + 4}\" text-anchor=\"end\">{maxY}</text><text x=\"{L - 4}\" y=\"{Hh - B}\" text-anchor=\"end\">0</text>");
    }

    /// <summary>Horizontal bars with their values, one per row.</summary>
    private static string Bars(string id, IReadOnlyList<(string Label, double Value)> bars, string unit)
    {
        const int rowH = 22, labelW = 230, width = 700;
        int height = bars.Count * rowH + 10;
        double max = Math.Max(1e-9, bars.Count == 0 ? 1 : bars.Max(b => b.Value));
        var s = new StringBuilder($"<svg id=\"{id}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">");
        for (int i = 0; i < bars.Count; i++)
        {
            var (label, value) = bars[i];
            int y = 5 + i * rowH;
            double w = Math.Max(0, value) / max * (width - labelW - 90);
            s.Append($"<text x=\"{labelW - 6}\" y=\"{y + 14}\" text-anchor=\"end\">{E(label)}</text>");
            s.Append($"<rect class=\"bar\" x=\"{labelW}\" y=\"{y + 2}\" width=\"{F(w)}\" height=\"{rowH - 6}\" fill=\"#1565c0\"/>");
            s.Append($"<text x=\"{F(labelW + w + 6)}\" y=\"{y + 14}\">{F(value)} {E(unit)}</text>");
        }
        return s.Append("</svg>").ToString();
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
    private static string F(double v) => Math.Round(v, 2).ToString(CultureInfo.InvariantCulture);
    private static double D(JsonNode? n) => n is JsonValue v && v.TryGetValue(out double d) ? d : 0;
    private static string Str(JsonNode? n) => n is JsonValue v && v.TryGetValue(out string? s) ? s ?? "" : n?.ToJsonString() ?? "";
    private static string Num(JsonNode? n) => n == null ? "—" : n is JsonValue v && v.TryGetValue(out double d) ? F(d) : E(n.ToJsonString());
    private static string Pct(JsonNode? n) => n == null ? "—" : (D(n) * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";
}
