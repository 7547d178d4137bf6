using System.Diagnostics;
using Ephemera.Core;
using Microsoft.ML.OnnxRuntime;

namespace Ephemera.Inference.Runtime;

/// <summary>
/// Which precision the detector took and why, with both measured figures when it measured (Auto).
/// <see cref="CpuFlags"/> records the CPU's int8-relevant ISA flags for the log and the bench JSON;
/// the measurement decides, not the flags.
/// </summary>
public sealed record PrecisionDecision(DetectorPrecision Requested, DetectorPrecision Chosen, double? Fp32MsPerImage, double? Int8MsPerImage, string Reason)
{
    public string CpuFlags { get; } = PrecisionProbe.CpuFlags();
    /// <summary>fp32 ms ÷ int8 ms (above 1: int8 faster), when both were measured.</summary>
    public double? Int8Speedup => Fp32MsPerImage is { } f && Int8MsPerImage is { } i && i > 0 ? f / i : null;
}

/// <summary>
/// Times fp32 against int8 on this machine, at the detector's input size and batch, before the
/// engine starts. On CPUs without VNNI the int8 graph is slower (measured 0.84× fp32 on an AVX2-only
/// VM: ORT's U8S8 AVX2 kernels widen to int16), so only a measurement can say whether it pays.
/// </summary>
public static class PrecisionProbe
{
    /// <summary>int8 is taken only when at least this much faster: below it, fp32's exact scores win.</summary>
    public const double Margin = 1.10;

    /// <summary>
    /// Median ms per image of <paramref name="rounds"/> interleaved rounds (A, B, A, B … so a noisy
    /// neighbour hits both alike), each at least <paramref name="roundMs"/> long after one warm-up run.
    /// The input is a constant mid-grey tensor (no pixels): convolution cost does not depend on content.
    /// </summary>
    public static (double Fp32Ms, double Int8Ms) Measure(ModelSession fp32, ModelSession int8, int batch, int width, int height, int rounds = 3, double roundMs = 100)
    {
        using var a = new Runner(fp32, fp32.DynamicBatch ? batch : 1, width, height);
        using var b = new Runner(int8, batch, width, height);
        a.Run(); b.Run();
        var ta = new List<double>(); var tb = new List<double>();
        for (int r = 0; r < rounds; r++) { ta.Add(a.MsPerImage(roundMs)); tb.Add(b.MsPerImage(roundMs)); }
        return (Median(ta), Median(tb));
    }

    private static double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }

    /// <summary>The int8-relevant flags of /proc/cpuinfo (avx2, avx512f, avx512_vnni, avx_vnni, amx_int8…), "unknown" elsewhere.</summary>
    public static string CpuFlags()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            if (line == null) return "unknown";
            var wanted = new[] { "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8" };
            var have = line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            return string.Join(' ', wanted.Where(have.Contains));
        }
        catch (IOException) { return "unknown"; }
    }

    private sealed class Runner : IDisposable
    {
        private readonly ModelSession _s;
        private readonly OrtValue _input;
        private readonly RunOptions _run = new();
        private readonly string[] _in, _out;
        private readonly int _batch;

        public Runner(ModelSession s, int batch, int width, int height)
        {
            _s = s; _batch = batch;
            var data = new float[batch * 3 * height * width];
            Array.Fill(data, 114f);
            _input = OrtValue.CreateTensorValueFromMemory(data, [batch, 3, height, width]);
            _in = [s.Entry.Input.Tensor];
            _out = s.Entry.Output.Tensors.Length > 0 ? s.Entry.Output.Tensors : s.Session.OutputNames.ToArray();
        }

        public void Run() { using var o = _s.Session.Run(_run, _in, [_input], _out); }

        public double MsPerImage(double atLeastMs)
        {
            long t0 = Stopwatch.GetTimestamp();
            int n = 0;
            do { Run(); n++; } while (Stopwatch.GetElapsedTime(t0).TotalMilliseconds < atLeastMs || n < 2);
            return Stopwatch.GetElapsedTime(t0).TotalMilliseconds / (n * _batch);
        }

        public void Dispose() { _input.Dispose(); _run.Dispose(); }
    }
}
