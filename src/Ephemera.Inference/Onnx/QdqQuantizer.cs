using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Ephemera.Core;

namespace Ephemera.Inference.Onnx;

/// <summary>What the quantiser leaves in fp32 and how far it quantises (part of the derivation: it changes the bytes).</summary>
public sealed record QdqOptions
{
    /// <summary>Keep the Conv(s) nearest the image (no Conv before them) in fp32.</summary>
    public bool KeepFirstFloat { get; init; }
    /// <summary>Keep the prediction Convs (no Conv after them) in fp32: they make the scores and boxes.</summary>
    public bool KeepLastFloat { get; init; } = true;
    /// <summary>
    /// Also quantise SiLU (Sigmoid, Mul) and residual Adds between quantised tensors, so ONNX Runtime
    /// fuses them into QLinearSigmoid/QLinearMul/QLinearAdd and activations stay uint8 from Conv to
    /// Conv; false quantises only around Convs (a dequantise/quantise per Conv).
    /// </summary>
    public bool QuantiseActivations { get; init; } = true;

    /// <summary>Keep depthwise Convs (group = channels) in fp32: their per-tensor output ranges vary most between channels, and they cost little.</summary>
    public bool KeepDepthwiseFloat { get; init; }

    /// <summary>
    /// The options as written in the models manifest (<c>int8.keep_float</c>): none, or any of first,
    /// last, depthwise, silu joined by '+' (silu: SiLU and residual Adds stay fp32, only Convs are quantised).
    /// </summary>
    public static QdqOptions Parse(string? keepFloat, string what)
    {
        var parts = (keepFloat ?? "last").Split('+', StringSplitOptions.TrimEntries);
        if (parts is ["none"]) return new QdqOptions { KeepLastFloat = false };
        var bad = parts.Where(p => p is not ("first" or "last" or "depthwise" or "silu")).ToArray();
        if (bad.Length > 0 || parts.Distinct().Count() != parts.Length)
            throw new EphemeraException($"{what}: keep_float '{keepFloat}' is not none or first, last, depthwise, silu joined by '+'");
        return new QdqOptions
        {
            KeepFirstFloat = parts.Contains("first"), KeepLastFloat = parts.Contains("last"),
            KeepDepthwiseFloat = parts.Contains("depthwise"), QuantiseActivations = !parts.Contains("silu"),
        };
    }
}

/// <summary>
/// The range one activation tensor took over the calibration frames (after min/max or percentile
/// clipping). Written to and read from a calibration table, so the quantised graph follows from the
/// fp32 graph and that table alone: no float run in the derivation, hence the same bytes on every CPU.
/// </summary>
public readonly record struct ActivationRange(float Min, float Max);

/// <summary>Activation ranges by tensor name; text form <c>name&lt;TAB&gt;min&lt;TAB&gt;max</c>, round-trip floats, ordinal order.</summary>
public sealed class CalibrationTable
{
    public SortedDictionary<string, ActivationRange> Ranges { get; } = new(StringComparer.Ordinal);

    public string Format(string header)
    {
        var sb = new StringBuilder();
        foreach (var line in header.Split('\n')) sb.Append("# ").Append(line.TrimEnd()).Append('\n');
        foreach (var (name, r) in Ranges)
            sb.Append(name).Append('\t').Append(r.Min.ToString("R", CultureInfo.InvariantCulture))
              .Append('\t').Append(r.Max.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }

    public static CalibrationTable Parse(string text, string what)
    {
        var t = new CalibrationTable();
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            var parts = line.Split('\t');
            if (parts.Length != 3
                || !float.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float min)
                || !float.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out float max)
                || !float.IsFinite(min) || !float.IsFinite(max) || min > max)
                throw new EphemeraException($"{what}: line {lineNo} is not 'tensor<TAB>min<TAB>max' with finite min <= max: '{line}'");
            if (!t.Ranges.TryAdd(parts[0], new ActivationRange(min, max)))
                throw new EphemeraException($"{what}: line {lineNo}: tensor '{parts[0]}' is listed twice");
        }
        if (t.Ranges.Count == 0) throw new EphemeraException($"{what}: no activation ranges");
        return t;
    }
}

