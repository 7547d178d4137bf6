using System.Buffers.Binary;
using Ephemera.Core;

namespace Ephemera.Inference.Onnx;

/// <summary>Shape of one graph input or output as the ONNX file declares it (null dim = symbolic).</summary>
public sealed record OnnxTensorInfo(string Name, int ElementType, long?[] Dims)
{
    public override string ToString() => $"{Name}[{string.Join(',', Dims.Select(d => d?.ToString() ?? "?"))}]";
}

/// <summary>
/// The engine's own small ONNX editor (no protobuf package): reads the graph signature and derives a
/// dynamic-batch variant of a graph exported with batch 1. Field numbers follow onnx.proto3
/// (ModelProto.graph = 7; GraphProto node = 1, initializer = 5, input = 11, output = 12,
/// value_info = 13; NodeProto input = 1, output = 2, op_type = 4, attribute = 5; ValueInfoProto
/// type = 2; TypeProto.tensor_type = 1; Tensor elem_type = 1, shape = 2; TensorShapeProto dim = 1;
/// Dimension dim_value = 1, dim_param = 2; TensorProto dims = 1, data_type = 2, int64_data = 7,
/// name = 8, raw_data = 9; AttributeProto name = 1, t = 5).
/// </summary>
public static class OnnxModelEditor
{
    private const int ModelGraph = 7;
    private const int GraphNode = 1, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12, GraphValueInfo = 13;
    private const int NodeInput = 1, NodeOutput = 2, NodeOpType = 4, NodeAttribute = 5;
    private const int TensorDataType = 2, TensorInt64Data = 7, TensorName = 8, TensorRawData = 9;
    private const int OnnxInt64 = 7;

    /// <summary>Graph inputs (initializers excluded) and outputs of an ONNX file.</summary>
    public static (OnnxTensorInfo[] Inputs, OnnxTensorInfo[] Outputs) ReadSignature(byte[] model, string what)
    {
        var graph = OpenGraph(model, what);
        var initNames = graph.All(GraphInitializer).Select(f => f.Open().String(TensorName)).ToHashSet();
        var inputs = graph.All(GraphInput).Select(f => ReadValueInfo(f.Open())).Where(i => !initNames.Contains(i.Name)).ToArray();
        var outputs = graph.All(GraphOutput).Select(f => ReadValueInfo(f.Open())).ToArray();
        return (inputs, outputs);
    }

    /// <summary>
    /// Returns a copy of <paramref name="model"/> whose batch dimension is symbolic ("batch") on every
    /// graph input and output (and the input's height/width and the output's anchor count too), with the Reshape shape constants <c>[1, channels, -1]</c> rewritten to
    /// <c>[0, channels, -1]</c> (0 = copy the batch from the input) and the optional value_info hints
    /// (which pin batch 1) dropped. Throws <see cref="EphemeraException"/> when the graph does not
    /// have the expected structure.
    /// </summary>
    public static byte[] MakeBatchDynamic(byte[] model, int reshapeChannels, string what)
    {
        var root = Parse(model, what);
        var graphField = root.First(ModelGraph) ?? throw new EphemeraException($"{what}: not an ONNX model (no graph)");
        var graph = graphField.Open();
        var initNames = graph.All(GraphInitializer).Select(f => f.Open().String(TensorName)).ToHashSet();

        // Inputs [N,C,H,W] -> [batch,C,height,width]; outputs [N,A,K] -> [batch,anchors,K]. The YOLOX
        // graphs are fully convolutional, so the spatial size may change too (larger inputs, tiles).
        foreach (var (f, symbolic) in graph.All(GraphInput).Select(f => (f, new[] { "batch", null, "height", "width" }))
                     .Concat(graph.All(GraphOutput).Select(f => (f, new[] { "batch", "anchors", null, null }))))
        {
            var vi = f.Open();
            if (initNames.Contains(vi.String(1))) continue;
            var shape = vi.First(2)?.Open().First(1)?.Open().First(2)?.Open()
                ?? throw new EphemeraException($"{what}: graph tensor '{vi.String(1)}' has no shape");
            var dims = shape.All(1).ToList();
            if (dims.Count == 0) throw new EphemeraException($"{what}: graph tensor '{vi.String(1)}' is a scalar");
            for (int d = 0; d < dims.Count && d < symbolic.Length; d++)
            {
                if (symbolic[d] is not { } param) continue;
                var dim = dims[d].Open();
                dim.Fields.Clear();
                dim.SetString(2, param);
            }
        }
        graph.Fields.RemoveAll(f => f.Number == GraphValueInfo);

        // Shape constants live either in initializers or in Constant nodes' "value" attribute.
        var tensorsByName = new Dictionary<string, ProtoMessage>();
        foreach (var f in graph.All(GraphInitializer)) { var t = f.Open(); if (t.String(TensorName) is { } n) tensorsByName[n] = t; }
        foreach (var f in graph.All(GraphNode))
        {
            var node = f.Open();
            if (node.String(NodeOpType) != "Constant") continue;
            var value = node.All(NodeAttribute).Select(a => a.Open()).FirstOrDefault(a => a.String(1) == "value");
            if (value?.First(5) is { } t && node.String(NodeOutput) is { } outName) tensorsByName[outName] = t.Open();
        }

        int rewritten = 0;
        foreach (var f in graph.All(GraphNode))
        {
            var node = f.Open();
            if (node.String(NodeOpType) != "Reshape") continue;
            var shapeInput = node.All(NodeInput).Skip(1).FirstOrDefault();
            if (shapeInput == null) continue;
            string shapeName = System.Text.Encoding.UTF8.GetString(shapeInput.Bytes.Span);
            if (!tensorsByName.TryGetValue(shapeName, out var tensor)) continue;
            var values = ReadInt64s(tensor);
            if (values is [1, var c, -1] && c == reshapeChannels)
            {
                values[0] = 0;
                WriteInt64s(tensor, values);
                rewritten++;
            }
        }
        if (rewritten == 0)
            throw new EphemeraException($"{what}: no Reshape constant [1,{reshapeChannels},-1] found; cannot make the batch dynamic");
        return root.ToArray();
    }

