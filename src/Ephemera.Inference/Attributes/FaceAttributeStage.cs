using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Runtime;

namespace Ephemera.Inference.Attributes;

/// <summary>Settings of the case-1 face stage (validated here).</summary>
public sealed record FaceAttributeOptions
{
    /// <summary>Smallest face side in source pixels that may be estimated (AgeGenderNet degrades on small faces).</summary>
    public int MinFacePixels { get; init; } = 48;
    /// <summary>Smallest YuNet score (turned and half-hidden faces score lower).</summary>
    public float MinFaceScore { get; init; } = 0.8f;
    /// <summary>
    /// Frontal enough, from YuNet's landmarks: the nose projected on the eye line must lie within
    /// this of its middle (0.5 = frontal; 0.5 = any yaw), and between the eye line and the mouth line.
    /// </summary>
    public float MaxYawOffset { get; init; } = 0.2f;
    /// <summary>Largest head roll (eye line against the horizontal), degrees.</summary>
    public float MaxRollDegrees { get; init; } = 25f;
    /// <summary>Smallest variance of the luma Laplacian over the face (motion blur, defocus).</summary>
    public double MinSharpness { get; init; } = 15;
    /// <summary>Smallest detector score of a person box whose head is searched.</summary>
    public float MinPersonScore { get; init; } = 0.4f;
    /// <summary>YuNet's input side for the head region (multiple of 32).</summary>
    public int FaceDetectorInput { get; init; } = 160;

    public FaceAttributeOptions Validated()
    {
        if (MinFacePixels < 16) throw new EphemeraException($"attributes: min face size must be at least 16 px, got {MinFacePixels}");
        if (MinFaceScore is < 0 or > 1) throw new EphemeraException($"attributes: min face score must be in [0, 1], got {MinFaceScore}");
        if (MaxYawOffset is <= 0 or > 0.5f) throw new EphemeraException($"attributes: max yaw offset must be in (0, 0.5], got {MaxYawOffset}");
        if (MaxRollDegrees is <= 0 or > 90) throw new EphemeraException($"attributes: max roll must be in (0, 90] degrees, got {MaxRollDegrees}");
        if (MinSharpness < 0) throw new EphemeraException($"attributes: min sharpness must be ≥ 0, got {MinSharpness}");
        if (MinPersonScore is < 0 or > 1) throw new EphemeraException($"attributes: min person score must be in [0, 1], got {MinPersonScore}");
        if (FaceDetectorInput < 64 || FaceDetectorInput % 32 != 0) throw new EphemeraException($"attributes: face detector input must be a multiple of 32 and at least 64, got {FaceDetectorInput}");
        return this;
    }
}

/// <summary>One estimate for the person in <see cref="PersonBox"/> (frame pixels); quality in (0, 1] weights it within the track.</summary>
public readonly record struct FaceAttributeObservation(BoxF PersonBox, float Age, float MaleProbability, float Quality);

/// <summary>
/// Case 1's pixel stage: for every person box it looks for a face in the head region (YuNet), gates it
/// (size, frontal enough, sharp enough), resamples the square around it straight from the held frame
/// into AgeGenderNet's input tensor (the only crop there is: pixel memory, wiped inside the call) and
/// hands the estimate on with the person box. No crop, feature or estimate is kept here; the caller
/// joins estimates to tracks and wipes them when the track ends. Runs on the camera's pixel-stage thread.
/// </summary>
public sealed class FaceAttributeStage : IPixelStage, IDisposable
{
    private readonly FaceAttributeOptions _o;
    private readonly ObjectDetector _faces;
    private readonly AgeGenderModel _model;
    private readonly Action<FaceAttributeObservation> _onEstimate;
    private readonly Detections _found = new(64);
    private readonly long[] _lifetimes = new long[4096];
    private long _persons, _facesFound, _small, _pose, _blur, _estimated, _stageTicks, _lifetimeCount;

