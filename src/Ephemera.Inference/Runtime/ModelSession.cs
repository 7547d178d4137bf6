using Ephemera.Core;
using Ephemera.Inference.Models;
using Ephemera.Inference.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Ephemera.Inference.Runtime;

/// <summary>
/// One ONNX Runtime session for one model, shared by every camera and detector that uses the model
/// (<see cref="InferenceSession"/> runs are thread-safe). Opening checks the graph against the
/// manifest entry first, so a wrong or corrupt file is a clear error, not an ORT crash mid-run.
/// </summary>
public sealed class ModelSession : IDisposable
{
    public ModelEntry Entry { get; }
    public InferenceOptions Options { get; }
    public InferenceSession Session { get; }
    /// <summary>True when the session runs the derived dynamic-batch (and dynamic-size) graph.</summary>
    public bool DynamicBatch { get; }
    public string ModelPath { get; }
    /// <summary>Fp32 or Int8 (the derived QDQ graph); never Auto.</summary>
    public DetectorPrecision Precision { get; }

    private ModelSession(ModelEntry entry, InferenceOptions options, InferenceSession session, bool dynamicBatch, string path, DetectorPrecision precision)
    {
        Entry = entry; Options = options; Session = session; DynamicBatch = dynamicBatch; ModelPath = path; Precision = precision;
    }

    /// <summary>Fetches (mirror or download, sha256-checked) and opens the named model.</summary>
    /// <param name="dynamicBatch">run the derived dynamic-batch/dynamic-size graph (needed for batches
    /// above 1 or another input size); false runs the shipped static graph, which ONNX Runtime can
    /// plan ahead (static shapes) — the faster choice for single frames.</param>
    /// <param name="modelsDirectory">where fetched weights live (null = <see cref="RepoPaths.Models"/>).</param>
    public static ModelSession Open(string? modelName = null, InferenceOptions? options = null, bool dynamicBatch = true, string? modelsDirectory = null)
    {
        var catalog = ModelCatalog.Load();
        var files = new ModelFetcher(modelsDir: modelsDirectory).Fetch(catalog.Get(modelName ?? catalog.DefaultModel));
        return Open(files, options ?? new InferenceOptions(), dynamicBatch);
    }

    /// <param name="int8">run the derived int8 QDQ graph (dynamic batch and size; the manifest must have <c>int8:</c>).</param>
    public static ModelSession Open(ModelFiles files, InferenceOptions options, bool dynamicBatch = true, bool int8 = false)
    {
        if (int8)
        {
            string path8 = files.Int8Path ?? throw new EphemeraException($"model {files.Entry.Name}: no int8 graph (the models manifest has no int8 entry for it)");
            files = files with { BatchVariantPath = path8 };
        }
        else if (!dynamicBatch) files = files with { BatchVariantPath = null };
        var entry = files.Entry;
        string what = $"model {entry.Name} ({files.OriginalPath})";
        if (!File.Exists(files.OriginalPath)) throw new EphemeraException($"{what}: file not found");
        var (inputs, outputs) = OnnxModelEditor.ReadSignature(File.ReadAllBytes(files.OriginalPath), what);
        CheckContract(entry, inputs, outputs, what);

        string path = files.BatchVariantPath ?? files.OriginalPath;
        using var so = options.CreateSessionOptions();
        try
        {
            var session = new InferenceSession(path, so);
            return new ModelSession(entry, options, session, files.BatchVariantPath != null, path, int8 ? DetectorPrecision.Int8 : DetectorPrecision.Fp32);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EphemeraException($"{what}: ONNX Runtime cannot load it: {e.Message}", e);
        }
    }

    /// <summary>Checks the graph's declared tensors against the manifest; names expected vs actual.</summary>
    internal static void CheckContract(ModelEntry entry, OnnxTensorInfo[] inputs, OnnxTensorInfo[] outputs, string what)
    {
        var input = inputs.FirstOrDefault(i => i.Name == entry.Input.Tensor)
            ?? throw new EphemeraException($"{what}: the manifest names input '{entry.Input.Tensor}' but the graph's inputs are {string.Join(", ", inputs.Select(i => i.ToString()))}");
        if (input.Dims.Length != 4 || input.Dims[1] is not (3 or null))
            throw new EphemeraException($"{what}: input {input} should be NCHW with 3 channels");
        if (!entry.Input.DynamicSize && (input.Dims[2] != entry.Input.Height || input.Dims[3] != entry.Input.Width))
            throw new EphemeraException($"{what}: the manifest says input {entry.Input.Tensor} is {entry.Input.Height}x{entry.Input.Width} (HxW) but the graph declares {input}");
        foreach (var name in entry.Output.Tensors)
            if (outputs.All(o => o.Name != name))
                throw new EphemeraException($"{what}: the manifest names output '{name}' but the graph's outputs are {string.Join(", ", outputs.Select(o => o.ToString()))}");
        if (entry.Output.Decoder == DecoderKind.Yolox)
        {
            var o = outputs.First(x => x.Name == entry.Output.Tensors[0]);
            long expectedK = 5 + entry.Classes.Length;
            if (o.Dims.Length != 3 || o.Dims[2] != expectedK)
                throw new EphemeraException($"{what}: the manifest lists {entry.Classes.Length} classes, so output {o.Name} should be [N,anchors,{expectedK}], but the graph declares {o}");
            if (o.Dims[2] != entry.Output.BatchReshapeChannels)
                throw new EphemeraException($"{what}: output.batch_reshape_channels is {entry.Output.BatchReshapeChannels} but output {o} has {o.Dims[2]} channels");
        }
    }

    public void Dispose() => Session.Dispose();
}
