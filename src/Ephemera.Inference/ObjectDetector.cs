using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Preprocess;
using Ephemera.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Ephemera.Inference;

/// <summary>Detector settings: model, runtime, batch, input size and decode thresholds (validated once).</summary>
public sealed record DetectorOptions
{
    /// <summary>Catalogue name; null = the catalogue's default (yolox_nano_coco_416).</summary>
    public string? Model { get; init; }
    public InferenceOptions Inference { get; init; } = new();
    /// <summary>Largest batch; 0 = <see cref="InferenceOptions.DefaultMaxBatch"/> for the provider. Models without a batch variant use 1.</summary>
    public int MaxBatch { get; init; }
    /// <summary>Input size override (0 = the manifest's). Fully convolutional graphs only; multiple of 32.</summary>
    public int InputWidth { get; init; }
    public int InputHeight { get; init; }
    public DecodeOptions Decode { get; init; } = new();
    /// <summary>Preprocess kernels (engine option <c>kernels:</c>); null = SIMD.</summary>
    public IPreprocessKernels? Kernels { get; init; }
    /// <summary>Where fetched model weights live (null = <see cref="Core.RepoPaths.Models"/>).</summary>
    public string? ModelsDirectory { get; init; }
    /// <summary>
    /// fp32, int8 (the derived QDQ graph), or Auto: int8 only when the manifest has one, the provider
    /// is the CPU, and int8 measures at least <see cref="PrecisionProbe.Margin"/>× faster here at start.
    /// </summary>
    public DetectorPrecision Precision { get; init; } = DetectorPrecision.Fp32;
}

/// <summary>
/// One model's detector: the session (shared), the pinned batch tensor(s), preprocessing and decode.
/// <see cref="Detect"/> is the single-frame path (thread-safe, serialised). For many cameras put a
/// <see cref="CrossStreamBatcher"/> in front; while one is attached, <see cref="Detect"/> refuses.
/// </summary>
public sealed class ObjectDetector : IDisposable
{
    private readonly ModelSession _session;
    private readonly bool _ownsSession;
    private readonly object _detectLock = new();
    private readonly List<TensorBank> _banks = new();
    private readonly IFramePreprocessor _ownPreprocessor;
    private readonly TensorBank _ownBank;
    private readonly TensorPlacement[] _onePlacement = new TensorPlacement[1];
    private readonly Detections?[] _oneOutput = new Detections?[1];
    internal volatile bool BatcherAttached;

    public ModelEntry Model => _session.Entry;
    public DetectorOptions Options { get; }
    public int MaxBatch { get; }
    public int InputWidth { get; }
    public int InputHeight { get; }
    /// <summary>The precision this detector runs and why (with both timings when Auto measured).</summary>
    public PrecisionDecision Precision { get; private set; } = new(DetectorPrecision.Fp32, DetectorPrecision.Fp32, null, null, "fp32 asked for");
    internal int SlotFloats => 3 * InputWidth * InputHeight;
    internal ModelSession Session => _session;

    /// <summary>Fetches and opens the model named in <paramref name="options"/>; the detector owns the session.</summary>
    public static ObjectDetector Open(DetectorOptions? options = null)
    {
        options ??= new DetectorOptions();
        // The static graph when one image at the manifest's size is all that is asked for.
        int maxBatch = options.MaxBatch > 0 ? options.MaxBatch : options.Inference.DefaultMaxBatch;
        bool needsDynamic = maxBatch > 1 || options.InputWidth > 0 || options.InputHeight > 0;
        var catalog = ModelCatalog.Load();
        var entry = catalog.Get(options.Model ?? catalog.DefaultModel);
        var files = new ModelFetcher(modelsDir: options.ModelsDirectory).Fetch(entry);
        var (session, decision) = OpenWithPrecision(files, options, needsDynamic, maxBatch);
        try { return new ObjectDetector(session, options, ownsSession: true) { Precision = decision }; }
        catch { session.Dispose(); throw; }
    }

