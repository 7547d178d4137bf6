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
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- --filter '*DecodeOptionBenchmarks*' --job short</c>
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
    public long Every6th()
    {
        using var source = VideoSource.Open(_file, new SourceOptions { DecoderThreads = 1, Hardware = HardwareDecode.None, LoopFilter = Deblock, FastDecode = Fast });
        long decoded = 0, results = 0;
        var wanted = WantedFrames.EveryNth(6);
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
