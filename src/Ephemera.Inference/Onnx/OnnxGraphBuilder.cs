using System.Runtime.InteropServices;

namespace Ephemera.Inference.Onnx;

/// <summary>
/// Writes a small ONNX model (float tensors, default domain) with the engine's own protobuf code, so
/// converted graphs need no protobuf or ONNX package. Output is deterministic: the same calls give
/// the same bytes, which is what lets the models manifest pin a converted graph's sha256. Field
/// numbers follow onnx.proto3 (see <see cref="OnnxModelEditor"/>).
/// </summary>
internal sealed class OnnxGraphBuilder(string graphName)
{
    private const int OnnxFloat = 1, OnnxInt64 = 7;
    private const int AttrFloat = 1, AttrInt = 2, AttrInts = 7;
    private readonly List<ProtoMessage> _nodes = new(), _initializers = new(), _inputs = new(), _outputs = new();
    private int _counter;

    /// <summary>A fresh value name with a readable prefix.</summary>
    public string Name(string prefix) => $"{prefix}_{_counter++}";

    /// <summary>A float initializer (little-endian raw_data).</summary>
    public string Initializer(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var t = new ProtoMessage();
        foreach (var d in dims) t.Add(1, d);
        t.Add(2, OnnxFloat).Add(8, name).Add(9, MemoryMarshal.AsBytes(values).ToArray());
        _initializers.Add(t);
        return name;
    }

    /// <summary>An int64 initializer (shape constants).</summary>
    public string Int64Initializer(string name, long[] values)
    {
        var t = new ProtoMessage().Add(1, values.Length).Add(2, OnnxInt64).Add(8, name)
            .Add(9, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        _initializers.Add(t);
        return name;
    }

    /// <summary>A graph input or output of float elements; a null dim is symbolic (named by <paramref name="symbolic"/>).</summary>
    public void Input(string name, long?[] dims, string symbolic = "batch") => _inputs.Add(ValueInfo(name, dims, symbolic));
    public void Output(string name, long?[] dims, string symbolic = "batch") => _outputs.Add(ValueInfo(name, dims, symbolic));

    /// <summary>Adds a node; attributes are int, long[] or float values.</summary>
    public string Node(string op, string[] inputs, string? output = null, params (string Name, object Value)[] attributes)
    {
        output ??= Name(op.ToLowerInvariant());
        var n = new ProtoMessage();
        foreach (var i in inputs) n.Add(1, i);
        n.Add(2, output).Add(3, output).Add(4, op);
        foreach (var (name, value) in attributes)
        {
            var a = new ProtoMessage().Add(1, name);
            switch (value)
            {
                case int i: a.Add(3, i).Add(20, AttrInt); break;
                case long l: a.Add(3, l).Add(20, AttrInt); break;
                case float f: a.Add(2, f).Add(20, AttrFloat); break;
                case long[] ls: foreach (var l in ls) a.Add(8, l); a.Add(20, AttrInts); break;
                default: throw new ArgumentException($"attribute {name}: unsupported type {value.GetType().Name}");
            }
            n.Add(5, a);
        }
        _nodes.Add(n);
        return output;
    }

    /// <summary>The ModelProto bytes (IR version 7, opset 13).</summary>
    public byte[] ToArray(string producer, string docString)
    {
        var g = new ProtoMessage();
        foreach (var n in _nodes) g.Add(1, n);
        g.Add(2, graphName);
        foreach (var t in _initializers) g.Add(5, t);
        foreach (var i in _inputs) g.Add(11, i);
        foreach (var o in _outputs) g.Add(12, o);
        var m = new ProtoMessage().Add(1, 7L).Add(2, producer).Add(6, docString).Add(7, g)
            .Add(8, new ProtoMessage().Add(1, "").Add(2, 13L));
        return m.ToArray();
    }

    private static ProtoMessage ValueInfo(string name, long?[] dims, string symbolic)
    {
        var shape = new ProtoMessage();
        foreach (var d in dims) shape.Add(1, d is { } v ? new ProtoMessage().Add(1, v) : new ProtoMessage().Add(2, symbolic));
        var tensor = new ProtoMessage().Add(1, OnnxFloat).Add(2, shape);
        return new ProtoMessage().Add(1, name).Add(2, new ProtoMessage().Add(1, tensor));
    }
}
