using System.Text.Json;
using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary>The bench report carries what makes a figure reproducible: the rule, the spread of repeated trials, the machine's drift, the CPU cost per stage.</summary>
[Collection("engine")]
public sealed class BenchVerbTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public void RepeatedTrialsReportRuleSpreadDriftAndCpuCostPerStage()
    {
        var json = _dir.File("bench.json");
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("vtest.avi"), "--streams", "1", "--seconds", "3", "--repeat", "2",
            "--ceiling-seconds", "0.5", "--calibration-seconds", "0.3", "--rule", "detect=0.9,p99=800", "--schedule", "by_need", "--json", json, "--report", _dir.File("report"));
        Assert.True(r.ExitCode == 0, r.StdErr);
        // The progress bar on stderr, one per trial; the page and its JSON beside the machine JSON.
        Assert.Contains("trial 1 · 1 streams [", r.StdErr);
        Assert.Contains("trial 2 · 1 streams [", r.StdErr);
        Assert.True(File.Exists(_dir.File(Path.Combine("report", "report.html"))), r.StdErr);
        Assert.Equal(File.ReadAllText(json), File.ReadAllText(_dir.File(Path.Combine("report", "bench.json"))));
        Assert.Contains("every camera ≥ 0.9 of the detections its schedule asked for", r.StdErr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;

        var rule = root.GetProperty("rule");
        Assert.Equal(0.9, rule.GetProperty("detect_share").GetDouble());
        Assert.Equal(800, rule.GetProperty("p99_floor_ms").GetDouble());
        Assert.Equal(0.01, rule.GetProperty("late_share").GetDouble());
        Assert.Equal(0.02, rule.GetProperty("count_share").GetDouble());

        // By need: judged on what its schedule asked for, and its line counts against a full-rate pass of the clip.
        Assert.Equal("by_need", root.GetProperty("schedule").GetString());
        double asked = root.GetProperty("detections_asked").GetDouble();
        long done = root.GetProperty("detections_done").GetInt64();
        Assert.True(asked > 0 && done > 0, $"asked {asked}, done {done}");
        var counts = root.GetProperty("count_difference");
        Assert.Equal(3, counts.GetProperty("reference_seconds").GetDouble(), 0);
        Assert.Equal(1, counts.GetProperty("camera_crossings").GetArrayLength());
        int reference = counts.GetProperty("reference_crossings").GetInt32(), camera = counts.GetProperty("camera_crossings")[0].GetInt32();
        Assert.Equal(reference > 0 ? Math.Round((camera - reference) / (double)reference, 4) : camera == 0 ? 0 : 1, counts.GetProperty("relative").GetDouble(), 4);

        Assert.Equal(2, root.GetProperty("repeat").GetInt32());
        Assert.Equal(2, root.GetProperty("trials").GetArrayLength());
        foreach (var figure in new[] { "detect_fps_achieved", "latency_p99_ms", "cpu_ms_per_camera_second", "capacity_streams", "efficiency" })
        {
            var s = root.GetProperty("spread").GetProperty(figure);
            double min = s.GetProperty("min").GetDouble(), median = s.GetProperty("median").GetDouble(), max = s.GetProperty("max").GetDouble();
            Assert.True(min <= median && median <= max, $"{figure}: {min} ≤ {median} ≤ {max}");
        }

        var machine = root.GetProperty("machine");
        Assert.Equal(Environment.ProcessorCount, machine.GetProperty("cores").GetInt32());
        Assert.False(string.IsNullOrEmpty(machine.GetProperty("cpu_model").GetString()));
        Assert.Contains(System.Net.WebUtility.HtmlEncode(machine.GetProperty("cpu_model").GetString()!), File.ReadAllText(_dir.File(Path.Combine("report", "report.html"))));

        var drift = root.GetProperty("drift");
        Assert.Equal(2, drift.GetProperty("calibrations").GetArrayLength()); // before the trials, and after the one stream count
        Assert.True(drift.GetProperty("calibrations")[0].GetProperty("detect_ips").GetDouble() > 0);
        Assert.True(drift.GetProperty("max_drift").GetDouble() >= 0);
        Assert.Equal(drift.GetProperty("max_drift").GetDouble() > 0.10, drift.GetProperty("uncertain").GetBoolean());

        var cpu = root.GetProperty("cpu_ms_per_camera_second");
        foreach (var stage in new[] { "decode", "preprocess", "inference", "track" })
            Assert.True(cpu.GetProperty(stage).GetDouble() > 0, $"no CPU cost for {stage}");
        double attributed = new[] { "decode", "preprocess", "inference", "track", "analytics", "pixel_stage", "publish", "other" }.Sum(k => cpu.GetProperty(k).GetDouble());
        Assert.InRange(attributed, cpu.GetProperty("total").GetDouble() * 0.99, cpu.GetProperty("total").GetDouble() * 1.01 + 0.01);
        // capacity = cores × 1000 / CPU ms per camera-second.
        double expected = root.GetProperty("cores").GetInt32() * 1000 / cpu.GetProperty("total").GetDouble();
        Assert.InRange(root.GetProperty("capacity_streams").GetDouble(), expected * 0.98, expected * 1.02);

        // The detector inside the engine against the bare loop at the engine's input, same run (issue 17).
        var ceiling = root.GetProperty("ceiling");
        double bareCpu = ceiling.GetProperty("detect_cpu_ms_per_image_engine_input").GetDouble();
        Assert.True(bareCpu > 0, "no bare CPU ms per image at the engine input");
        var dc = root.GetProperty("detector_cost");
        Assert.Equal(ceiling.GetProperty("engine_input").GetString(), dc.GetProperty("input").GetString());
        Assert.Equal(bareCpu, dc.GetProperty("bare_cpu_ms_per_image").GetDouble(), 3);
        double engineCpu = dc.GetProperty("engine_cpu_ms_per_image").GetDouble();
        Assert.True(engineCpu > 0, "no in-engine CPU ms per image");
        Assert.Equal(engineCpu / bareCpu, dc.GetProperty("cpu_ratio").GetDouble(), 1);
        // efficiency_engine_input = sustained streams ÷ the streams the ceilings allow at the engine's input.
        double allowedAtEngine = root.GetProperty("streams_allowed_engine_input").GetDouble();
        Assert.True(allowedAtEngine > 0);
        double effAtEngine = root.GetProperty("efficiency_engine_input").GetDouble(); // 1 stream: 1 ÷ allowed when sustained, else 0
        Assert.True(effAtEngine == 0 || Math.Abs(effAtEngine - 1 / allowedAtEngine) < 0.002, $"efficiency_engine_input {effAtEngine}, allowed {allowedAtEngine}");
        foreach (var figure in new[] { "efficiency_engine_input", "detector_cpu_ratio" })
        {
            var s = root.GetProperty("spread").GetProperty(figure);
            Assert.True(s.GetProperty("min").GetDouble() <= s.GetProperty("median").GetDouble() && s.GetProperty("median").GetDouble() <= s.GetProperty("max").GetDouble(), figure);
        }
        Assert.Contains("id=\"detector-cost\"", File.ReadAllText(_dir.File(Path.Combine("report", "report.html"))));
    }

    /// <summary>--phases 2: the second camera starts half a clip in (at the keyframe before it), and each
    /// camera's line counts are compared with the full-rate reference of its own phase, at the one
    /// precision <c>--precision auto</c> chose before the trials.</summary>
    [Fact]
    public void PhasedCamerasAreComparedWithTheirPhasesReference()
    {
        var json = _dir.File("phases.json");
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("vtest.avi"), "--streams", "2", "--seconds", "3", "--phases", "2",
            "--ceiling-seconds", "0.5", "--calibration-seconds", "0.3", "--rule", "detect=0.5,p99=2000", "--precision", "auto", "--json", json);
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("phases").GetInt32());
        // Auto is measured once, before the references: the trial's engine runs what it chose as asked
        // for, so its counts are never compared with references replayed at the other precision.
        var precision = root.GetProperty("precision");
        Assert.Equal("auto", precision.GetProperty("asked").GetString());
        Assert.Equal(JsonValueKind.Number, precision.GetProperty("int8_ms_per_image").ValueKind);
        string ran = precision.GetProperty("ran").GetString()!;
        Assert.Contains($"precision: {ran} for every trial and reference", r.StdErr);
        Assert.Contains($"detector precision {ran}: {ran} asked for", r.StdErr);
        Assert.DoesNotContain("x fp32 (", r.StdErr.Split('\n').Where(l => l.Contains("detector precision")).Aggregate("", (a, l) => a + l));
        var counts = root.GetProperty("count_difference");
        var phases = counts.GetProperty("phase_reference_crossings");
        Assert.Equal(2, phases.GetArrayLength());
        Assert.Equal(phases[0].GetInt32(), counts.GetProperty("reference_crossings").GetInt32());
        var cameras = counts.GetProperty("camera_crossings");
        int reference = phases[0].GetInt32() + phases[1].GetInt32(), total = cameras[0].GetInt32() + cameras[1].GetInt32();
        Assert.Equal(reference > 0 ? Math.Round((total - reference) / (double)reference, 4) : total == 0 ? 0 : 1, counts.GetProperty("relative").GetDouble(), 4);
        // Each phase's full-rate range over the detection offsets (10 fps at 5/s: offsets 0 and 1) holds its offset-0 reference.
        var ranges = counts.GetProperty("phase_reference_ranges");
        Assert.Equal(2, ranges.GetArrayLength());
        for (int p = 0; p < 2; p++)
            Assert.InRange(phases[p].GetInt32(), ranges[p][0].GetInt32(), ranges[p][1].GetInt32());
        int low = ranges[0][0].GetInt32() + ranges[1][0].GetInt32(), high = ranges[0][1].GetInt32() + ranges[1][1].GetInt32();
        Assert.Equal(low, counts.GetProperty("range_low").GetInt32());
        Assert.Equal(high, counts.GetProperty("range_high").GetInt32());
        Assert.Equal(Math.Max(0, Math.Max(low - total, total - high)), counts.GetProperty("outside_range").GetInt32());
    }

    /// <summary>
    /// By need, a still camera's floor detections are judged against the floor's interval, not the full
    /// rate's: the JSON reports their p99 apart (<c>latency_ms.floor_p99</c>), and the full-rate p99 covers
    /// only the detections asked at full rate. The empty first seconds of the idle-heavy clip run floor detections.
    /// </summary>
    [Fact]
    public void ByNeedReportsTheFloorDetectionsLatencyApart()
    {
        var json = _dir.File("floor.json");
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("one-by-one-person-detection.mp4"), "--streams", "2", "--seconds", "8",
            "--schedule", "by_need", "--phases", "1", "--no-reference", "--ceiling-seconds", "0.5", "--calibration-seconds", "0.3", "--rule", "detect=0.5,p99=3000", "--json", json);
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.True(root.GetProperty("detections_not_needed").GetInt64() > 0, "no detection skipped: the clip's start was not still");
        var latency = root.GetProperty("latency_ms");
        Assert.Equal(JsonValueKind.Number, latency.GetProperty("floor_p99").ValueKind);
        Assert.True(latency.GetProperty("floor_p99").GetDouble() > 0);
        Assert.True(latency.GetProperty("p99").GetDouble() > 0);
        Assert.Contains("floor detections against floor intervals", root.GetProperty("rule_text").GetString());
    }

    /// <summary>
    /// The full-rate reference decodes as the trial's cameras do (<c>engine.decode: fast</c>: B-frames
    /// not deblocked), so it differs from a trial in its schedule alone. On the idle-heavy clip's first
    /// 15 s, int8 loses the visitor's crossing on the undeblocked frames of detection offset 0 and keeps
    /// it at offset 1; a replay with deblocking gave [1, 1], and half the live cameras "lost" a crossing.
    /// </summary>
    [Fact]
    public void TheReferenceDecodesAsTheTrialsCamerasDo()
    {
        var json = _dir.File("decode.json");
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("one-by-one-person-detection.mp4"), "--streams", "2", "--seconds", "15", "--precision", "int8",
            "--ceiling-seconds", "0.5", "--calibration-seconds", "0.3", "--rule", "detect=0.5,p99=3000", "--json", json);
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var counts = doc.RootElement.GetProperty("count_difference");
        var range = counts.GetProperty("phase_reference_ranges")[0];
        Assert.Equal([0, 1], new[] { range[0].GetInt32(), range[1].GetInt32() });
        foreach (var c in counts.GetProperty("camera_crossings").EnumerateArray()) Assert.InRange(c.GetInt32(), 0, 1);
    }

    /// <summary>
    /// The soak samples RSS every 10 s and splits each sample into the managed heap, the native pixel
    /// pools and the rest, so a drift says where memory grows.
    /// </summary>
    [Fact]
    public void TheSoakSplitsEachRssSample()
    {
        var json = _dir.File("soak.json");
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("vtest.avi"), "--streams", "1", "--seconds", "2", "--soak", "12", "--no-reference",
            "--ceiling-seconds", "0.5", "--calibration-seconds", "0.3", "--rule", "detect=0.5,p99=3000", "--json", json);
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var samples = doc.RootElement.GetProperty("soak").GetProperty("rss");
        Assert.True(samples.GetArrayLength() >= 2, samples.ToString());
        foreach (var s in samples.EnumerateArray())
        {
            double rss = s.GetProperty("rss_mb").GetDouble(), managed = s.GetProperty("managed_heap_mb").GetDouble(),
                pools = s.GetProperty("pixel_pools_mb").GetDouble(), other = s.GetProperty("other_mb").GetDouble();
            Assert.True(managed > 0 && pools > 0 && other > 0, s.ToString()); // a camera runs: its decoder's pool is reserved
            Assert.Equal(rss, managed + pools + other, 1);
        }
        Assert.Contains("pixel pools", r.StdErr);
    }

    /// <summary>
    /// The count rule judges the cameras' sum against the full-rate range over detection offsets, with
    /// 2 % (at least one crossing) of slack: a busy clip's +2 that full rate itself gives at another
    /// offset passes, the same +2 against a clip whose offsets all agree does not.
    /// </summary>
    [Theory]
    [InlineData(new[] { 7, 7, 6 }, 6, 6, 7, true)]   // 20 in 18..21
    [InlineData(new[] { 7, 7, 6 }, 6, 6, 6, false)]  // 20 against 18..18: 2 outside, slack 1
    [InlineData(new[] { 7, 6, 6 }, 6, 6, 6, true)]   // 19: 1 outside, the one-crossing slack
    [InlineData(new[] { 4, 5, 5 }, 6, 5, 7, true)]   // 14 against 15..21: 1 outside
    [InlineData(new[] { 4, 4, 5 }, 6, 5, 7, false)]  // 13: 2 outside
    public void TheCountRuleAllowsWhatFullRateGivesAtAnotherOffset(int[] cameras, int reference, int low, int high, bool right)
    {
        var d = new Bench.CountDifference(reference, 15, cameras, PhaseReferenceRanges: [[low, high]]);
        Assert.Equal(right, new Bench.SustainedRule().CountsRight(d));
        Assert.Equal(3 * low, d.RangeLow);
        Assert.Equal(3 * high, d.RangeHigh);
    }

    /// <summary>
    /// Cameras are dealt the clip's start points in a spread order: every P points once, point 0 first,
    /// and any first N cameras spread over the whole clip (no gap between their starts over twice the
    /// even spacing), where dealing them in clip order put 20 cameras of 64 phases in the first third.
    /// </summary>
    [Theory]
    [InlineData(64)]
    [InlineData(8)]
    [InlineData(7)]
    [InlineData(2)]
    [InlineData(1)]
    public void PhasesAreDealtSpreadOverTheClip(int phases)
    {
        var order = Enumerable.Range(0, phases).Select(j => Bench.BenchRunner.PhaseOrder(j, phases)).ToList();
        Assert.Equal(Enumerable.Range(0, phases), order.Order());
        Assert.Equal(0, order[0]);
        for (int n = 2; n <= phases; n++)
        {
            var starts = order.Take(n).Order().Append(phases).ToList();
            int widest = starts.Zip(starts.Skip(1), (a, b) => b - a).Max();
            Assert.True(widest <= Math.Ceiling(2.0 * phases / n) + 1, $"{n} of {phases}: widest gap {widest} in [{string.Join(", ", order.Take(n))}]");
        }
    }

    [Theory]
    [InlineData("--phases", "-1", "--phases must be")]
    public void ABadPhaseCountIsAUsageError(string option, string value, string message)
    {
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("vtest.avi"), option, value, "--json", _dir.File("x.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.StdErr);
    }

    [Theory]
    [InlineData("--soak", "-5", "--soak must be a positive number")]
    [InlineData("--rss-series", "1,x", "--rss-series: 'x' is not a stream count")]
    [InlineData("--report-from", "/nonexistent/bench.json", "--report-from: /nonexistent/bench.json not found")]
    public void BadReportMemoryAndSoakOptionsAreUsageErrors(string option, string value, string message)
    {
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("vtest.avi"), option, value, "--report", _dir.File("r"), "--json", _dir.File("x.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.StdErr);
        Assert.Equal("", r.StdOut.Trim());
    }

    [Fact]
    public void ABadRuleIsAUsageError()
    {
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("vtest.avi"), "--rule", "speed=9", "--json", _dir.File("x.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown key 'speed'", r.StdErr);
    }

    [Theory]
    [InlineData("--schedule", "sometimes", "--schedule must be full or by_need")]
    [InlineData("--floor-fps", "0", "--floor-fps must be")]
    public void ABadScheduleIsAUsageError(string option, string value, string message)
    {
        var r = ChildProcess.Cli("bench", "--source", TestPaths.Video("vtest.avi"), option, value, "--json", _dir.File("x.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.StdErr);
    }

    public void Dispose() => _dir.Dispose();
}
