using Ephemera.Core;

namespace Ephemera.Inference.Onnx;

/// <summary>
/// Converts face-api.js's AgeGenderNet (TensorFlow.js weights) into an ONNX graph of the same network,
/// read from the reference implementation (<c>@vladmandic/face-api</c> 1.7.15,
/// <c>src/xception/TinyXception.ts</c> and <c>src/ageGenderNet/AgeGenderNet.ts</c>):
/// <list type="bullet">
/// <item>input <c>input</c> [N,3,112,112] float, RGB planes in 0–255; the graph itself subtracts the
/// mean RGB (122.782, 117.001, 104.298) and divides by 255, as <c>TinyXception.forwardInput</c> does;</item>
/// <item>TinyXception(2): conv_in 3×3/2 + ReLU; reduction blocks 0 (input not activated), 1;
/// two main blocks; exit reduction block; exit separable conv + ReLU. A reduction block is
/// ReLU → sep-conv → ReLU → sep-conv → MaxPool 3×3/2 SAME, plus a 1×1/2 expansion conv of the
/// block's raw input; a main block is three (ReLU → sep-conv) plus its input;</item>
/// <item>avgPool 7×7 (the whole 7×7 map) → fc/age (years) and fc/gender → softmax
/// (outputs <c>age</c> [N,1] and <c>gender</c> [N,2], index 0 = male).</item>
/// </list>
/// TF's SAME padding puts the odd pixel at the end, so the stride-2 3×3 ops get pads [0,0,1,1] on
/// this fixed 112×112 input; a separable conv is depthwise (group = C) then pointwise, one bias.
/// </summary>
public static class AgeGenderNetConverter
{
    public const int Size = 112;
    public const string InputName = "input", AgeOutput = "age", GenderOutput = "gender";
    private static readonly float[] MeanRgb = [122.782f, 117.001f, 104.298f];

