using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ephemera.Inference.Postprocess;

/// <summary>
/// Greedy non-maximum suppression, class-aware (a box only suppresses boxes of its own class) or
/// class-agnostic. Candidates are sorted by score once; each kept box then tests all later boxes
/// eight at a time (Vector256 IoU over the sorted struct-of-arrays), with a scalar fallback.
/// Owns its scratch (one instance per thread); steady state allocates nothing.
/// </summary>
public sealed class NonMaxSuppression
{
    private float[] _keys = [], _x1 = [], _y1 = [], _x2 = [], _y2 = [], _area = [], _cls = [], _suppressed = [];
    private int[] _order = [];
    internal bool ForceScalar { get; set; }

    /// <summary>
    /// Writes the indices (into <paramref name="c"/>) of kept boxes, best first, to <paramref name="kept"/>;
    /// returns how many (at most kept.Length).
    /// </summary>
    public int Run(CandidateBoxes c, float iouThreshold, bool classAware, Span<int> kept)
    {
        int n = c.Count;
        if (n == 0 || kept.Length == 0) return 0;
        Ensure(n);
        for (int i = 0; i < n; i++) { _keys[i] = -c.Score[i]; _order[i] = i; }
        // Stable tie-break is not needed for correctness; Sort on (key, index) keeps it deterministic.
        _keys.AsSpan(0, n).Sort(_order.AsSpan(0, n));
        for (int k = 0; k < n; k++)
        {
            int i = _order[k];
            _x1[k] = c.X1[i]; _y1[k] = c.Y1[i]; _x2[k] = c.X2[i]; _y2[k] = c.Y2[i];
            _area[k] = Math.Max(0, c.X2[i] - c.X1[i]) * Math.Max(0, c.Y2[i] - c.Y1[i]);
            _cls[k] = classAware ? c.ClassF[i] : 0f;
            _suppressed[k] = 0f;
        }
        int count = 0;
        bool vector = !ForceScalar && Vector256.IsHardwareAccelerated;
        for (int k = 0; k < n && count < kept.Length; k++)
        {
            if (_suppressed[k] != 0f) continue;
            kept[count++] = _order[k];
            if (vector) SuppressVector(k, n, iouThreshold); else SuppressScalar(k, n, iouThreshold);
        }
        return count;
    }

    private void SuppressScalar(int k, int n, float thr)
    {
        float ax1 = _x1[k], ay1 = _y1[k], ax2 = _x2[k], ay2 = _y2[k], aa = _area[k], ac = _cls[k];
        for (int j = k + 1; j < n; j++)
        {
            if (_suppressed[j] != 0f || _cls[j] != ac) continue;
            float iw = MathF.Min(ax2, _x2[j]) - MathF.Max(ax1, _x1[j]);
            float ih = MathF.Min(ay2, _y2[j]) - MathF.Max(ay1, _y1[j]);
            if (iw <= 0 || ih <= 0) continue;
            float inter = iw * ih;
            if (inter > thr * (aa + _area[j] - inter)) _suppressed[j] = 1f;
        }
    }

    private void SuppressVector(int k, int n, float thr)
    {
        var ax1 = Vector256.Create(_x1[k]); var ay1 = Vector256.Create(_y1[k]);
        var ax2 = Vector256.Create(_x2[k]); var ay2 = Vector256.Create(_y2[k]);
        var aa = Vector256.Create(_area[k]); var ac = Vector256.Create(_cls[k]); var vt = Vector256.Create(thr);
        var one = Vector256.Create(1f);
        ref float x1 = ref MemoryMarshal.GetArrayDataReference(_x1); ref float y1 = ref MemoryMarshal.GetArrayDataReference(_y1);
        ref float x2 = ref MemoryMarshal.GetArrayDataReference(_x2); ref float y2 = ref MemoryMarshal.GetArrayDataReference(_y2);
        ref float ar = ref MemoryMarshal.GetArrayDataReference(_area); ref float cl = ref MemoryMarshal.GetArrayDataReference(_cls);
        ref float sp = ref MemoryMarshal.GetArrayDataReference(_suppressed);
        int j = k + 1;
        for (; j <= n - 8; j += 8)
        {
            nuint o = (nuint)j;
            var iw = Vector256.Min(ax2, Vector256.LoadUnsafe(ref x2, o)) - Vector256.Max(ax1, Vector256.LoadUnsafe(ref x1, o));
            var ih = Vector256.Min(ay2, Vector256.LoadUnsafe(ref y2, o)) - Vector256.Max(ay1, Vector256.LoadUnsafe(ref y1, o));
            iw = Vector256.Max(iw, Vector256<float>.Zero); ih = Vector256.Max(ih, Vector256<float>.Zero);
            var inter = iw * ih;
            // IoU > thr  <=>  inter > thr·union (union > 0), no division.
            var hit = Vector256.GreaterThan(inter, vt * (aa + Vector256.LoadUnsafe(ref ar, o) - inter))
                      & Vector256.Equals(ac, Vector256.LoadUnsafe(ref cl, o));
            Vector256.ConditionalSelect(hit, one, Vector256.LoadUnsafe(ref sp, o)).StoreUnsafe(ref sp, o);
        }
        float sx1 = _x1[k], sy1 = _y1[k], sx2 = _x2[k], sy2 = _y2[k], sa = _area[k], sc = _cls[k];
        for (; j < n; j++)
        {
            if (_cls[j] != sc) continue;
            float iw = MathF.Max(MathF.Min(sx2, _x2[j]) - MathF.Max(sx1, _x1[j]), 0);
            float ih = MathF.Max(MathF.Min(sy2, _y2[j]) - MathF.Max(sy1, _y1[j]), 0);
            float inter = iw * ih;
            if (inter > thr * (sa + _area[j] - inter)) _suppressed[j] = 1f;
        }
    }

    private void Ensure(int n)
    {
        if (_keys.Length >= n) return;
        int cap = Math.Max(n, 1024);
        _keys = new float[cap]; _x1 = new float[cap]; _y1 = new float[cap]; _x2 = new float[cap]; _y2 = new float[cap];
        _area = new float[cap]; _cls = new float[cap]; _suppressed = new float[cap]; _order = new int[cap];
    }
}