    /// <summary>How many Reshape shape constants of the form [0, channels, -1] a graph holds (for tests).</summary>
    internal static int CountDynamicReshapes(byte[] model, int channels)
    {
        var graph = OpenGraph(model, "model");
        int n = 0;
        foreach (var f in graph.All(GraphInitializer).Concat(graph.All(GraphNode)
                     .Select(x => x.Open()).Where(node => node.String(NodeOpType) == "Constant")
                     .SelectMany(node => node.All(NodeAttribute).Select(a => a.Open()).Where(a => a.String(1) == "value").Select(a => a.First(5)!))))
        {
            if (ReadInt64s(f.Open()) is [0, var c, -1] && c == channels) n++;
        }
        return n;
    }

    private static ProtoMessage OpenGraph(byte[] model, string what) =>
        Parse(model, what).First(ModelGraph)?.Open() ?? throw new EphemeraException($"{what}: not an ONNX model (no graph)");

    private static ProtoMessage Parse(byte[] model, string what)
    {
        try { return ProtoMessage.Parse(model); }
        catch (FormatException e) { throw new EphemeraException($"{what}: corrupt ONNX file ({e.Message})", e); }
    }

    private static OnnxTensorInfo ReadValueInfo(ProtoMessage vi)
    {
        string name = vi.String(1) ?? "";
        var tensorType = vi.First(2)?.Open().First(1)?.Open();
        int elem = (int)(tensorType?.Int64(1) ?? 0);
        var dims = tensorType?.First(2)?.Open().All(1).Select(d =>
        {
            var dim = d.Open();
            return dim.First(1) is { } v ? (long?)(long)v.Varint : null;
        }).ToArray() ?? [];
        return new OnnxTensorInfo(name, elem, dims);
    }

    private static long[]? ReadInt64s(ProtoMessage tensor)
    {
        if (tensor.Int64(TensorDataType) != OnnxInt64) return null;
        if (tensor.First(TensorRawData) is { } raw)
        {
            var span = raw.Bytes.Span;
            var v = new long[span.Length / 8];
            for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadInt64LittleEndian(span[(i * 8)..]);
            return v;
        }
        var list = new List<long>();
        foreach (var f in tensor.All(TensorInt64Data))
        {
            if (f.Wire == ProtoMessage.WireVarint) { list.Add((long)f.Varint); continue; }
            int pos = 0; var span = f.Bytes.Span;
            while (pos < span.Length) list.Add((long)ProtoMessage.ReadVarint(span, ref pos));
        }
        return list.ToArray();
    }

    private static void WriteInt64s(ProtoMessage tensor, long[] values)
    {
        if (tensor.First(TensorRawData) is { } raw)
        {
            var bytes = new byte[values.Length * 8];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
            raw.Bytes = bytes;
            return;
        }
        tensor.Fields.RemoveAll(f => f.Number == TensorInt64Data);
        foreach (var v in values) tensor.Fields.Add(new ProtoField(TensorInt64Data, ProtoMessage.WireVarint) { Varint = (ulong)v });
    }
}
