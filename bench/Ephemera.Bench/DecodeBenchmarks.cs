using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ephemera.Core;
using Ephemera.Decode;

namespace Ephemera.Bench;

/// <summary>
/// Decode throughput of the engine (VideoSource read + dispose loop over ADL-Rundle-6, 525 frames of
/// 1080p H.264) against the ffmpeg CLI decoding the same file to null with the same thread count, in
/// the same run. Goal: engine ≥ 0.95 × ffmpeg frames per second (Ratio ≤ 1.05).
/// <c>dotnet run -c Release --project bench/Ephemera.Bench -- --filter '*DecodeBenchmarks*' --job short</c>
/// </summary>
[MemoryDiagnoser]
[Config(typeof(FpsConfig))]
public class DecodeBenchmarks
{
    public const int Frames = BenchInputs.AdlRundle6Frames;
    private string _file = "";

    [Params(2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _file = BenchInputs.Require(BenchInputs.AdlRundle6);
    }

    [Benchmark(Baseline = true, Description = "ffmpeg -threads N -f null")]
    public int FfmpegCli()
    {
        var psi = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-hide_banner", "-nostats", "-benchmark", "-threads", Threads.ToString(), "-i", _file, "-f", "null", "-" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("ffmpeg failed: " + err);
        return err.Length;
    }

    [Benchmark(Description = "engine VideoSource read+dispose")]
    public long Engine()
    {
        using var source = VideoSource.Open(_file, new SourceOptions { DecoderThreads = Threads, Hardware = HardwareDecode.None });
        long frames = 0;
        while (source.Read(out var frame) == ReadStatus.Frame)
        {
            frame!.Dispose();
            frames++;
        }
        if (frames != Frames) throw new InvalidOperationException($"decoded {frames} frames, expected {Frames}");
        return frames;
    }

    /// <summary>Adds "Frames/s" = 525 / mean time.</summary>
    private sealed class FpsConfig : ManualConfig
    {
        public FpsConfig() => AddColumn(new PerSecondColumn("FramesPerSecond", "Frames/s", "frames decoded per second (525 frames / mean)", Frames));
    }
}

/// <summary>
/// Steady-state cost of one frame through the managed API (read, view the planes, dispose) on a
/// looping source: the allocation column must read 0 B.
/// </summary>
[MemoryDiagnoser]
public class FrameLeaseBenchmarks
{
    private const int FramesPerInvoke = 64;
    private VideoSource? _source;

    [GlobalSetup]
    public void Setup()
    {
        _source = VideoSource.Open(RepoPaths.Data("video/vtest.avi"), new SourceOptions { Loop = true, Hardware = HardwareDecode.None });
        for (int i = 0; i < 200; i++) ReadOne(); // warm the lease pool and the decoder
    }

    [GlobalCleanup]
    public void Cleanup() => _source?.Dispose();

    [Benchmark(OperationsPerInvoke = FramesPerInvoke, Description = "read + view + dispose, per frame")]
    public int ReadViewDispose()
    {
        int sum = 0;
        for (int i = 0; i < FramesPerInvoke; i++) sum += ReadOne();
        return sum;
    }

    private int ReadOne()
    {
        if (_source!.Read(out var frame) != ReadStatus.Frame) throw new InvalidOperationException("looping source stopped");
        using (frame!)
        {
            var view = frame!.View;
            return view.Plane0[0] + view.Plane1.Length;
        }
    }
}