    public FaceAttributeStage(FaceAttributeOptions options, InferenceOptions inference, Action<FaceAttributeObservation> onEstimate, string? modelsDirectory = null)
    {
        _o = (options ?? throw new ArgumentNullException(nameof(options))).Validated();
        _onEstimate = onEstimate ?? throw new ArgumentNullException(nameof(onEstimate));
        _faces = ObjectDetector.Open(new DetectorOptions
        {
            Model = "face_detection_yunet_2026may", Inference = inference, MaxBatch = 1,
            InputWidth = _o.FaceDetectorInput, InputHeight = _o.FaceDetectorInput,
            Decode = new DecodeOptions(Math.Min(0.5f, _o.MinFaceScore), 0.3f, 64), ModelsDirectory = modelsDirectory,
        });
        try { _model = AgeGenderModel.Open(inference, modelsDirectory); }
        catch { _faces.Dispose(); throw; }
    }

    /// <summary>Test hook: the square (x, y, side) about to be cropped, called on the stage thread while the frame is held.</summary>
    internal Action<int, int, int>? OnCrop;

    /// <inheritdoc />
    public string Name => "face-attributes";
    public long PersonsSeen => Interlocked.Read(ref _persons);
    public long FacesFound => Interlocked.Read(ref _facesFound);
    public long RejectedSmall => Interlocked.Read(ref _small);
    public long RejectedPose => Interlocked.Read(ref _pose);
    public long RejectedBlur => Interlocked.Read(ref _blur);
    /// <summary>Faces that passed the gate and were estimated (one crop each).</summary>
    public long Estimated => Interlocked.Read(ref _estimated);
    /// <summary>Time spent in the stage (face search, gate, crop, estimate), in <see cref="Stopwatch"/> ticks.</summary>
    public long StageTicks => Interlocked.Read(ref _stageTicks);

    /// <summary>Crop lifetimes (filled → wiped) of the last 4,096 crops, in milliseconds, as (p50, p99, max); zeros before the first.</summary>
    public (double P50, double P99, double Max) CropLifetimeMs()
    {
        long n;
        long[] copy;
        lock (_lifetimes) { n = Math.Min(_lifetimeCount, _lifetimes.Length); copy = _lifetimes[..(int)n]; }
        if (n == 0) return (0, 0, 0);
        Array.Sort(copy);
        double Ms(long t) => t * 1000.0 / Stopwatch.Frequency;
        return (Ms(copy[(int)((n - 1) * 0.5)]), Ms(copy[(int)Math.Ceiling((n - 1) * 0.99)]), Ms(copy[^1]));
    }

