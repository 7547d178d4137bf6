namespace Ephemera.Core;

/// <summary>
/// Detections of one frame as struct-of-arrays (boxes, scores, class ids), with a fixed capacity
/// so one instance is reused frame after frame without allocating. Boxes are in source pixels.
/// </summary>
public sealed class Detections
{
    private BoxF[] _boxes;
    private float[] _scores;
    private int[] _classIds;

    public Detections(int capacity = 256)
    {
        _boxes = new BoxF[capacity];
        _scores = new float[capacity];
        _classIds = new int[capacity];
    }

    public int Count { get; private set; }
    public int Capacity => _boxes.Length;

    public Span<BoxF> Boxes => _boxes.AsSpan(0, Count);
    public Span<float> Scores => _scores.AsSpan(0, Count);
    public Span<int> ClassIds => _classIds.AsSpan(0, Count);

    public void Clear() => Count = 0;

    /// <summary>Appends one detection; grows (rarely, and only past the initial capacity).</summary>
    public void Add(in BoxF box, float score, int classId)
    {
        if (Count == _boxes.Length) Grow();
        _boxes[Count] = box;
        _scores[Count] = score;
        _classIds[Count] = classId;
        Count++;
    }

    /// <summary>Keeps, in order, the detections whose mask entry is true.</summary>
    public void Filter(ReadOnlySpan<bool> keep)
    {
        if (keep.Length != Count) throw new ArgumentException($"mask has {keep.Length} entries for {Count} detections");
        int w = 0;
        for (int r = 0; r < Count; r++)
        {
            if (!keep[r]) continue;
            _boxes[w] = _boxes[r]; _scores[w] = _scores[r]; _classIds[w] = _classIds[r];
            w++;
        }
        Count = w;
    }

    public void CopyTo(Detections other)
    {
        other.Clear();
        for (int i = 0; i < Count; i++) other.Add(_boxes[i], _scores[i], _classIds[i]);
    }

    private void Grow()
    {
        int n = Math.Max(16, _boxes.Length * 2);
        Array.Resize(ref _boxes, n);
        Array.Resize(ref _scores, n);
        Array.Resize(ref _classIds, n);
    }
}