    private static (ModelSession, PrecisionDecision) OpenWithPrecision(ModelFiles files, DetectorOptions options, bool needsDynamic, int maxBatch)
    {
        var asked = options.Precision;
        if (asked == DetectorPrecision.Int8)
            return (ModelSession.Open(files, options.Inference, int8: true), new PrecisionDecision(asked, DetectorPrecision.Int8, null, null, "int8 asked for"));
        string? fp32Why = asked == DetectorPrecision.Fp32 ? "fp32 asked for"
            : files.Int8Path == null ? $"model {files.Entry.Name} has no int8 graph"
            : options.Inference.Provider != "cpu" ? $"provider {options.Inference.Provider}: int8 is measured on the CPU only"
            : null;
        var fp32 = ModelSession.Open(files, options.Inference, needsDynamic);
        if (fp32Why != null) return (fp32, new PrecisionDecision(asked, DetectorPrecision.Fp32, null, null, fp32Why));
        ModelSession? int8 = null;
        try
        {
            int8 = ModelSession.Open(files, options.Inference, int8: true);
            var e = files.Entry;
            int w = options.InputWidth > 0 ? options.InputWidth : e.Input.Width, h = options.InputHeight > 0 ? options.InputHeight : e.Input.Height;
            var (f, i) = PrecisionProbe.Measure(fp32, int8, fp32.DynamicBatch ? maxBatch : 1, w, h);
            bool takeInt8 = f >= i * PrecisionProbe.Margin;
            var decision = new PrecisionDecision(asked, takeInt8 ? DetectorPrecision.Int8 : DetectorPrecision.Fp32, f, i,
                takeInt8 ? $"int8 measured {f / i:0.00}x fp32 (>= {PrecisionProbe.Margin:0.00}x)" : $"int8 measured {f / i:0.00}x fp32 (< {PrecisionProbe.Margin:0.00}x): fp32 kept");
            var (keep, drop) = takeInt8 ? (int8, fp32) : (fp32, int8);
            drop.Dispose();
            return (keep, decision);
        }
        catch { fp32.Dispose(); int8?.Dispose(); throw; }
    }

    /// <summary>A detector over a shared session (not disposed with the detector).</summary>
    public ObjectDetector(ModelSession session, DetectorOptions? options = null) : this(session, options ?? new DetectorOptions(), ownsSession: false) { }

    private ObjectDetector(ModelSession session, DetectorOptions options, bool ownsSession)
    {
        _session = session; _ownsSession = ownsSession; Options = options;
        var e = session.Entry;
        bool resizable = e.Input.DynamicSize || session.DynamicBatch;
        InputWidth = options.InputWidth > 0 ? options.InputWidth : e.Input.Width;
        InputHeight = options.InputHeight > 0 ? options.InputHeight : e.Input.Height;
        if ((InputWidth != e.Input.Width || InputHeight != e.Input.Height) && !resizable)
            throw new EphemeraException($"model {e.Name} has a fixed input of {e.Input.Width}x{e.Input.Height}; it cannot run at {InputWidth}x{InputHeight}");
        if (e.Output.Decoder != DecoderKind.UltraFace && (InputWidth % 32 != 0 || InputHeight % 32 != 0))
            throw new EphemeraException($"model {e.Name}: input size {InputWidth}x{InputHeight} must be a multiple of 32");
        int requested = options.MaxBatch > 0 ? options.MaxBatch : options.Inference.DefaultMaxBatch;
        MaxBatch = session.DynamicBatch ? requested : 1;

        _ownPreprocessor = CreateKernelPreprocessor();
        _ownBank = CreateBank();
    }

    /// <summary>A preprocessor for this detector's input contract and size (one per thread).</summary>
    public FramePreprocessor CreatePreprocessor() => new(_session.Entry.Input, InputWidth, InputHeight);

    /// <summary>A preprocessor from the configured kernels (<see cref="DetectorOptions.Kernels"/>; SIMD when none), one per thread.</summary>
    public IFramePreprocessor CreateKernelPreprocessor() =>
        Options.Kernels?.Create(_session.Entry.Input, InputWidth, InputHeight) ?? CreatePreprocessor();

    /// <summary>
    /// Detects objects in one frame; <paramref name="output"/> is cleared and filled with boxes in
    /// source pixels. The frame's pixels are only read during the call (they may be released after).
    /// </summary>
    public void Detect(in FrameView frame, Detections output)
    {
        if (BatcherAttached) throw new InvalidOperationException("this detector is driven by a CrossStreamBatcher; submit frames to it");
        lock (_detectLock)
        {
            _onePlacement[0] = _ownPreprocessor.Run(frame, _ownBank.Slot(0));
            _oneOutput[0] = output;
            InferAndDecode(_ownBank, 1, _onePlacement, _oneOutput);
            _oneOutput[0] = null;
        }
    }

