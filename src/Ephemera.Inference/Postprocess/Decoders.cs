using Ephemera.Core;
using Ephemera.Inference.Preprocess;

namespace Ephemera.Inference.Postprocess;

/// <summary>Score/NMS settings shared by the decoders (validated once, STYLE.md 1).</summary>
public sealed record DecodeOptions
{
    /// <summary>Minimum final score (YOLOX: obj × class) to keep a box.</summary>
    public float ScoreThreshold { get; }
    /// <summary>IoU above which a lower-scored box of the same class is suppressed.</summary>
    public float NmsIoU { get; }
    /// <summary>At most this many boxes per frame after NMS.</summary>
    public int MaxDetections { get; }

    public DecodeOptions(float scoreThreshold = 0.3f, float nmsIoU = 0.45f, int maxDetections = 300)
    {
        if (scoreThreshold is < 0 or > 1) throw new EphemeraException($"score threshold must be in [0,1], got {scoreThreshold}");
        if (nmsIoU is <= 0 or > 1) throw new EphemeraException($"NMS IoU must be in (0,1], got {nmsIoU}");
        if (maxDetections <= 0) throw new EphemeraException($"max detections must be positive, got {maxDetections}");
        ScoreThreshold = scoreThreshold; NmsIoU = nmsIoU; MaxDetections = maxDetections;
    }
}

/// <summary>Shared tail: NMS over candidates, then emit in source pixels.</summary>
internal abstract class DecoderBase(DecodeOptions options, bool classAware)
{
    protected readonly DecodeOptions Options = options;
    protected readonly CandidateBoxes Candidates = new();
    private readonly NonMaxSuppression _nms = new();
    private int[] _kept = new int[options.MaxDetections];

    protected void Finish(in TensorPlacement p, Detections output)
    {
        output.Clear();
        int n = _nms.Run(Candidates, Options.NmsIoU, classAware, _kept);
        for (int i = 0; i < n; i++) Candidates.EmitSource(_kept[i], p, output);
    }
}

/// <summary>
/// YOLOX head decode: anchors on grids of strides 8, 16, 32 (row-major, H/s × W/s cells each);
/// xy = (raw + cell) · stride, wh = exp(raw) · stride; obj and class scores are already sigmoids;
/// the box takes its best class and score = obj × class (as YOLOX's own <c>postprocess</c>), then
/// class-aware NMS. Works for any tensor size that is a multiple of 32.
/// </summary>
internal sealed class YoloxDecoder : DecoderBase
{
    private readonly int _numClasses, _stride;
    private readonly float[] _gridX, _gridY, _gridS;
    public int AnchorCount { get; }

    public YoloxDecoder(int tensorW, int tensorH, int numClasses, DecodeOptions options) : base(options, classAware: true)
    {
        _numClasses = numClasses; _stride = 5 + numClasses;
        int[] strides = [8, 16, 32];
        AnchorCount = strides.Sum(s => (tensorW / s) * (tensorH / s));
        _gridX = new float[AnchorCount]; _gridY = new float[AnchorCount]; _gridS = new float[AnchorCount];
        int a = 0;
        foreach (int s in strides)
            for (int row = 0; row < tensorH / s; row++)
                for (int col = 0; col < tensorW / s; col++) { _gridX[a] = col; _gridY[a] = row; _gridS[a] = s; a++; }
    }

    public void Decode(ReadOnlySpan<float> raw, in TensorPlacement p, Detections output)
    {
        if (raw.Length < AnchorCount * _stride)
            throw new EphemeraException($"YOLOX output has {raw.Length} values, expected {AnchorCount}x{_stride}");
        Candidates.Clear();
        float thr = Options.ScoreThreshold;
        for (int a = 0; a < AnchorCount; a++)
        {
            var r = raw.Slice(a * _stride, _stride);
            float obj = r[4];
            if (obj < thr) continue; // class scores ≤ 1, so obj × cls < thr
            int best = 0; float bestScore = r[5];
            for (int c = 1; c < _numClasses; c++) if (r[5 + c] > bestScore) { bestScore = r[5 + c]; best = c; }
            float score = obj * bestScore;
            if (score < thr) continue;
            float s = _gridS[a];
            float cx = (r[0] + _gridX[a]) * s, cy = (r[1] + _gridY[a]) * s;
            float w = MathF.Exp(r[2]) * s, h = MathF.Exp(r[3]) * s;
            Candidates.Add(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, best);
        }
        Finish(p, output);
    }
}

/// <summary>
/// YuNet (OpenCV Zoo) decode: per stride s ∈ {8,16,32}, cells row-major over (H/s)×(W/s);
/// score = sqrt(clip(cls)·clip(obj)); cx = (col + b0)·s, cy = (row + b1)·s, w = exp(b2)·s,
/// h = exp(b3)·s; landmark n = ((col + k[2n])·s, (row + k[2n+1])·s) (right eye, left eye, nose tip,
/// right and left mouth corner, as OpenCV's FaceDetectorYN); then NMS. Boxes and landmarks go to Detections.
/// </summary>
internal sealed class YuNetDecoder(int tensorW, int tensorH, DecodeOptions options) : DecoderBase(options, classAware: false)
{
    /// <summary>outputs: cls_8, cls_16, cls_32, obj_8, obj_16, obj_32, bbox_8, bbox_16, bbox_32, then kps_8, kps_16, kps_32 (empty: no landmarks).</summary>
    public void Decode(ReadOnlySpan<float> cls8, ReadOnlySpan<float> cls16, ReadOnlySpan<float> cls32,
        ReadOnlySpan<float> obj8, ReadOnlySpan<float> obj16, ReadOnlySpan<float> obj32,
        ReadOnlySpan<float> bbox8, ReadOnlySpan<float> bbox16, ReadOnlySpan<float> bbox32, in TensorPlacement p, Detections output,
        ReadOnlySpan<float> kps8 = default, ReadOnlySpan<float> kps16 = default, ReadOnlySpan<float> kps32 = default)
    {
        Candidates.Clear();
        Level(8, cls8, obj8, bbox8, kps8); Level(16, cls16, obj16, bbox16, kps16); Level(32, cls32, obj32, bbox32, kps32);
        Finish(p, output);
    }

