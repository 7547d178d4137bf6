using System.Buffers.Binary;
using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Inference.Onnx;

/// <summary>One dequantised TensorFlow.js weight: its TF shape (e.g. [kh,kw,in,out]) and float values.</summary>
public sealed record TfjsTensor(string Name, int[] Shape, float[] Values);

/// <summary>
/// Reads a TensorFlow.js weights manifest (<c>*-weights_manifest.json</c>) and its shard files:
/// float32 tensors as they are, uint8/uint16-quantised ones dequantised as <c>q · scale + min</c>
/// (computed in double and rounded to float, as tfjs's <c>io.decodeWeights</c> does, so the values
/// are bit-identical to the reference). Shards are concatenated in manifest order.
/// </summary>
public static class TfjsWeights
{
    /// <summary>All weights of every group of the manifest, by name; errors name the file and the tensor.</summary>
    public static Dictionary<string, TfjsTensor> Read(string manifestPath)
    {
        string what = $"TF.js weights manifest {manifestPath}";
        if (!File.Exists(manifestPath)) throw new EphemeraException($"{what}: file not found");
        string dir = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        JsonElement root;
        try { root = JsonDocument.Parse(File.ReadAllBytes(manifestPath)).RootElement; }
        catch (JsonException e) { throw new EphemeraException($"{what}: invalid JSON ({e.Message})", e); }
        if (root.ValueKind != JsonValueKind.Array) throw new EphemeraException($"{what}: expected a JSON array of weight groups");

        var result = new Dictionary<string, TfjsTensor>();
        foreach (var group in root.EnumerateArray())
        {
            var data = new List<byte>();
            foreach (var p in group.GetProperty("paths").EnumerateArray())
            {
                string shard = Path.Combine(dir, p.GetString() ?? throw new EphemeraException($"{what}: a shard path is not a string"));
                if (!File.Exists(shard)) throw new EphemeraException($"{what}: shard {shard} not found");
                data.AddRange(File.ReadAllBytes(shard));
            }
            var bytes = data.ToArray();
            int offset = 0;
            foreach (var w in group.GetProperty("weights").EnumerateArray())
            {
                string name = w.GetProperty("name").GetString()!;
                int[] shape = w.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
                int count = shape.Aggregate(1, (a, b) => checked(a * b));
                string dtype = w.GetProperty("dtype").GetString()!;
                if (dtype != "float32") throw new EphemeraException($"{what}: weight {name} has dtype {dtype}; only float32 is supported");
                var values = new float[count];
                if (w.TryGetProperty("quantization", out var q))
                {
                    string qType = q.GetProperty("dtype").GetString()!;
                    int size = qType switch { "uint8" => 1, "uint16" => 2, _ => throw new EphemeraException($"{what}: weight {name}: quantisation {qType} is not supported (uint8 or uint16)") };
                    if (!q.TryGetProperty("scale", out var sc) || !q.TryGetProperty("min", out var mn))
                        throw new EphemeraException($"{what}: weight {name}: quantisation without scale/min (float16 or affine forms are not supported)");
                    double scale = sc.GetDouble(), min = mn.GetDouble();
                    Need(bytes, offset, count * size, what, name);
                    for (int i = 0; i < count; i++)
                    {
                        int v = size == 1 ? bytes[offset + i] : BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset + 2 * i));
                        values[i] = (float)(v * scale + min);
                    }
                    offset += count * size;
                }
                else
                {
                    Need(bytes, offset, count * 4, what, name);
                    for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(offset + 4 * i));
                    offset += count * 4;
                }
                if (!result.TryAdd(name, new TfjsTensor(name, shape, values))) throw new EphemeraException($"{what}: weight {name} is listed twice");
            }
            if (offset != bytes.Length) throw new EphemeraException($"{what}: the shards hold {bytes.Length} bytes but the manifest describes {offset}");
        }
        return result;
    }

    private static void Need(byte[] bytes, int offset, int n, string what, string name)
    {
        if (bytes.Length - offset < n) throw new EphemeraException($"{what}: the shards end inside weight {name} (need {n} bytes at {offset}, have {bytes.Length - offset})");
    }
}