    /// <summary>The output decoder for this model and size; each bank owns one, so banks run on different threads at once.</summary>
    internal OutputDecoder CreateDecoder() => new(Model, InputWidth, InputHeight, Options.Decode);

    /// <summary>A bank of <see cref="MaxBatch"/> tensor slots in pinned native memory, with its run bindings and decoder.</summary>
    internal TensorBank CreateBank()
    {
        var bank = new TensorBank(this);
        lock (_banks) _banks.Add(bank);
        return bank;
    }

    /// <summary>
    /// Runs the first <paramref name="n"/> slots of <paramref name="bank"/>, decodes slot i into
    /// outputs[i] (skipped when null), and wipes the slots — also when the run fails.
    /// </summary>
    internal void InferAndDecode(TensorBank bank, int n, ReadOnlySpan<TensorPlacement> placements, Detections?[] outputs)
    {
        // Everything mutable here belongs to the bank (tensors, bindings, decoder scratch, run options),
        // so banks may run on several threads at once; the session's Run is thread-safe.
        var d = bank.Decoder;
        try
        {
            if (d.Yolox != null)
            {
                _session.Session.RunWithBinding(bank.RunOptions, bank.Binding(n));
                int per = bank.OutputFloatsPerImage;
                for (int i = 0; i < n; i++)
                    if (outputs[i] is { } o) d.Yolox.Decode(bank.Output.AsSpan(i * per, per), placements[i], o);
                return;
            }
            // Fixed-batch models with several outputs: plain Run (ORT allocates the outputs).
            using var results = _session.Session.Run(bank.RunOptions, [_session.Entry.Input.Tensor], [bank.InputValue(1)], OutputNames);
            var o0 = outputs[0];
            if (o0 == null) return;
            var p = placements[0];
            if (d.UltraFace != null) d.UltraFace.Decode(results[0].GetTensorDataAsSpan<float>(), results[1].GetTensorDataAsSpan<float>(), p, o0);
            else if (d.YuNet != null)
                d.YuNet.Decode(results[0].GetTensorDataAsSpan<float>(), results[1].GetTensorDataAsSpan<float>(), results[2].GetTensorDataAsSpan<float>(),
                    results[3].GetTensorDataAsSpan<float>(), results[4].GetTensorDataAsSpan<float>(), results[5].GetTensorDataAsSpan<float>(),
                    results[6].GetTensorDataAsSpan<float>(), results[7].GetTensorDataAsSpan<float>(), results[8].GetTensorDataAsSpan<float>(), p, o0,
                    results.Count > 11 ? results[9].GetTensorDataAsSpan<float>() : default, results.Count > 11 ? results[10].GetTensorDataAsSpan<float>() : default,
                    results.Count > 11 ? results[11].GetTensorDataAsSpan<float>() : default);
            else if (d.DbText != null)
            {
                var shape = results[0].GetTensorTypeAndShape().Shape;
                d.DbText.Decode(results[0].GetTensorDataAsSpan<float>(), (int)shape[^1], (int)shape[^2], p, o0);
            }
        }
        catch (OnnxRuntimeException e)
        {
            throw new EphemeraException($"model {Model.Name}: inference failed: {e.Message}", e);
        }
        finally
        {
            bank.Wipe(n);
        }
    }

    private string[]? _outputNames;
    private string[] OutputNames => _outputNames ??= _session.Entry.Output.Tensors.Length > 0
        ? _session.Entry.Output.Tensors.Take(Model.Output.Decoder == DecoderKind.YuNet ? 12 : _session.Entry.Output.Tensors.Length).ToArray() // YuNet: with landmarks (kps_*)
        : _session.Session.OutputNames.ToArray();

    public void Dispose()
    {
        lock (_banks) { foreach (var b in _banks) b.Dispose(); _banks.Clear(); }
        _ownPreprocessor.Dispose();
        if (_ownsSession) _session.Dispose();
    }
}

