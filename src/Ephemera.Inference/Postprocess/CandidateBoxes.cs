using Ephemera.Core;
using Ephemera.Inference.Preprocess;

namespace Ephemera.Inference.Postprocess;

/// <summary>
/// Candidate boxes before NMS as struct-of-arrays (corners, score, class), reusable: grows to the
/// largest candidate count seen and then allocates nothing. Coordinates in tensor pixels.
/// </summary>
public sealed class CandidateBoxes
{
    internal float[] X1 = new float[1024], Y1 = new float[1024], X2 = new float[1024], Y2 = new float[1024], Score = new float[1024];
    internal float[] ClassF = new float[1024];
    // Landmarks (10 floats per candidate, tensor pixels), only for decoders that have them (YuNet).
    internal float[]? Kps;
    public int Count { get; private set; }

    public void Clear() => Count = 0;

    /// <summary>Adds a candidate with its five landmarks (x, y pairs in tensor pixels).</summary>
    public void Add(float x1, float y1, float x2, float y2, float score, int classId, ReadOnlySpan<float> landmarks)
    {
        int i = Count;
        Add(x1, y1, x2, y2, score, classId);
        Kps ??= new float[X1.Length * Detections.LandmarkFloats];
        if (Kps.Length < X1.Length * Detections.LandmarkFloats) Array.Resize(ref Kps, X1.Length * Detections.LandmarkFloats);
        landmarks.CopyTo(Kps.AsSpan(i * Detections.LandmarkFloats, Detections.LandmarkFloats));
    }

    public void Add(float x1, float y1, float x2, float y2, float score, int classId)
    {
        if (Count == X1.Length) Grow(Count * 2);
        X1[Count] = x1; Y1[Count] = y1; X2[Count] = x2; Y2[Count] = y2; Score[Count] = score; ClassF[Count] = classId;
        Count++;
    }

    /// <summary>Candidate <paramref name="i"/> as corners, score and class (as added).</summary>
    public (float X1, float Y1, float X2, float Y2, float Score, int ClassId) Get(int i) =>
        (uint)i < (uint)Count ? (X1[i], Y1[i], X2[i], Y2[i], Score[i], (int)ClassF[i]) : throw new ArgumentOutOfRangeException(nameof(i));

    internal void EnsureCapacity(int n) { if (X1.Length < n) Grow(n); }

    private void Grow(int n)
    {
        Array.Resize(ref X1, n); Array.Resize(ref Y1, n); Array.Resize(ref X2, n); Array.Resize(ref Y2, n);
        Array.Resize(ref Score, n); Array.Resize(ref ClassF, n);
    }

    /// <summary>Appends candidate <paramref name="i"/> to <paramref name="output"/> in source pixels, clipped to the frame.</summary>
    internal void EmitSource(int i, in TensorPlacement p, Detections output)
    {
        float x1 = Math.Clamp(X1[i] / p.ScaleX, 0, p.SourceWidth), y1 = Math.Clamp(Y1[i] / p.ScaleY, 0, p.SourceHeight);
        float x2 = Math.Clamp(X2[i] / p.ScaleX, 0, p.SourceWidth), y2 = Math.Clamp(Y2[i] / p.ScaleY, 0, p.SourceHeight);
        if (x2 <= x1 || y2 <= y1) return;
        if (Kps == null) { output.Add(BoxF.FromCorners(x1, y1, x2, y2), Score[i], (int)ClassF[i]); return; }
        Span<float> l = stackalloc float[Detections.LandmarkFloats];
        for (int k = 0; k < Detections.LandmarkFloats; k += 2)
        {
            l[k] = Kps[i * Detections.LandmarkFloats + k] / p.ScaleX;
            l[k + 1] = Kps[i * Detections.LandmarkFloats + k + 1] / p.ScaleY;
        }
        output.Add(BoxF.FromCorners(x1, y1, x2, y2), Score[i], (int)ClassF[i], l);
    }
}