/// <summary>
/// The engine's own QDQ int8 quantiser for convolutional detectors (YOLOX): per-output-channel
/// symmetric int8 Conv weights (DequantizeLinear axis 0) with int32 biases at scale
/// x_scale·w_scale, and uint8 asymmetric activations (QuantizeLinear→DequantizeLinear pairs) with
/// ranges from a <see cref="CalibrationTable"/>. U8S8 is the pairing ONNX Runtime's x86 kernels
/// (AVX2, AVX-512 VNNI, AVX-VNNI) run natively; ORT fuses each DQ→Conv→Q into QLinearConv.
/// Pure arithmetic on the graph's bytes: deterministic, so the result's sha256 can be pinned in the
/// models manifest. Per-axis DequantizeLinear needs opset 13; an opset-11 graph is lifted to 13
/// only when every op it uses means the same in both (checked, else refused).
/// </summary>
public static class QdqQuantizer
{
    private const int ModelOpset = 8, ModelGraph = 7;
    private const int GraphNode = 1, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12, GraphValueInfo = 13;
    private const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeDomain = 7;
    private const int TensorDims = 1, TensorDataType = 2, TensorFloatData = 4, TensorName = 8, TensorRawData = 9;
    private const int OnnxFloat = 1, OnnxUint8 = 2, OnnxInt8 = 3, OnnxInt32 = 6;

    /// <summary>Ops whose opset-11 and opset-13 definitions agree for the inputs they take (so lifting the opset is safe).</summary>
    private static readonly HashSet<string> SameIn11And13 =
        ["Conv", "Sigmoid", "Mul", "Add", "Concat", "Slice", "MaxPool", "Reshape", "Resize", "Transpose", "Relu", "Identity", "Sub", "Div"];