/// <summary>
/// MaxBatch input slots in one <see cref="TensorMemory"/> (a pixel buffer: wiped after each run),
/// the input/output OrtValues for every batch size 1..MaxBatch created once over that memory, and
/// (YOLOX) an IO binding per batch size so a run allocates nothing.
/// </summary>
internal sealed unsafe class TensorBank : IDisposable
{
    private readonly ObjectDetector _owner;
    private readonly TensorMemory _memory;
    private readonly OrtValue[] _inputs;
    private readonly OrtValue[] _outputs = [];
    private readonly OrtIoBinding[] _bindings = [];
    public float[] Output { get; } = [];
    public int OutputFloatsPerImage { get; }
    public int Capacity { get; }
    public OutputDecoder Decoder { get; }
    public RunOptions RunOptions { get; } = new();

    public TensorBank(ObjectDetector owner)
    {
        _owner = owner;
        Decoder = owner.CreateDecoder();
        Capacity = owner.MaxBatch;
        int slot = owner.SlotFloats;
        _memory = new TensorMemory((nuint)((long)slot * Capacity * sizeof(float)));
        _inputs = new OrtValue[Capacity];
        var mem = OrtMemoryInfo.DefaultInstance;
        for (int n = 1; n <= Capacity; n++)
            _inputs[n - 1] = OrtValue.CreateTensorValueWithData(mem, TensorElementType.Float, [n, 3, owner.InputHeight, owner.InputWidth],
                (IntPtr)_memory.Pointer, (long)n * slot * sizeof(float));
        if (owner.Model.Output.Decoder != DecoderKind.Yolox) return;

        int anchors = new[] { 8, 16, 32 }.Sum(s => (owner.InputWidth / s) * (owner.InputHeight / s));
        int k = 5 + owner.Model.Classes.Length;
        OutputFloatsPerImage = anchors * k;
        Output = GC.AllocateArray<float>(OutputFloatsPerImage * Capacity, pinned: true);
        _outputs = new OrtValue[Capacity];
        _bindings = new OrtIoBinding[Capacity];
        fixed (float* outPtr = Output) // pinned array: the address stays valid after the fixed block
        {
            for (int n = 1; n <= Capacity; n++)
            {
                _outputs[n - 1] = OrtValue.CreateTensorValueWithData(mem, TensorElementType.Float, [n, anchors, k], (IntPtr)outPtr, (long)n * OutputFloatsPerImage * sizeof(float));
                var b = owner.Session.Session.CreateIoBinding();
                b.BindInput(owner.Model.Input.Tensor, _inputs[n - 1]);
                b.BindOutput(owner.Model.Output.Tensors[0], _outputs[n - 1]);
                _bindings[n - 1] = b;
            }
        }
    }

    /// <summary>DANGEROUS: a view into the bank's native memory; valid while the detector lives.</summary>
    public Span<float> Slot(int i) => _memory.Floats((long)i * _owner.SlotFloats, _owner.SlotFloats);
    public OrtIoBinding Binding(int n) => _bindings[n - 1];
    public OrtValue InputValue(int n) => _inputs[n - 1];
    public void Wipe(int n) => _memory.Wipe((nuint)((long)n * _owner.SlotFloats * sizeof(float)));

    public void Dispose()
    {
        foreach (var b in _bindings) b.Dispose();
        foreach (var v in _outputs) v.Dispose();
        foreach (var v in _inputs) v.Dispose();
        RunOptions.Dispose();
        _memory.Dispose();
    }
}

/// <summary>The decoder for one model's output (exactly one member is set); holds per-run scratch, so one per bank.</summary>
internal sealed class OutputDecoder
{
    public readonly YoloxDecoder? Yolox;
    public readonly YuNetDecoder? YuNet;
    public readonly UltraFaceDecoder? UltraFace;
    public readonly DbTextDecoder? DbText;

    public OutputDecoder(ModelEntry model, int inputWidth, int inputHeight, DecodeOptions decode)
    {
        switch (model.Output.Decoder)
        {
            case DecoderKind.Yolox: Yolox = new YoloxDecoder(inputWidth, inputHeight, model.Classes.Length, decode); break;
            case DecoderKind.YuNet: YuNet = new YuNetDecoder(inputWidth, inputHeight, decode); break;
            case DecoderKind.UltraFace: UltraFace = new UltraFaceDecoder(inputWidth, inputHeight, decode); break;
            case DecoderKind.DbText: DbText = new DbTextDecoder(decode); break;
        }
    }
}