    private void Level(int s, ReadOnlySpan<float> cls, ReadOnlySpan<float> obj, ReadOnlySpan<float> bbox, ReadOnlySpan<float> kps)
    {
        int cols = tensorW / s, rows = tensorH / s;
        if (cls.Length < rows * cols || bbox.Length < rows * cols * 4)
            throw new EphemeraException($"YuNet stride {s}: outputs have {cls.Length} cells, expected {rows * cols}");
        bool landmarks = !kps.IsEmpty;
        if (landmarks && kps.Length < rows * cols * 10)
            throw new EphemeraException($"YuNet stride {s}: landmark output has {kps.Length} values, expected {rows * cols * 10}");
        Span<float> l = stackalloc float[10];
        for (int i = 0; i < rows * cols; i++)
        {
            float score = MathF.Sqrt(Math.Clamp(cls[i], 0, 1) * Math.Clamp(obj[i], 0, 1));
            if (score < Options.ScoreThreshold) continue;
            int row = i / cols, col = i % cols;
            float cx = (col + bbox[4 * i]) * s, cy = (row + bbox[4 * i + 1]) * s;
            float w = MathF.Exp(bbox[4 * i + 2]) * s, h = MathF.Exp(bbox[4 * i + 3]) * s;
            if (!landmarks) { Candidates.Add(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, 0); continue; }
            for (int n = 0; n < 5; n++)
            {
                l[2 * n] = (col + kps[10 * i + 2 * n]) * s;
                l[2 * n + 1] = (row + kps[10 * i + 2 * n + 1]) * s;
            }
            Candidates.Add(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, 0, l);
        }
    }
}

/// <summary>UltraFace decode: scores [A,2] (column 1 = face), boxes [A,4] normalised corners; then NMS.</summary>
internal sealed class UltraFaceDecoder(int tensorW, int tensorH, DecodeOptions options) : DecoderBase(options, classAware: false)
{
    public void Decode(ReadOnlySpan<float> scores, ReadOnlySpan<float> boxes, in TensorPlacement p, Detections output)
    {
        Candidates.Clear();
        int n = Math.Min(scores.Length / 2, boxes.Length / 4);
        for (int i = 0; i < n; i++)
        {
            float s = scores[2 * i + 1];
            if (s < Options.ScoreThreshold) continue;
            Candidates.Add(boxes[4 * i] * tensorW, boxes[4 * i + 1] * tensorH, boxes[4 * i + 2] * tensorW, boxes[4 * i + 3] * tensorH, s, 0);
        }
        Finish(p, output);
    }
}

/// <summary>
/// PP-OCR DB text decode: binarise the probability map at 0.3, label 4-connected components, keep
/// components whose mean probability ≥ 0.6 (PaddleOCR's box_thresh) and whose box is ≥ 3 px, and
/// expand each box by DB's unclip distance d = area·1.5 / perimeter (computed on the axis-aligned
/// box; PaddleOCR uses the rotated minimum rectangle — axis-aligned boxes suit the anonymiser, which
/// masks rectangles). Scratch (labels, stack) is reused.
/// </summary>
internal sealed class DbTextDecoder(DecodeOptions options) : DecoderBase(options, classAware: false)
{
    public const float BinaryThreshold = 0.3f, BoxThreshold = 0.6f, UnclipRatio = 1.5f;
    private int[] _label = [];
    private int[] _stack = [];

    public void Decode(ReadOnlySpan<float> prob, int mapW, int mapH, in TensorPlacement p, Detections output)
    {
        if (prob.Length < mapW * mapH) throw new EphemeraException($"DB map has {prob.Length} values, expected {mapW}x{mapH}");
        int n = mapW * mapH;
        if (_label.Length < n) { _label = new int[n]; _stack = new int[n]; }
        Array.Clear(_label, 0, n);
        Candidates.Clear();
        int next = 0;
        for (int start = 0; start < n; start++)
        {
            if (_label[start] != 0 || prob[start] <= BinaryThreshold) continue;
            next++;
            int sp = 0; _stack[sp++] = start; _label[start] = next;
            int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1; double sum = 0; int count = 0;
            while (sp > 0)
            {
                int i = _stack[--sp]; int x = i % mapW, y = i / mapW;
                sum += prob[i]; count++;
                minX = Math.Min(minX, x); maxX = Math.Max(maxX, x); minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
                if (x > 0) Push(i - 1, prob); if (x < mapW - 1) Push(i + 1, prob);
                if (y > 0) Push(i - mapW, prob); if (y < mapH - 1) Push(i + mapW, prob);
                void Push(int j, ReadOnlySpan<float> pr) { if (_label[j] == 0 && pr[j] > BinaryThreshold) { _label[j] = next; _stack[sp++] = j; } }
            }
            float w = maxX - minX + 1, h = maxY - minY + 1, score = (float)(sum / count);
            if (Math.Min(w, h) < 3 || score < BoxThreshold || score < Options.ScoreThreshold) continue;
            float d = w * h * UnclipRatio / (2 * (w + h));
            Candidates.Add(minX - d, minY - d, maxX + 1 + d, maxY + 1 + d, score, 0);
        }
        Finish(p, output);
    }
}
