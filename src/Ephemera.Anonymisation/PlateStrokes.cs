using System.Runtime.InteropServices;
using Ephemera.Core;

namespace Ephemera.Anonymisation;

/// <summary>
/// A plate finder that needs no vehicle box and no neural network (<see cref="AnonymiseOptions.PlateStrokeSearch"/>):
/// a plate is a short row of characters, so along each of its rows the horizontal brightness gradient changes
/// sign several times within a few pixels (stroke, gap, stroke), and the plate's own border above and below is
/// plain. Windows of plate shape (2.2:1 and 4:1, heights from 8 px up to 6 % of the frame) whose core rows hold
/// at least <see cref="MinAlternationsPerRow"/> such sign changes each, with the bands above and below and
/// left and right much quieter, are plate candidates. Measured on car-detection.mp4: all 11 hand-labelled
/// plates (8–12 px tall) found, no candidate on 7 frames without cars (road, lane markings, speckled asphalt);
/// on frames with cars, 2–15 candidates, most on the cars (headlights, wipers, grilles). On a pedestrian street
/// (ADL-Rundle-6) brickwork, shop windows and clothing give 60–180 a frame, which is why the anonymiser keeps
/// only those in vehicles' plate regions unless told otherwise (<see cref="AnonymiseOptions.PlateStrokeWholeFrame"/>).
/// One pass over the luma plane: 2.4 ms at 768×432, 7–15 ms at 1280×720, 15–30 ms at 1920×1080 (best of 7).
/// </summary>
internal static class PlateStrokes
{
    /// <summary>Smallest luma step (over 2 px) that counts as a stroke edge: the 21 × 10 plate of frame 320 has strokes of 20–40 grey levels, blurred.</summary>
    public const int StrokeGradient = 12;
    /// <summary>Two stroke edges of opposite sign at most this far apart (px) are a stroke or a gap between strokes; farther apart they are two objects' outlines.</summary>
    public const int MaxStrokeGap = 6;
    /// <summary>Sign changes per core row a plate window must average (6–8 characters give many more; a lane marking or a car's outline gives 1–2).</summary>
    public const float MinAlternationsPerRow = 2.5f;
    /// <summary>The bands above and below a candidate may hold at most this share of its own density (a plate's border is plain).</summary>
    public const float MaxAboveBelow = 0.4f;
    /// <summary>The bands left and right of a candidate may hold at most this share of its own density.</summary>
    public const float MaxBeside = 0.6f;
    /// <summary>Smallest plate height searched (px): below it, characters are not readable.</summary>
    public const int MinHeight = 8;
    /// <summary>Largest plate height searched, as a share of the frame height (larger plates are found by the text detector).</summary>
    public const float MaxHeightShare = 0.06f;
    /// <summary>A candidate is masked this much larger than the window, about its centre: the window boxes the strokes, the plate is wider.</summary>
    public const float Grow = 1.5f;

    /// <summary>
    /// Bytes of scratch <see cref="Find"/> needs for a <paramref name="w"/> × <paramref name="h"/> frame: two (w+1)×(h+1)
    /// integral images of ints (the stroke map; on the output check, the masked pixels).
    /// </summary>
    public static long ScratchBytes(int w, int h) => 2L * (w + 1) * (h + 1) * sizeof(int) + 64;

