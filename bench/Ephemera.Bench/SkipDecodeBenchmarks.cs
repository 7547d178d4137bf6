using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ephemera.Core;
using Ephemera.Decode;

namespace Ephemera.Bench;

/// <summary>
/// What skipping unwanted non-reference frames saves: ADL-Rundle-6 (525 frames of 1080p30 H.264,
/// 385 B-frames) read through <see cref="VideoSource"/> with one decoder thread (the runtime's
/// setting once cameras fill the cores), all frames wanted vs every 6th (detection at 5 of 30 fps)
/// vs none. "Source frames/s" = 525 / mean: how fast the source's timeline is consumed, so the
/// ratio to 30 is the number of such cameras one core can keep up with.
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- --filter '*SkipDecodeBenchmarks*' --job short</c>
/// </summary>
[MemoryDiagnoser]
[Config(typeof(SourceFpsConfig))]
public class SkipDecodeBenchmarks
{
    public const int SourceFrames = BenchInputs.AdlRundle6Frames;
    private string _file = "";

    [GlobalSetup]
    public void Setup()
    {
        _file = BenchInputs.Require(BenchInputs.AdlRundle6);
    }

    [Benchmark(Baseline = true, Description = "all frames wanted")]
    public long AllFrames() => Run(WantedFrames.All);

    [Benchmark(Description = "every 6th frame wanted")]
    public long Every6th() => Run(WantedFrames.EveryNth(6));

    [Benchmark(Description = "no frame wanted (references only)")]
    public long NoneWanted() => Run(new WantedFrames(long.MaxValue));

    /// <summary>Reads the whole file; returns decoded frames (skipped + decoded must be 525).</summary>
    private long Run(WantedFrames wanted)
    {
        using var source = VideoSource.Open(_file, new SourceOptions { DecoderThreads = 1, Hardware = HardwareDecode.None });
        long decoded = 0, skipped = 0;
        for (;;)
        {
            var status = source.Read(out var frame, wanted);
            if (status == ReadStatus.EndOfStream) break;
            if (status == ReadStatus.Skipped) { skipped++; continue; }
            if (status != ReadStatus.Frame) throw new InvalidOperationException($"unexpected {status}");
            frame!.Dispose();
            decoded++;
        }
        if (decoded + skipped != SourceFrames) throw new InvalidOperationException($"{decoded} decoded + {skipped} skipped != {SourceFrames}");
        return decoded;
    }

    /// <summary>Adds "Source frames/s" = 525 / mean time.</summary>
    private sealed class SourceFpsConfig : ManualConfig
    {
        public SourceFpsConfig() => AddColumn(new PerSecondColumn("SourceFramesPerSecond", "Source frames/s", "source frames consumed per second, decoded or skipped (525 / mean)", SourceFrames));
    }
}