    /// <summary>The activation tensors the quantiser needs ranges for (calibrate these).</summary>
    public static string[] CalibrationTensors(byte[] model, QdqOptions options, string what)
    {
        var g = Graph.Read(model, what);
        return g.QuantisedTensors(options).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>A copy of the graph that also outputs the named intermediate tensors (float), for calibration runs.</summary>
    public static byte[] ExposeTensors(byte[] model, IEnumerable<string> tensors, string what)
    {
        var root = Parse(model, what);
        var graph = root.First(ModelGraph)?.Open() ?? throw new EphemeraException($"{what}: not an ONNX model (no graph)");
        var existing = graph.All(GraphOutput).Select(f => f.Open().String(1)).ToHashSet();
        foreach (var t in tensors)
        {
            if (existing.Contains(t)) continue;
            var type = new ProtoMessage().Add(1, new ProtoMessage().Add(1, (long)OnnxFloat));
            graph.Fields.Add(new ProtoField(GraphOutput, ProtoMessage.WireLengthDelimited) { Bytes = new ProtoMessage().Add(1, t).Add(2, type).ToArray() });
        }
        return root.ToArray();
    }

    /// <summary>Returns the QDQ int8 graph of <paramref name="model"/> (fp32), with activation ranges from <paramref name="table"/>.</summary>
    public static byte[] Quantize(byte[] model, CalibrationTable table, QdqOptions options, string what)
    {
        var root = Parse(model, what);
        LiftOpset(root, what);
        var g = Graph.Read(root, what);
        var quantised = g.QuantisedTensors(options);
        var convs = g.QuantisedConvs(options);
        var newNodes = new List<ProtoMessage>();
        var newInits = new List<ProtoMessage>();
        var dqName = new Dictionary<string, string>(StringComparer.Ordinal);
        var scaleOf = new Dictionary<string, float>(StringComparer.Ordinal);

        // Activation Q/DQ pairs: emitted right after the producer (or first, for graph inputs), and every
        // consumer reads the dequantised copy. Parameters from the table, uint8 asymmetric.
        List<ProtoMessage> QdqPair(string tensor)
        {
            if (!table.Ranges.TryGetValue(tensor, out var r))
                throw new EphemeraException($"{what}: the calibration table has no range for tensor '{tensor}' (calibrated for another graph or other options?)");
            var (scale, zp) = Uint8Params(r);
            scaleOf[tensor] = scale;
            string s = tensor + "_scale", z = tensor + "_zero_point", q = tensor + "_quantized", dq = tensor + "_dequantized";
            newInits.Add(FloatTensor(s, [], [scale]));
            newInits.Add(ByteTensor(z, [], OnnxUint8, [zp]));
            dqName[tensor] = dq;
            return [NodeMsg("QuantizeLinear", [tensor, s, z], q, q), NodeMsg("DequantizeLinear", [q, s, z], dq, dq)];
        }

        var pending = new List<ProtoMessage>();
        foreach (var input in g.Inputs.Where(quantised.Contains)) pending.AddRange(QdqPair(input));
        var weightNodes = new List<ProtoMessage>();
        var replacedInits = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in g.Nodes)
        {
            // Rename inputs to their dequantised copies (Q/DQ for a tensor are emitted right after its producer).
            var inputs = node.All(NodeInput).ToList();
            foreach (var f in inputs)
            {
                string name = Encoding.UTF8.GetString(f.Bytes.Span);
                if (dqName.TryGetValue(name, out var dq)) f.Bytes = Encoding.UTF8.GetBytes(dq);
            }
            if (convs.Contains(node))
            {
                string x = Encoding.UTF8.GetString(inputs[0].Bytes.Span);
                string original = g.OriginalName(x, dqName);
                if (!scaleOf.TryGetValue(original, out float xScale))
                    throw new EphemeraException($"{what}: Conv input '{original}' is not quantised");
                QuantiseConvWeights(g, node, inputs, xScale, weightNodes, newInits, replacedInits, what);
            }
            pending.Add(node);
            foreach (var o in node.All(NodeOutput).Select(f => Encoding.UTF8.GetString(f.Bytes.Span)))
                if (quantised.Contains(o)) pending.AddRange(QdqPair(o));
        }
        newNodes.AddRange(weightNodes);
        newNodes.AddRange(pending);

        // Float initializers replaced by int8 ones go, unless something else still reads them.
        var stillRead = g.Nodes.SelectMany(n => n.All(NodeInput)).Select(f => Encoding.UTF8.GetString(f.Bytes.Span))
            .Concat(weightNodes.SelectMany(n => n.All(NodeInput)).Select(f => Encoding.UTF8.GetString(f.Bytes.Span))).ToHashSet();
        replacedInits.RemoveWhere(stillRead.Contains);

        var graph = g.Message;
        graph.Fields.RemoveAll(f => f.Number == GraphNode || f.Number == GraphValueInfo
            || (f.Number is GraphInitializer && replacedInits.Contains(f.Open().String(TensorName)!))
            || (f.Number is GraphInput && replacedInits.Contains(f.Open().String(1)!)));
        int at = 0;
        foreach (var n in newNodes) graph.Fields.Insert(at++, Field(GraphNode, n));
        foreach (var t in newInits) graph.Fields.Add(Field(GraphInitializer, t));
        return root.ToArray();
    }

    /// <summary>The uint8 scale and zero point that cover [min, max] (always including 0, so zero padding is exact).</summary>
    internal static (float Scale, byte ZeroPoint) Uint8Params(ActivationRange r)
    {
        float min = MathF.Min(r.Min, 0f), max = MathF.Max(r.Max, 0f);
        float scale = (max - min) / 255f;
        if (!(scale > 0f)) return (1f, 0);
        float zp = MathF.Round(-min / scale);
        return (scale, (byte)Math.Clamp(zp, 0f, 255f));
    }