    /// <summary>
    /// Adds the plate candidates of the <paramref name="w"/> × <paramref name="h"/> luma plane to <paramref name="into"/>
    /// (grown by <see cref="Grow"/>). <paramref name="scratch"/> (<see cref="ScratchBytes"/>) receives the integral
    /// image of the stroke map, which is pixel-derived: the caller's buffer is a wiped pixel buffer.
    /// On the output check, <paramref name="masked"/> (one byte per pixel, non-zero = under a mask) keeps masked
    /// pixels out of the stroke map (a mosaic's cell edges are not characters), and a window whose bands around it
    /// touch a mask is not judged again: away from the masks the output is the input, so the first pass has
    /// already judged that window on its real surroundings, and a mask blanking a busy band must not turn the
    /// strokes next to it into a "plate" (that started re-mask spirals and withheld frames).
    /// </summary>
    public static void Find(ReadOnlySpan<byte> y, int stride, int w, int h, Span<byte> scratch, List<BoxF> into, ReadOnlySpan<byte> masked = default)
    {
        int iw = w + 1;
        int plane = (w + 1) * (h + 1) * sizeof(int);
        var I = MemoryMarshal.Cast<byte, int>(scratch[..plane]);
        var M = MemoryMarshal.Cast<byte, int>(scratch.Slice(plane, plane));
        I[..iw].Clear();
        bool hasMask = !masked.IsEmpty;
        if (hasMask)
        {
            M[..iw].Clear();
            for (int j = 0; j < h; j++)
            {
                var m = masked.Slice(j * w, w);
                int acc = 0, at = (j + 1) * iw;
                M[at] = 0;
                for (int i = 0; i < w; i++)
                {
                    acc += m[i] != 0 ? 1 : 0;
                    M[at + i + 1] = M[at - iw + i + 1] + acc;
                }
            }
        }
        for (int j = 0; j < h; j++)
        {
            var row = y.Slice(j * stride, w);
            var m = hasMask ? masked.Slice(j * w, w) : default;
            int acc = 0, last = 0, lastX = int.MinValue / 2, at = (j + 1) * iw;
            I[at] = 0;
            for (int i = 0; i < w; i++)
            {
                if (i > 0 && i < w - 1 && !(hasMask && (m[i - 1] | m[i] | m[i + 1]) != 0))
                {
                    int g = row[i + 1] - row[i - 1];
                    if (g >= StrokeGradient || g <= -StrokeGradient)
                    {
                        int sign = g > 0 ? 1 : -1;
                        if (sign != last && i - lastX <= MaxStrokeGap) acc++;
                        last = sign; lastX = i;
                    }
                }
                else if (hasMask && i > 0 && i < w - 1) last = 0; // a mask breaks the row
                I[at + i + 1] = I[at - iw + i + 1] + acc;
            }
        }

        var found = new List<(float Density, int X, int Y, int W, int H)>();
        int maxH = Math.Max(MinHeight, (int)(h * MaxHeightShare));
        for (float ph = MinHeight; ph <= maxH; ph *= 1.25f)
        {
            int hh = (int)ph, core0 = hh / 5, coreRows = hh - 2 * core0, step = Math.Max(2, hh / 4);
            foreach (float aspect in Aspects)
            {
                int ww = (int)(hh * aspect);
                for (int y0 = 0; y0 + hh <= h; y0 += step)
                    for (int x0 = 0; x0 + ww <= w; x0 += step)
                    {
                        int inside = Sum(I, iw, w, h, x0, y0 + core0, x0 + ww, y0 + hh - core0);
                        if (inside < MinAlternationsPerRow * coreRows) continue;
                        float d = (float)inside / (ww * coreRows);
                        if (Density(I, iw, w, h, x0, y0 - hh / 2, x0 + ww, y0) > MaxAboveBelow * d) continue;
                        if (Density(I, iw, w, h, x0, y0 + hh, x0 + ww, y0 + hh + hh / 2) > MaxAboveBelow * d) continue;
                        if (Density(I, iw, w, h, x0 - ww / 4, y0, x0, y0 + hh) > MaxBeside * d) continue;
                        if (Density(I, iw, w, h, x0 + ww, y0, x0 + ww + ww / 4, y0 + hh) > MaxBeside * d) continue;
                        if (hasMask && Sum(M, iw, w, h, x0 - ww / 4, y0 - hh / 2, x0 + ww + ww / 4, y0 + hh + hh / 2) > 0) continue;
                        found.Add((d, x0, y0, ww, hh));
                    }
            }
        }
        // Strongest first; a window overlapping one already kept is the same plate at another scale or offset.
        found.Sort((a, b) => b.Density.CompareTo(a.Density));
        var kept = new List<(float, int X, int Y, int W, int H)>();
        foreach (var c in found)
        {
            bool overlaps = false;
            foreach (var k in kept)
                if (c.X < k.X + k.W && k.X < c.X + c.W && c.Y < k.Y + k.H && k.Y < c.Y + c.H) { overlaps = true; break; }
            if (overlaps) continue;
            kept.Add(c);
            float gw = c.W * Grow, gh = c.H * Grow;
            into.Add(new BoxF(c.X + c.W / 2f - gw / 2, c.Y + c.H / 2f - gh / 2, gw, gh));
        }
    }

    /// <summary>Plate shapes searched: North American (2:1, with its border 2.2) and European (4.7:1, its characters about 4).</summary>
    private static readonly float[] Aspects = [2.2f, 4f];

    private static int Sum(Span<int> I, int iw, int w, int h, int x0, int y0, int x1, int y1)
    {
        x0 = Math.Clamp(x0, 0, w); x1 = Math.Clamp(x1, 0, w); y0 = Math.Clamp(y0, 0, h); y1 = Math.Clamp(y1, 0, h);
        if (x1 <= x0 || y1 <= y0) return 0;
        return I[y1 * iw + x1] - I[y0 * iw + x1] - I[y1 * iw + x0] + I[y0 * iw + x0];
    }

    /// <summary>Stroke sign changes per pixel in the region clipped to the frame (0 when nothing of it is in the frame).</summary>
    private static float Density(Span<int> I, int iw, int w, int h, int x0, int y0, int x1, int y1)
    {
        int cx0 = Math.Clamp(x0, 0, w), cx1 = Math.Clamp(x1, 0, w), cy0 = Math.Clamp(y0, 0, h), cy1 = Math.Clamp(y1, 0, h);
        if (cx1 <= cx0 || cy1 <= cy0) return 0;
        return (float)Sum(I, iw, w, h, cx0, cy0, cx1, cy1) / ((cx1 - cx0) * (cy1 - cy0));
    }
}
