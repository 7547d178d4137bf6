using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Onnx;
using Ephemera.Inference.Preprocess;
using Ephemera.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Ephemera.Inference;

/// <summary>One age/sex estimate: age in years (regression) and the probability that the face is male.</summary>
public readonly record struct AgeSexEstimate(float Age, float MaleProbability);

/// <summary>
/// The project's converted AgeGenderNet (<see cref="AgeGenderNetConverter"/>, catalogue entry
/// <c>age_gender_net</c>) in ONNX Runtime. The input tensor is pixel memory (<see cref="TensorMemory"/>):
/// filled from a 112×112 RGB crop, run, and wiped in the same call, so no face pixels outlive
/// <see cref="Estimate"/>. Inputs and outputs are bound once; a call allocates nothing. Not thread-safe (one per stage thread).
/// </summary>
public sealed unsafe class AgeGenderModel : IDisposable
{
    /// <summary>The catalogue name of the converted graph.</summary>
    public const string CatalogName = "age_gender_net";
    /// <summary>Crop side in pixels (the network's input).</summary>
    public const int Size = AgeGenderNetConverter.Size;

    private readonly InferenceSession _session;
    private readonly TensorMemory _input;
    private readonly OrtValue _inputValue, _ageValue, _genderValue;
    private readonly float[] _age = GC.AllocateArray<float>(1, pinned: true), _gender = GC.AllocateArray<float>(2, pinned: true);
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _run = new();
    // The crop is resampled straight from the held frame into the input tensor: RGB planes in 0–255, plain resize.
    // One resampler per region size (its tables are built per source size), so after warm-up a crop allocates nothing;
    // callers keep the number of sizes small (FaceAttributeStage snaps crop sides to multiples of 8).
    private static readonly InputContract CropContract = new(AgeGenderNetConverter.InputName, Size, Size, Rgb: true,
        Mean: [0, 0, 0], Std: [1, 1, 1], ResizeRule.Stretch, Pad: 0, DynamicSize: false);
    private readonly Dictionary<(int, int, PixelFormat), FramePreprocessor> _crops = new();

    /// <summary>How long the last crop existed (tensor filled → wiped), in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    public long LastCropLifetimeTicks { get; private set; }

    /// <summary>Path of the converted graph this model runs.</summary>
    public string ModelPath { get; }

    /// <summary>Fetches (sources sha256-checked, converted, graph sha256-checked) and opens the model.</summary>
    public static AgeGenderModel Open(InferenceOptions? options = null, string? modelsDirectory = null)
    {
        var entry = ModelCatalog.Load().GetConverted(CatalogName);
        return new AgeGenderModel(new ModelFetcher(modelsDir: modelsDirectory).FetchConverted(entry), options ?? new InferenceOptions());
    }

    public AgeGenderModel(string path, InferenceOptions options)
    {
        ModelPath = path;
        using var so = options.CreateSessionOptions();
        try { _session = new InferenceSession(path, so); }
        catch (OnnxRuntimeException e) { throw new EphemeraException($"model {CatalogName} ({path}): ONNX Runtime cannot load it: {e.Message}", e); }
        try
        {
            _input = new TensorMemory((nuint)(3 * Size * Size * sizeof(float)));
            var mem = OrtMemoryInfo.DefaultInstance;
            _inputValue = OrtValue.CreateTensorValueWithData(mem, TensorElementType.Float, [1, 3, Size, Size], (IntPtr)_input.Pointer, 3L * Size * Size * sizeof(float));
            fixed (float* a = _age) fixed (float* g = _gender) // pinned arrays: addresses stay valid
            {
                _ageValue = OrtValue.CreateTensorValueWithData(mem, TensorElementType.Float, [1, 1], (IntPtr)a, sizeof(float));
                _genderValue = OrtValue.CreateTensorValueWithData(mem, TensorElementType.Float, [1, 2], (IntPtr)g, 2 * sizeof(float));
            }
            _binding = _session.CreateIoBinding();
            _binding.BindInput(AgeGenderNetConverter.InputName, _inputValue);
            _binding.BindOutput(AgeGenderNetConverter.AgeOutput, _ageValue);
            _binding.BindOutput(AgeGenderNetConverter.GenderOutput, _genderValue);
        }
        catch { Dispose(); throw; }
    }

    /// <summary>
    /// Estimates age and sex from one crop: <paramref name="rgb"/> is 112×112 pixels, 3 bytes each
    /// (R, G, B), rows of <paramref name="stride"/> bytes. The input tensor is wiped before return.
    /// </summary>
    public AgeSexEstimate Estimate(ReadOnlySpan<byte> rgb, int stride = Size * 3)
    {
        if (stride < Size * 3 || rgb.Length < stride * (Size - 1) + Size * 3)
            throw new ArgumentException($"a {Size}x{Size} RGB crop needs {Size * 3}-byte rows; got {rgb.Length} bytes with stride {stride}");
        var t = _input.Floats(0, 3 * Size * Size);
        const int plane = Size * Size;
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            for (int y = 0; y < Size; y++)
            {
                var row = rgb.Slice(y * stride, Size * 3);
                int o = y * Size;
                for (int x = 0; x < Size; x++)
                {
                    t[o + x] = row[3 * x];
                    t[plane + o + x] = row[3 * x + 1];
                    t[2 * plane + o + x] = row[3 * x + 2];
                }
            }
            return Run();
        }
        finally
        {
            _input.Wipe(_input.Length);
            LastCropLifetimeTicks = System.Diagnostics.Stopwatch.GetTimestamp() - t0;
        }
    }

    /// <summary>
    /// Estimates age and sex from a face region of a held frame (any size; resized to 112×112 into
    /// the input tensor, which is the only crop there is, and wiped before return).
    /// </summary>
    public AgeSexEstimate Estimate(in FrameView face)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var key = (face.Width, face.Height, face.Format);
            if (!_crops.TryGetValue(key, out var crop)) _crops[key] = crop = new FramePreprocessor(CropContract, Size, Size);
            try
            {
                crop.Run(face, _input.Floats(0, 3 * Size * Size));
            }
            finally
            {
                crop.WipeScratch(); // its row scratch held face pixels
            }
            return Run();
        }
        finally
        {
            _input.Wipe(_input.Length);
            LastCropLifetimeTicks = System.Diagnostics.Stopwatch.GetTimestamp() - t0;
        }
    }

    private AgeSexEstimate Run()
    {
        try { _session.RunWithBinding(_run, _binding); }
        catch (OnnxRuntimeException e) { throw new EphemeraException($"model {CatalogName}: inference failed: {e.Message}", e); }
        return new AgeSexEstimate(_age[0], _gender[0]);
    }

    public void Dispose()
    {
        _binding?.Dispose();
        _ageValue?.Dispose(); _genderValue?.Dispose(); _inputValue?.Dispose();
        _run.Dispose();
        _input?.Dispose();
        _session?.Dispose();
    }
}
