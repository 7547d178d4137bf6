using Ephemera.Core;
using Microsoft.ML.OnnxRuntime;

namespace Ephemera.Inference.Runtime;

/// <summary>
/// How a model session runs: execution provider and thread counts. Immutable and validated on
/// construction (STYLE.md 1: options apart from work). Providers: cpu (default), cuda, tensorrt,
/// directml, openvino.
/// </summary>
public sealed record InferenceOptions
{
    public static readonly string[] ProviderNames = ["cpu", "cuda", "tensorrt", "directml", "openvino"];

    /// <summary>Execution provider: cpu, cuda, tensorrt, directml or openvino.</summary>
    public string Provider { get; }
    /// <summary>Threads inside one operator of one run; 0 = auto (see <see cref="EffectiveIntraOpThreads"/>).</summary>
    public int IntraOpThreads { get; }
    /// <summary>
    /// How many runs of the session a batcher executes at once (each on its own thread); 0 = auto
    /// (see <see cref="EffectiveParallelRuns"/>).
    /// </summary>
    public int ParallelRuns { get; }
    /// <summary>Threads running independent operators in parallel; 1 = sequential execution (the usual best for CNNs).</summary>
    public int InterOpThreads { get; }
    /// <summary>GPU ordinal for cuda/tensorrt/directml.</summary>
    public int DeviceId { get; }
    /// <summary>
    /// Whether ORT's pool threads busy-wait between operators (ORT's own default). Off by default
    /// here: in the engine, decoders, trackers and other sessions share the cores, and spinning
    /// threads steal their time. Measured (bench paired-detector, 2 intra-op threads, shared 2-core
    /// machine): bare ORT Run median 66–73 ms spinning vs 33–36 ms sleeping.
    /// </summary>
    public bool AllowSpinning { get; }

    public InferenceOptions(string provider = "cpu", int intraOpThreads = 0, int interOpThreads = 1, int deviceId = 0, bool allowSpinning = false, int parallelRuns = 0)
    {
        if (parallelRuns < 0) throw new EphemeraException($"parallel runs must be >= 0, got {parallelRuns}");
        ParallelRuns = parallelRuns;
        provider = provider.ToLowerInvariant();
        if (!ProviderNames.Contains(provider))
            throw new EphemeraException($"unknown execution provider '{provider}'; known: {string.Join(", ", ProviderNames)}");
        if (intraOpThreads < 0) throw new EphemeraException($"intra-op threads must be >= 0, got {intraOpThreads}");
        if (interOpThreads < 0) throw new EphemeraException($"inter-op threads must be >= 0, got {interOpThreads}");
        Provider = provider; IntraOpThreads = intraOpThreads; InterOpThreads = interOpThreads; DeviceId = deviceId;
        AllowSpinning = allowSpinning;
    }

    /// <summary>
    /// Runs executed at once. CPU auto: one single-threaded run per core (or cores ÷ intra-op
    /// threads when those are set). A small CNN like YOLOX-Nano spends much of a multi-threaded run
    /// synchronising its threads per operator; independent runs do not. Measured on the 2-core dev VM
    /// (bare ORT loop, YOLOX-Nano 416², fp32, spinning off): 1 run × 2 threads 54 images/s,
    /// 1 run × 1 thread 40, 2 runs × 1 thread 84–87 (one shared session or two). GPUs: 1.
    /// </summary>
    public int EffectiveParallelRuns => ParallelRuns > 0 ? ParallelRuns
        : Provider != "cpu" ? 1
        : IntraOpThreads > 0 ? Math.Max(1, Environment.ProcessorCount / IntraOpThreads)
        : Environment.ProcessorCount;

    /// <summary>Intra-op threads per run: as set, or on CPU the cores shared out among the parallel runs (0 = ORT's default elsewhere).</summary>
    public int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads
        : Provider == "cpu" ? Math.Max(1, Environment.ProcessorCount / EffectiveParallelRuns)
        : 0;

    /// <summary>ONNX Runtime's name for the provider (as <c>GetAvailableProviders</c> lists it).</summary>
    public string OrtProviderName => Provider switch
    {
        "cuda" => "CUDAExecutionProvider",
        "tensorrt" => "TensorrtExecutionProvider",
        "directml" => "DmlExecutionProvider",
        "openvino" => "OpenVINOExecutionProvider",
        _ => "CPUExecutionProvider",
    };

    /// <summary>
    /// Default largest batch per provider, from bench/Ephemera.Bench DetectorBatchBenchmarks (CPU, 2
    /// intra-op threads, YOLOX-Nano 416, shared 2-core machine): per image 31.6 / 30.1 / 26.6 / 26.2 ms
    /// at batch 1 / 2 / 4 / 8 on the dynamic-batch graph, while a single frame on the static graph
    /// costs 24–30 ms (ORT plans static shapes better: the same loop on the dynamic graph is ~1.3×
    /// slower). So on CPU batching buys nothing over single frames on the static graph and adds
    /// latency: 1. On GPUs a batch amortises kernel launches: 8 (not measured here; no GPU).
    /// </summary>
    public int DefaultMaxBatch => Provider == "cpu" ? 1 : 8;

    internal SessionOptions CreateSessionOptions()
    {
        var available = OrtEnv.Instance().GetAvailableProviders();
        if (!available.Contains(OrtProviderName))
            throw new EphemeraException($"execution provider '{Provider}' ({OrtProviderName}) is not available in this build/machine; available: {string.Join(", ", available)}");
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = EffectiveIntraOpThreads,
            InterOpNumThreads = InterOpThreads,
            ExecutionMode = InterOpThreads > 1 ? ExecutionMode.ORT_PARALLEL : ExecutionMode.ORT_SEQUENTIAL,
        };
        if (!AllowSpinning)
        {
            so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
        }
        try
        {
            switch (Provider)
            {
                case "cuda": so.AppendExecutionProvider_CUDA(DeviceId); break;
                case "tensorrt": so.AppendExecutionProvider_Tensorrt(DeviceId); break;
                case "directml": so.AppendExecutionProvider_DML(DeviceId); break;
                case "openvino": so.AppendExecutionProvider_OpenVINO(); break;
            }
        }
        catch (OnnxRuntimeException e)
        {
            so.Dispose();
            throw new EphemeraException($"execution provider '{Provider}' failed to initialise: {e.Message}; available: {string.Join(", ", available)}", e);
        }
        return so;
    }
}