    /// <summary>Reads the TF.js manifest (and its .bin beside it) and returns the ONNX model bytes (deterministic).</summary>
    public static byte[] Convert(string weightsManifestPath)
    {
        var w = TfjsWeights.Read(weightsManifestPath);
        var used = new HashSet<string>();
        TfjsTensor Get(string name, params int[] shape)
        {
            if (!w.TryGetValue(name, out var t)) throw new EphemeraException($"AgeGenderNet weights {weightsManifestPath}: weight {name} is missing");
            if (!t.Shape.SequenceEqual(shape))
                throw new EphemeraException($"AgeGenderNet weights {weightsManifestPath}: weight {name} has shape [{string.Join(',', t.Shape)}], expected [{string.Join(',', shape)}]");
            used.Add(name);
            return t;
        }

        var g = new OnnxGraphBuilder("age_gender_net");
        g.Input(InputName, [null, 3, Size, Size]);
        var mean = g.Initializer("mean_rgb", [1, 3, 1, 1], MeanRgb);
        var scale = g.Initializer("div_255", [], [255f]);
        string x = g.Node("Div", [g.Node("Sub", [InputName, mean]), scale]);

        string Conv(string input, string prefix, int cin, int cout, int k, int stride)
        {
            var f = Get($"{prefix}/filters", k, k, cin, cout);
            var b = Get($"{prefix}/bias", cout);
            var wName = g.Initializer($"{prefix}/filters", [cout, cin, k, k], HwioToOihw(f.Values, k, cin, cout));
            var bName = g.Initializer($"{prefix}/bias", [cout], b.Values);
            long[] pads = k == 1 ? [0, 0, 0, 0] : stride == 2 ? [0, 0, 1, 1] : [1, 1, 1, 1];
            return g.Node("Conv", [input, wName, bName], null, ("kernel_shape", new long[] { k, k }), ("strides", new long[] { stride, stride }), ("pads", pads));
        }

        string SepConv(string input, string prefix, int cin, int cout)
        {
            var dw = Get($"{prefix}/depthwise_filter", 3, 3, cin, 1);
            var pw = Get($"{prefix}/pointwise_filter", 1, 1, cin, cout);
            var b = Get($"{prefix}/bias", cout);
            var dwName = g.Initializer($"{prefix}/depthwise_filter", [cin, 1, 3, 3], HwioToOihw(dw.Values, 3, cin, 1, depthwise: true));
            string d = g.Node("Conv", [input, dwName], null, ("group", (long)cin), ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }));
            var pwName = g.Initializer($"{prefix}/pointwise_filter", [cout, cin, 1, 1], HwioToOihw(pw.Values, 1, cin, cout));
            var bName = g.Initializer($"{prefix}/bias", [cout], b.Values);
            return g.Node("Conv", [d, pwName, bName], null, ("kernel_shape", new long[] { 1, 1 }));
        }

        string Relu(string v) => g.Node("Relu", [v]);

        string Reduction(string input, string prefix, int cin, int cout, bool activateInput)
        {
            string o = activateInput ? Relu(input) : input;
            o = SepConv(o, $"{prefix}/separable_conv0", cin, cout);
            o = SepConv(Relu(o), $"{prefix}/separable_conv1", cout, cout);
            o = g.Node("MaxPool", [o], null, ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 0, 0, 1, 1 }));
            return g.Node("Add", [o, Conv(input, $"{prefix}/expansion_conv", cin, cout, 1, 2)]);
        }

        string Main(string input, string prefix, int c)
        {
            string o = SepConv(Relu(input), $"{prefix}/separable_conv0", c, c);
            o = SepConv(Relu(o), $"{prefix}/separable_conv1", c, c);
            o = SepConv(Relu(o), $"{prefix}/separable_conv2", c, c);
            return g.Node("Add", [o, input]);
        }

        x = Relu(Conv(x, "entry_flow/conv_in", 3, 32, 3, 2));
        x = Reduction(x, "entry_flow/reduction_block_0", 32, 64, activateInput: false);
        x = Reduction(x, "entry_flow/reduction_block_1", 64, 128, activateInput: true);
        x = Main(x, "middle_flow/main_block_0", 128);
        x = Main(x, "middle_flow/main_block_1", 128);
        x = Reduction(x, "exit_flow/reduction_block", 128, 256, activateInput: true);
        x = Relu(SepConv(x, "exit_flow/separable_conv", 256, 512));
        // avgPool 7×7 stride 2 VALID over a 7×7 map is the global average.
        string pooled = g.Node("Flatten", [g.Node("GlobalAveragePool", [x])], null, ("axis", 1L));

        string Fc(string prefix, int outputs, string? name)
        {
            var wt = Get($"{prefix}/weights", 512, outputs);
            var b = Get($"{prefix}/bias", outputs);
            return g.Node("Gemm", [pooled, g.Initializer($"{prefix}/weights", [512, outputs], wt.Values), g.Initializer($"{prefix}/bias", [outputs], b.Values)], name);
        }
        Fc("fc/age", 1, AgeOutput);
        g.Node("Softmax", [Fc("fc/gender", 2, null)], GenderOutput, ("axis", 1L));
        g.Output(AgeOutput, [null, 1]);
        g.Output(GenderOutput, [null, 2]);

        var unused = w.Keys.Where(k => !used.Contains(k)).ToList();
        if (unused.Count > 0) throw new EphemeraException($"AgeGenderNet weights {weightsManifestPath}: weights not part of AgeGenderNet: {string.Join(", ", unused)}");
        return g.ToArray("ephemera AgeGenderNetConverter", "face-api.js AgeGenderNet (TinyXception), converted from TensorFlow.js weights; input RGB 0-255 NCHW 112x112");
    }

    /// <summary>TF filter [kh,kw,in,out] (or depthwise [kh,kw,in,1]) → ONNX [out,in,kh,kw] (depthwise: [in,1,kh,kw]).</summary>
    private static float[] HwioToOihw(float[] src, int k, int cin, int cout, bool depthwise = false)
    {
        var dst = new float[src.Length];
        for (int y = 0; y < k; y++)
            for (int xx = 0; xx < k; xx++)
                for (int i = 0; i < cin; i++)
                    for (int o = 0; o < cout; o++)
                    {
                        float v = src[((y * k + xx) * cin + i) * cout + o];
                        if (depthwise) dst[(i * k + y) * k + xx] = v;          // cout == 1
                        else dst[((o * cin + i) * k + y) * k + xx] = v;
                    }
        return dst;
    }
}
