using Ephemera.Core;

namespace Ephemera.Anonymisation;

/// <summary>How much of a box the masks cover: the measure the recall tests and <c>anonymise-eval</c> share.</summary>
internal static class MaskCoverage
{
    /// <summary>
    /// Fraction of <paramref name="b"/> (clipped to the <paramref name="width"/> × <paramref name="height"/>
    /// frame) inside the union of the mask rectangles; 1 for a box wholly outside the frame.
    /// </summary>
    public static double Fraction(BoxF b, IReadOnlyList<(int X0, int Y0, int X1, int Y1)> rects, int width, int height)
    {
        int x0 = Math.Clamp((int)MathF.Floor(b.X), 0, width), y0 = Math.Clamp((int)MathF.Floor(b.Y), 0, height);
        int x1 = Math.Clamp((int)MathF.Ceiling(b.Right), 0, width), y1 = Math.Clamp((int)MathF.Ceiling(b.Bottom), 0, height);
        if (x1 <= x0 || y1 <= y0) return 1;
        long inside = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                foreach (var r in rects)
                    if (x >= r.X0 && x < r.X1 && y >= r.Y0 && y < r.Y1) { inside++; break; }
        return (double)inside / ((long)(x1 - x0) * (y1 - y0));
    }
}