    private static void QuantiseConvWeights(Graph g, ProtoMessage node, List<ProtoField> inputs, float xScale,
        List<ProtoMessage> weightNodes, List<ProtoMessage> newInits, HashSet<string> replaced, string what)
    {
        string wName = Encoding.UTF8.GetString(inputs[1].Bytes.Span);
        if (!g.Initializers.TryGetValue(wName, out var wTensor)) throw new EphemeraException($"{what}: Conv weight '{wName}' is not an initializer");
        long[] dims = wTensor.All(TensorDims).Select(f => (long)f.Varint).ToArray();
        float[] w = ReadFloats(wTensor, what);
        int channels = (int)dims[0], per = w.Length / channels;
        var wScale = new float[channels];
        var q = new byte[w.Length];
        for (int c = 0; c < channels; c++)
        {
            float amax = 0;
            for (int i = 0; i < per; i++) amax = MathF.Max(amax, MathF.Abs(w[c * per + i]));
            float s = amax > 0 ? amax / 127f : 1f;
            wScale[c] = s;
            for (int i = 0; i < per; i++) q[c * per + i] = (byte)(sbyte)Math.Clamp(MathF.Round(w[c * per + i] / s), -127f, 127f);
        }
        string wq = wName + "_quantized", ws = wName + "_scale", wz = wName + "_zero_point", wdq = wName + "_dequantized";
        newInits.Add(ByteTensor(wq, dims, OnnxInt8, q));
        newInits.Add(FloatTensor(ws, [channels], wScale));
        newInits.Add(ByteTensor(wz, [channels], OnnxInt8, new byte[channels]));
        weightNodes.Add(NodeMsg("DequantizeLinear", [wq, ws, wz], wdq, wdq, axis: 0));
        inputs[1].Bytes = Encoding.UTF8.GetBytes(wdq);
        replaced.Add(wName);

        if (inputs.Count < 3) return;
        string bName = Encoding.UTF8.GetString(inputs[2].Bytes.Span);
        if (!g.Initializers.TryGetValue(bName, out var bTensor)) throw new EphemeraException($"{what}: Conv bias '{bName}' is not an initializer");
        float[] b = ReadFloats(bTensor, what);
        var bScale = new float[channels];
        var bq = new int[channels];
        for (int c = 0; c < channels; c++)
        {
            bScale[c] = xScale * wScale[c];
            bq[c] = (int)Math.Clamp(MathF.Round(b[c] / bScale[c]), int.MinValue, int.MaxValue);
        }
        string bqn = bName + "_quantized", bs = bName + "_scale", bz = bName + "_zero_point", bdq = bName + "_dequantized";
        newInits.Add(ByteTensor(bqn, [channels], OnnxInt32, MemoryMarshal.AsBytes(bq.AsSpan()).ToArray()));
        newInits.Add(FloatTensor(bs, [channels], bScale));
        newInits.Add(ByteTensor(bz, [channels], OnnxInt32, new byte[channels * 4]));
        weightNodes.Add(NodeMsg("DequantizeLinear", [bqn, bs, bz], bdq, bdq, axis: 0));
        inputs[2].Bytes = Encoding.UTF8.GetBytes(bdq);
        replaced.Add(bName);
    }

