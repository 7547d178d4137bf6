using Ephemera.Core;
using Ephemera.Inference;
using Ephemera.Inference.Postprocess;

namespace Ephemera.Cli.Verbs;

/// <summary>
/// <c>detect --tiles N</c>: runs the detector on N side-by-side crops of the frame (views into the
/// same pooled planes, no pixel copy), each overlapping its neighbour by 15% of the frame width, and
/// merges them: a box cut by a tile's inner edge is dropped when the neighbouring tile sees that
/// object whole, then class-aware NMS over the union. Each tile is letterboxed into the model's
/// input on its own, so small, distant objects get N times fewer pixels per tensor cell.
/// Scratch is reused across frames.
/// </summary>
internal sealed class FrameTiler(int tiles, float nmsIoU)
{
    private const float OverlapFraction = 0.15f, EdgePx = 2f;
    private readonly Detections _tile = new();
    private readonly CandidateBoxes _candidates = new();
    private readonly NonMaxSuppression _nms = new();
    private int[] _kept = new int[1024];

    public void Detect(ObjectDetector detector, in FrameView frame, Detections output)
    {
        int w = frame.Width;
        int overlap = (int)(w * OverlapFraction) & ~1;
        int tw = ((w + (tiles - 1) * overlap + tiles - 1) / tiles + 1) & ~1; // even: chroma planes are half width
        _candidates.Clear();
        for (int t = 0; t < tiles; t++)
        {
            int x0 = Math.Min(t * (tw - overlap), w - tw) & ~1;
            int x1 = Math.Min(x0 + tw, w);
            detector.Detect(Crop(frame, x0, x1 - x0), _tile);
            for (int i = 0; i < _tile.Count; i++)
            {
                var b = _tile.Boxes[i];
                float bx1 = b.X + x0, bx2 = b.Right + x0;
                // Cut by an inner edge while the neighbour holds it whole (it lies inside the overlap): drop.
                if (t > 0 && b.X <= EdgePx && bx2 <= x0 + overlap) continue;
                if (t < tiles - 1 && b.Right >= x1 - x0 - EdgePx && bx1 >= x1 - overlap) continue;
                _candidates.Add(bx1, b.Y, bx2, b.Bottom, _tile.Scores[i], _tile.ClassIds[i]);
            }
        }
        if (_kept.Length < _candidates.Count) _kept = new int[_candidates.Count * 2];
        int n = _nms.Run(_candidates, nmsIoU, classAware: true, _kept);
        output.Clear();
        // Re-read the kept candidates: CandidateBoxes keeps corners, Detections wants x, y, w, h.
        for (int k = 0; k < n; k++)
        {
            var (x1, y1, x2, y2, score, cls) = _candidates.Get(_kept[k]);
            output.Add(BoxF.FromCorners(x1, y1, x2, y2), score, cls);
        }
    }

    /// <summary>A view of columns [x, x + width) of <paramref name="f"/> (x and width even for the 4:2:0 formats).</summary>
    private static FrameView Crop(in FrameView f, int x, int width) => f.Format switch
    {
        PixelFormat.Yuv420P => new FrameView(width, f.Height, f.Format, f.Plane0[x..], f.Stride0, f.Plane1[(x / 2)..], f.Stride1, f.Plane2[(x / 2)..], f.Stride2, f.FullRange),
        PixelFormat.Nv12 => new FrameView(width, f.Height, f.Format, f.Plane0[x..], f.Stride0, f.Plane1[x..], f.Stride1, default, 0, f.FullRange),
        PixelFormat.Bgr24 => new FrameView(width, f.Height, f.Format, f.Plane0[(3 * x)..], f.Stride0, fullRange: f.FullRange),
        PixelFormat.Gray8 => new FrameView(width, f.Height, f.Format, f.Plane0[x..], f.Stride0, fullRange: f.FullRange),
        _ => throw new EphemeraException($"--tiles: pixel format {f.Format} is not supported"),
    };
}
