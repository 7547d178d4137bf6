namespace Ephemera.Core;

/// <summary>
/// Detections of one frame as struct-of-arrays (boxes, scores, class ids), with a fixed capacity
/// so one instance is reused frame after frame without allocating. Boxes are in source pixels.
/// </summary>
public sealed class Detections
{
    /// <summary>Floats per detection in <see cref="Landmarks"/>: five (x, y) points.</summary>
    public const int LandmarkFloats = 10;

    private BoxF[] _boxes;
    private float[] _scores;
    private int[] _classIds;
    // Face landmarks (YuNet: right eye, left eye, nose tip, right and left mouth corner), source pixels;
    // allocated the first time a detector supplies them, NaN for detections added without.
    private float[]? _landmarks;

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
    public void Add(in BoxF box, float score, int classId) => Add(box, score, classId, default);

    /// <summary>Appends one detection with its landmarks (<see cref="LandmarkFloats"/> values, or empty for none).</summary>
    public void Add(in BoxF box, float score, int classId, ReadOnlySpan<float> landmarks)
    {
        if (!landmarks.IsEmpty && landmarks.Length != LandmarkFloats)
            throw new ArgumentException($"landmarks need {LandmarkFloats} values, got {landmarks.Length}", nameof(landmarks));
        if (Count == _boxes.Length) Grow();
        _boxes[Count] = box;
        _scores[Count] = score;
        _classIds[Count] = classId;
        if (!landmarks.IsEmpty && _landmarks == null)
        {
            _landmarks = new float[_boxes.Length * LandmarkFloats];
            _landmarks.AsSpan(0, Count * LandmarkFloats).Fill(float.NaN);
        }
        if (_landmarks != null)
        {
            var dst = _landmarks.AsSpan(Count * LandmarkFloats, LandmarkFloats);
            if (landmarks.IsEmpty) dst.Fill(float.NaN); else landmarks.CopyTo(dst);
        }
        Count++;
    }

    /// <summary>The landmarks of detection <paramref name="i"/> (x0, y0, … x4, y4), or empty when its detector gives none.</summary>
    public ReadOnlySpan<float> Landmarks(int i)
    {
        if ((uint)i >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(i));
        if (_landmarks == null) return default;
        var l = _landmarks.AsSpan(i * LandmarkFloats, LandmarkFloats);
        return float.IsNaN(l[0]) ? default : l;
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
            if (_landmarks != null && w != r) _landmarks.AsSpan(r * LandmarkFloats, LandmarkFloats).CopyTo(_landmarks.AsSpan(w * LandmarkFloats));
            w++;
        }
        Count = w;
    }

    public void CopyTo(Detections other)
    {
        other.Clear();
        for (int i = 0; i < Count; i++) other.Add(_boxes[i], _scores[i], _classIds[i], Landmarks(i));
    }

    private void Grow()
    {
        int n = Math.Max(16, _boxes.Length * 2);
        Array.Resize(ref _boxes, n);
        Array.Resize(ref _scores, n);
        Array.Resize(ref _classIds, n);
        if (_landmarks != null) Array.Resize(ref _landmarks, n * LandmarkFloats);
    }
}