    private static void LiftOpset(ProtoMessage root, string what)
    {
        var graph = root.First(ModelGraph)?.Open() ?? throw new EphemeraException($"{what}: not an ONNX model (no graph)");
        var opset = root.All(ModelOpset).Select(f => f.Open()).FirstOrDefault(o => (o.String(1) ?? "") == "")
            ?? throw new EphemeraException($"{what}: no default-domain opset import");
        long version = opset.Int64(2) ?? 0;
        if (version >= 13) return;
        if (version < 11) throw new EphemeraException($"{what}: opset {version} is too old to quantise (needs 11 or later)");
        var ops = graph.All(GraphNode).Select(f => f.Open()).Where(n => (n.String(NodeDomain) ?? "") == "").Select(n => n.String(NodeOpType)!).ToHashSet();
        var changed = ops.Where(o => !SameIn11And13.Contains(o)).Order(StringComparer.Ordinal).ToArray();
        if (changed.Length > 0)
            throw new EphemeraException($"{what}: opset {version} graph uses {string.Join(", ", changed)}, whose definitions change by opset 13 (needed for per-channel weights); re-export it at opset 13");
        opset.Fields.RemoveAll(f => f.Number == 2);
        opset.Add(2, 13L);
    }

    private static ProtoMessage Parse(byte[] model, string what)
    {
        try { return ProtoMessage.Parse(model); }
        catch (FormatException e) { throw new EphemeraException($"{what}: corrupt ONNX file ({e.Message})", e); }
    }

    private static ProtoField Field(int number, ProtoMessage m) => new(number, ProtoMessage.WireLengthDelimited) { Bytes = m.ToArray() };

    private static ProtoMessage NodeMsg(string op, string[] inputs, string output, string name, int? axis = null)
    {
        var n = new ProtoMessage();
        foreach (var i in inputs) n.Add(NodeInput, i);
        n.Add(NodeOutput, output).Add(NodeName, name).Add(NodeOpType, op);
        if (axis is { } a) n.Add(5, new ProtoMessage().Add(1, "axis").Add(3, (long)a).Add(20, 2L));
        return n;
    }