    /// <inheritdoc />
    public void Process(in FrameView frame, Detections detections, long frameIndex)
    {
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < detections.Count; i++)
        {
            if (detections.ClassIds[i] != CocoClasses.Person || detections.Scores[i] < _o.MinPersonScore) continue;
            var person = detections.Boxes[i];
            // The head is in the upper part of a standing person's box.
            int x0 = Math.Max(0, (int)person.X), y0 = Math.Max(0, (int)person.Y);
            int x1 = Math.Min(frame.Width, (int)MathF.Ceiling(person.Right)), y1 = Math.Min(frame.Height, (int)MathF.Ceiling(person.Y + 0.5f * person.H));
            if (x1 - x0 < _o.MinFacePixels || y1 - y0 < _o.MinFacePixels) continue;
            Interlocked.Increment(ref _persons);
            var head = frame.Region(x0, y0, x1 - x0, y1 - y0);
            _faces.Detect(head, _found);
            if (_found.Count == 0) continue;
            int best = 0;
            for (int k = 1; k < _found.Count; k++) if (_found.Scores[k] > _found.Scores[best]) best = k;
            var f = _found.Boxes[best];
            float score = _found.Scores[best];
            Interlocked.Increment(ref _facesFound);
            float side = MathF.Max(f.W, f.H);
            if (side < _o.MinFacePixels) { Interlocked.Increment(ref _small); continue; }
            if (score < _o.MinFaceScore || !Frontal(_found.Landmarks(best), _o.MaxYawOffset, _o.MaxRollDegrees)) { Interlocked.Increment(ref _pose); continue; }
            // A square a little larger than the face, its side snapped to a multiple of 8 (few resampler sizes), moved inside the frame.
            int s = Math.Min(Math.Min(frame.Width, frame.Height), ((int)(1.2f * side) + 7) & ~7);
            int sx = Math.Clamp((int)(x0 + f.CenterX - s / 2f), 0, frame.Width - s), sy = Math.Clamp((int)(y0 + f.CenterY - s / 2f), 0, frame.Height - s);
            if (Sharpness(frame, x0 + (int)f.X, y0 + (int)f.Y, (int)side) < _o.MinSharpness) { Interlocked.Increment(ref _blur); continue; }
            OnCrop?.Invoke(sx, sy, s);
            var e = _model.Estimate(frame.Region(sx, sy, s, s));
            lock (_lifetimes) _lifetimes[_lifetimeCount++ % _lifetimes.Length] = _model.LastCropLifetimeTicks;
            Interlocked.Increment(ref _estimated);
            float quality = score * MathF.Min(1f, side / (2f * _o.MinFacePixels));
            _onEstimate(new FaceAttributeObservation(person, e.Age, e.MaleProbability, quality));
        }
        Interlocked.Add(ref _stageTicks, Stopwatch.GetTimestamp() - t0);
    }

    /// <summary>
    /// Frontal enough from five landmarks (right eye, left eye, nose, right and left mouth corner):
    /// roll of the eye line within <paramref name="maxRollDegrees"/>; the nose's projection on the eye
    /// line within <paramref name="maxYawOffset"/> of its middle (yaw), and its projection on the
    /// eyes-to-mouth axis strictly between the two (pitch). No landmarks: true (the score gate stands alone).
    /// </summary>
    internal static bool Frontal(ReadOnlySpan<float> l, float maxYawOffset, float maxRollDegrees)
    {
        if (l.IsEmpty) return true;
        float ex = l[2] - l[0], ey = l[3] - l[1], d2 = ex * ex + ey * ey;
        if (d2 < 1e-6f) return false;
        if (MathF.Abs(MathF.Atan2(ey, MathF.Abs(ex)) * 180f / MathF.PI) > maxRollDegrees || ex <= 0) return false;
        float yaw = ((l[4] - l[0]) * ex + (l[5] - l[1]) * ey) / d2;
        if (MathF.Abs(yaw - 0.5f) > maxYawOffset) return false;
        float mx = (l[0] + l[2]) / 2, my = (l[1] + l[3]) / 2;
        float ax = (l[6] + l[8]) / 2 - mx, ay = (l[7] + l[9]) / 2 - my, a2 = ax * ax + ay * ay;
        if (a2 < 1e-6f) return false;
        float pitch = ((l[4] - mx) * ax + (l[5] - my) * ay) / a2;
        return pitch is > 0.15f and < 0.85f;
    }

    /// <summary>Variance of the 4-neighbour Laplacian of luma (G for BGR) over the face, on a grid of at most ~32×32 points.</summary>
    internal static double Sharpness(in FrameView f, int x, int y, int side)
    {
        x = Math.Clamp(x, 0, f.Width - 1); y = Math.Clamp(y, 0, f.Height - 1);
        side = Math.Min(side, Math.Min(f.Width - x, f.Height - y));
        int step = Math.Max(1, side / 32);
        bool bgr = f.Format == PixelFormat.Bgr24;
        int L(in FrameView v, int xx, int yy) => bgr ? v.Plane0[yy * v.Stride0 + 3 * xx + 1] : v.Plane0[yy * v.Stride0 + xx];
        double sum = 0, sum2 = 0; int n = 0;
        for (int yy = y + step; yy < y + side - step; yy += step)
            for (int xx = x + step; xx < x + side - step; xx += step)
            {
                int lap = 4 * L(f, xx, yy) - L(f, xx - step, yy) - L(f, xx + step, yy) - L(f, xx, yy - step) - L(f, xx, yy + step);
                sum += lap; sum2 += (double)lap * lap; n++;
            }
        if (n == 0) return 0;
        double mean = sum / n;
        return sum2 / n - mean * mean;
    }

    public void Dispose()
    {
        _model.Dispose();
        _faces.Dispose();
    }
}
