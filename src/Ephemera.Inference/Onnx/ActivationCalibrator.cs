using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Preprocess;
using Ephemera.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Ephemera.Inference.Onnx;

/// <summary>
/// Measures the activation ranges <see cref="QdqQuantizer"/> needs: runs the fp32 graph, with the
/// tensors to quantise exposed as outputs, over preprocessed frames and keeps per tensor the min/max
/// or the percentile range. The frames' tensors are pixel buffers: held in one
/// <see cref="TensorMemory"/> (ledger-counted, wiped on dispose), and every exposed activation is
/// zeroed once read. A developer tool (<c>ephemera models calibrate</c>); its table is committed so the
/// quantised graph never depends on this machine's float rounding.
/// </summary>
public sealed class ActivationCalibrator : IDisposable
{
    private const int HistogramBins = 4096;
    private readonly byte[] _exposed;
    private readonly string[] _tensors;
    private readonly InputContract _contract;
    private readonly FramePreprocessor _pre;
    private readonly TensorMemory _memory;
    private readonly int _slot, _capacity, _width, _height;

    public int Frames { get; private set; }
    public IReadOnlyList<string> Tensors => _tensors;

    public ActivationCalibrator(byte[] fp32Model, QdqOptions options, InputContract contract, int width, int height, int maxFrames, string what)
    {
        if (maxFrames < 1) throw new EphemeraException($"{what}: calibration needs at least one frame");
        _tensors = QdqQuantizer.CalibrationTensors(fp32Model, options, what);
        _exposed = QdqQuantizer.ExposeTensors(fp32Model, _tensors, what);
        _contract = contract; _width = width; _height = height; _capacity = maxFrames;
        _pre = new FramePreprocessor(contract, width, height);
        _slot = 3 * width * height;
        _memory = new TensorMemory((nuint)((long)_slot * maxFrames * sizeof(float)));
    }

    /// <summary>Preprocesses one frame (as the detector would) into the next slot; false when full.</summary>
    public bool Add(in FrameView frame)
    {
        if (Frames == _capacity) return false;
        _pre.Run(frame, _memory.Floats((long)Frames * _slot, _slot));
        Frames++;
        return true;
    }

    /// <summary>
    /// The ranges over every added frame: <paramref name="percentile"/> 100 = min/max; below 100 the
    /// range clips the (100 − p)% lowest and highest values (a second pass with a histogram per tensor).
    /// </summary>
    public CalibrationTable Compute(double percentile, int threads = 0)
    {
        if (Frames == 0) throw new EphemeraException("calibration: no frames added");
        if (!(percentile > 50 && percentile <= 100)) throw new EphemeraException($"calibration: percentile must be in (50, 100], got {percentile}");
        using var so = new SessionOptions { IntraOpNumThreads = threads > 0 ? threads : Environment.ProcessorCount, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC };
        using var session = new InferenceSession(_exposed, so);
        var min = new float[_tensors.Length];
        var max = new float[_tensors.Length];
        Array.Fill(min, float.PositiveInfinity); Array.Fill(max, float.NegativeInfinity);
        ForEachActivation(session, (k, values) =>
        {
            foreach (float v in values) { if (v < min[k]) min[k] = v; if (v > max[k]) max[k] = v; }
        });
        var table = new CalibrationTable();
        if (percentile >= 100)
        {
            for (int k = 0; k < _tensors.Length; k++) table.Ranges[_tensors[k]] = new ActivationRange(min[k], max[k]);
            return table;
        }
        var hist = new long[_tensors.Length][];
        for (int k = 0; k < hist.Length; k++) hist[k] = new long[HistogramBins];
        ForEachActivation(session, (k, values) =>
        {
            float lo = min[k], width = (max[k] - min[k]) / HistogramBins;
            var h = hist[k];
            foreach (float v in values) h[width > 0 ? Math.Clamp((int)((v - lo) / width), 0, HistogramBins - 1) : 0]++;
        });
        for (int k = 0; k < _tensors.Length; k++)
        {
            long total = hist[k].Sum();
            double tail = total * (100 - percentile) / 100;
            float width = (max[k] - min[k]) / HistogramBins;
            int lo = 0, hi = HistogramBins - 1;
            for (long acc = 0; lo < HistogramBins - 1 && acc + hist[k][lo] <= tail; lo++) acc += hist[k][lo];
            for (long acc = 0; hi > 0 && acc + hist[k][hi] <= tail; hi--) acc += hist[k][hi];
            table.Ranges[_tensors[k]] = new ActivationRange(min[k] + lo * width, hi >= HistogramBins - 1 ? max[k] : min[k] + (hi + 1) * width);
        }
        return table;
    }

    private unsafe void ForEachActivation(InferenceSession session, Action<int, ReadOnlySpan<float>> onTensor)
    {
        using var run = new RunOptions();
        for (int f = 0; f < Frames; f++)
        {
            using var input = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [1, 3, _height, _width],
                (IntPtr)(_memory.Pointer + (long)f * _slot * sizeof(float)), (long)_slot * sizeof(float));
            using var outputs = session.Run(run, [_contract.Tensor], [input], _tensors);
            for (int k = 0; k < _tensors.Length; k++)
            {
                var span = outputs[k].GetTensorMutableDataAsSpan<float>();
                onTensor(k, span);
                span.Clear(); // activations of the first layers still show the picture
            }
        }
    }

    /// <summary>
    /// Adds every <paramref name="every"/>-th frame of each clip (decoded by the engine's own decoder),
    /// starting at frame every/2 (mid-interval: for every = 10, frames 5, 15, 25 …), at most
    /// <paramref name="perClip"/> per clip; returns how many were added.
    /// </summary>
    public int AddClips(IEnumerable<string> clips, int every, int perClip)
    {
        int added = 0;
        foreach (var clip in clips)
        {
            using var source = Decode.VideoSource.Open(clip, Decode.SourceOptions.Default with { DecoderThreads = 1 });
            int taken = 0;
            for (long index = 0; taken < perClip && Frames < _capacity; )
            {
                var status = source.Read(out var lease);
                if (status == Decode.ReadStatus.EndOfStream) break;
                if (status != Decode.ReadStatus.Frame) continue;
                using (lease!)
                {
                    if (index++ % every != every / 2) continue;
                    Add(lease!.View);
                }
                taken++; added++;
            }
        }
        return added;
    }

    public void Dispose()
    {
        _pre.WipeScratch();
        _memory.Dispose();
    }
}