    private static ProtoMessage FloatTensor(string name, long[] dims, float[] values) =>
        ByteTensor(name, dims, OnnxFloat, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static ProtoMessage ByteTensor(string name, long[] dims, int type, byte[] raw)
    {
        var t = new ProtoMessage();
        foreach (var d in dims) t.Add(TensorDims, d);
        return t.Add(TensorDataType, type).Add(TensorName, name).Add(TensorRawData, raw);
    }

    private static float[] ReadFloats(ProtoMessage tensor, string what)
    {
        string name = tensor.String(TensorName) ?? "?";
        if (tensor.Int64(TensorDataType) != OnnxFloat) throw new EphemeraException($"{what}: initializer '{name}' is not float32");
        if (tensor.First(TensorRawData) is { } raw)
        {
            var span = raw.Bytes.Span;
            var v = new float[span.Length / 4];
            for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(span[(i * 4)..]);
            return v;
        }
        var list = new List<float>();
        foreach (var f in tensor.All(TensorFloatData))
        {
            if (f.Wire == ProtoMessage.WireFixed32) { list.Add(BitConverter.UInt32BitsToSingle((uint)f.Varint)); continue; }
            var span = f.Bytes.Span;
            for (int i = 0; i + 4 <= span.Length; i += 4) list.Add(BinaryPrimitives.ReadSingleLittleEndian(span[i..]));
        }
        return list.ToArray();
    }

    /// <summary>The graph's nodes (in file order, which ONNX requires to be topological), initializers and inputs.</summary>
    private sealed class Graph
    {
        public required ProtoMessage Message { get; init; }
        public required List<ProtoMessage> Nodes { get; init; }
        public required Dictionary<string, ProtoMessage> Initializers { get; init; }
        public required string[] Inputs { get; init; }

        public static Graph Read(byte[] model, string what) => Read(Parse(model, what), what);

        public static Graph Read(ProtoMessage root, string what)
        {
            var graph = root.First(ModelGraph)?.Open() ?? throw new EphemeraException($"{what}: not an ONNX model (no graph)");
            var inits = new Dictionary<string, ProtoMessage>(StringComparer.Ordinal);
            foreach (var f in graph.All(GraphInitializer)) { var t = f.Open(); inits[t.String(TensorName) ?? ""] = t; }
            var nodes = graph.All(GraphNode).Select(f => f.Open()).ToList();
            if (nodes.Any(n => n.String(NodeOpType) is "QuantizeLinear" or "DequantizeLinear" or "QLinearConv"))
                throw new EphemeraException($"{what}: the graph is already quantised");
            var inputs = graph.All(GraphInput).Select(f => f.Open().String(1)!).Where(n => !inits.ContainsKey(n)).ToArray();
            return new Graph { Message = graph, Nodes = nodes, Initializers = inits, Inputs = inputs };
        }

        private static string Out(ProtoMessage n) => n.String(NodeOutput) ?? "";
        private static List<string> In(ProtoMessage n) => n.All(NodeInput).Select(f => Encoding.UTF8.GetString(f.Bytes.Span)).ToList();
        private bool IsDepthwise(ProtoMessage n)
        {
            long group = n.All(5).Select(a => a.Open()).FirstOrDefault(a => a.String(1) == "group")?.Int64(3) ?? 1;
            return group > 1 && Initializers.TryGetValue(In(n)[1], out var w) && w.All(TensorDims).Skip(1).FirstOrDefault() is { } cin && cin.Varint == 1;
        }
        private static bool IsConv(ProtoMessage n) => n.String(NodeOpType) == "Conv" && (n.String(NodeDomain) ?? "") == "";

        public string OriginalName(string maybeDq, Dictionary<string, string> dqName) =>
            dqName.FirstOrDefault(kv => kv.Value == maybeDq).Key ?? maybeDq;

        /// <summary>Convs whose weights become int8: all with initializer weights, less the first/last ones the options keep.</summary>
        public HashSet<ProtoMessage> QuantisedConvs(QdqOptions options)
        {
            var producer = new Dictionary<string, ProtoMessage>(StringComparer.Ordinal);
            foreach (var n in Nodes) foreach (var o in n.All(NodeOutput)) producer[Encoding.UTF8.GetString(o.Bytes.Span)] = n;
            var convAbove = new HashSet<ProtoMessage>();   // a Conv somewhere upstream
            foreach (var n in Nodes)
                if (In(n).Any(i => producer.TryGetValue(i, out var p) && (IsConv(p) || convAbove.Contains(p)))) convAbove.Add(n);
            var convBelow = new HashSet<ProtoMessage>();   // a Conv somewhere downstream
            for (int k = Nodes.Count - 1; k >= 0; k--)
            {
                var n = Nodes[k];
                if (!IsConv(n) && !convBelow.Contains(n)) continue;
                foreach (var i in In(n)) if (producer.TryGetValue(i, out var p)) convBelow.Add(p);
            }
            return Nodes.Where(n => IsConv(n) && In(n) is { Count: >= 2 } ins && Initializers.ContainsKey(ins[1])
                                    && !(options.KeepFirstFloat && !convAbove.Contains(n))
                                    && !(options.KeepDepthwiseFloat && IsDepthwise(n))
                                    && !(options.KeepLastFloat && !convBelow.Contains(n))).ToHashSet();
        }

        /// <summary>The activation tensors that get Q/DQ pairs: each quantised Conv's input and output, plus (optionally) SiLU and Add results between them.</summary>
        public HashSet<string> QuantisedTensors(QdqOptions options)
        {
            var convs = QuantisedConvs(options);
            var t = new HashSet<string>(StringComparer.Ordinal);
            foreach (var n in convs) { t.Add(In(n)[0]); t.Add(Out(n)); }
            if (!options.QuantiseActivations) return t;
            foreach (var n in Nodes)
            {
                var ins = In(n);
                bool all = ins.Count > 0 && ins.All(t.Contains);
                switch (n.String(NodeOpType))
                {
                    case "Sigmoid" when all: t.Add(Out(n)); break;
                    case "Mul" or "Add" when all && ins.Count == 2: t.Add(Out(n)); break;
                }
            }
            return t;
        }
    }
}
