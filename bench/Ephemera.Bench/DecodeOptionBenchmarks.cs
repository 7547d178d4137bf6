using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ephemera.Decode;

namespace Ephemera.Bench;

/// <summary>
/// FFmpeg's cheaper decode options on the street workload: ADL-Rundle-6 (525 frames of 1080p30
/// H.264) read the way a camera reads it (every 6th frame wanted: detection at 5 of 30 fps, so
/// unwanted non-reference frames are never decoded), one decoder thread per stream (the runtime's
/// setting once cameras fill the cores), with deblocking (<c>skip_loop_filter</c>) and
/// <c>flags2=fast</c> switched on and off. "Source frames/s" ÷ 30 is the number of such cameras one
/// core decodes. Threading is not a parameter here: with one thread per stream slice and frame
/// threading are the same, and with more streams than cores extra threads only contend.
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- --filter '*DecodeOptionBenchmarks*' --job short</c>;
/// on a shared, busy machine <c>-- decode-options [ROUNDS]</c> prints the CPU time instead (the thread's own
/// clock, which other tenants do not inflate).
/// </summary>
[Config(typeof(SourceFpsConfig))]
public class DecodeOptionBenchmarks
{
    private string _file = "";

    [Params(LoopFilter.Full, LoopFilter.SkipNonRef, LoopFilter.SkipBidir, LoopFilter.SkipAll)]
    public LoopFilter Deblock { get; set; }

    [Params(false, true)]
    public bool Fast { get; set; }

    [GlobalSetup]
    public void Setup() => _file = BenchInputs.Require(BenchInputs.AdlRundle6);

    [Benchmark(Description = "every 6th frame wanted")]
    public long Every6th() => Read(_file, Deblock, Fast, WantedFrames.EveryNth(6));

    /// <summary>CPU ms per pass over the file for each option (median of <paramref name="rounds"/>, interleaved), every 6th and every frame wanted.</summary>
    public static void CpuTable(int rounds)
    {
        string file = BenchInputs.Require(BenchInputs.AdlRundle6);
        var cases = new List<(string Wanted, WantedFrames W, LoopFilter L, bool F)>();
        foreach (var (name, w) in new[] { ("every 6th", WantedFrames.EveryNth(6)), ("all", WantedFrames.All) })
            foreach (var l in Enum.GetValues<LoopFilter>())
                foreach (var f in new[] { false, true })
                    if (!f || l is LoopFilter.Full or LoopFilter.SkipBidir) cases.Add((name, w, l, f));
        var ms = cases.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < cases.Count; i++)
            {
                var c = cases[i];
                long t0 = Ephemera.Core.ThreadCpuClock.NowNs();
                Read(file, c.L, c.F, c.W);
                ms[i].Add((Ephemera.Core.ThreadCpuClock.NowNs() - t0) / 1e6);
            }
        Console.WriteLine("| frames wanted | deblocking | flags2 fast | CPU ms per pass (525 frames) | vs full |");
        Console.WriteLine("|---|---|---|---|---|");
        for (int i = 0; i < cases.Count; i++)
        {
            double med = ms[i].Order().ElementAt(ms[i].Count / 2);
            double full = ms[cases.FindIndex(c => c.Wanted == cases[i].Wanted && c.L == LoopFilter.Full && !c.F)].Order().ElementAt(rounds / 2);
            Console.WriteLine($"| {cases[i].Wanted} | {cases[i].L} | {cases[i].F} | {med:0} | {med / full:0.00}× |");
        }
    }

    private static long Read(string file, LoopFilter deblock, bool fast, WantedFrames wanted)
    {
        using var source = VideoSource.Open(file, new SourceOptions { DecoderThreads = 1, Hardware = HardwareDecode.None, LoopFilter = deblock, FastDecode = fast });
        long decoded = 0, results = 0;
        for (;;)
        {
            var status = source.Read(out var frame, wanted);
            if (status == ReadStatus.EndOfStream) break;
            results++;
            if (frame == null) continue;
            frame.Dispose();
            decoded++;
        }
        if (results != BenchInputs.AdlRundle6Frames) throw new InvalidOperationException($"{results} results != {BenchInputs.AdlRundle6Frames} source frames");
        return decoded;
    }

    private sealed class SourceFpsConfig : ManualConfig
    {
        public SourceFpsConfig() => AddColumn(new PerSecondColumn("SourceFramesPerSecond", "Source frames/s", "source frames consumed per second, decoded or skipped (525 / mean)", BenchInputs.AdlRundle6Frames));
    }
}
