using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>
/// A plane-to-plane projective mapping (3×3, h33 = 1), used to take image points (pixels) to the
/// floor plan (metres). Estimated from ≥ 4 calibration pairs with the normalised DLT (Hartley &amp;
/// Zisserman, Alg. 4.2): both point sets are shifted to their centroid and scaled to mean distance
/// √2, the 2n×8 linear system is solved in the least-squares sense through its 8×8 normal equations
/// (Gaussian elimination, partial pivoting), and the result is denormalised. Immutable.
/// </summary>
public sealed class Homography
{
    private readonly double[] _h; // row-major 3×3

    /// <summary>Row-major 3×3 matrix (copy), scaled so that the last element is 1.</summary>
    public double[] Matrix => (double[])_h.Clone();

    public Homography(ReadOnlySpan<double> rowMajor3x3)
    {
        if (rowMajor3x3.Length != 9) throw new EphemeraException($"homography: expected 9 numbers, got {rowMajor3x3.Length}");
        double s = rowMajor3x3[8];
        if (s == 0 || !double.IsFinite(s)) throw new EphemeraException("homography: the last element must be finite and non-zero");
        _h = new double[9];
        for (int i = 0; i < 9; i++)
        {
            _h[i] = rowMajor3x3[i] / s;
            if (!double.IsFinite(_h[i])) throw new EphemeraException("homography: elements must be finite");
        }
        double det = _h[0] * (_h[4] * _h[8] - _h[5] * _h[7]) - _h[1] * (_h[3] * _h[8] - _h[5] * _h[6]) + _h[2] * (_h[3] * _h[7] - _h[4] * _h[6]);
        if (Math.Abs(det) < 1e-15) throw new EphemeraException("homography: the matrix is singular");
    }

    /// <summary>Maps an image point to the floor; NaN coordinates when the point maps to infinity (on the horizon).</summary>
    public Point2 Map(Point2 p)
    {
        double w = _h[6] * p.X + _h[7] * p.Y + _h[8];
        if (Math.Abs(w) < 1e-12) return new Point2(double.NaN, double.NaN);
        return new Point2((_h[0] * p.X + _h[1] * p.Y + _h[2]) / w, (_h[3] * p.X + _h[4] * p.Y + _h[5]) / w);
    }

    /// <summary>
    /// Estimates the homography taking <paramref name="image"/>[i] to <paramref name="floor"/>[i].
    /// Throws <see cref="EphemeraException"/> for fewer than 4 pairs, non-finite coordinates, three
    /// collinear points among exactly four, all points on one line, or an ill-conditioned system.
    /// </summary>
    public static Homography FromPointPairs(IReadOnlyList<Point2> image, IReadOnlyList<Point2> floor)
    {
        if (image.Count != floor.Count) throw new EphemeraException($"homography: {image.Count} image points but {floor.Count} floor points");
        int n = image.Count;
        if (n < 4) throw new EphemeraException($"homography: needs at least 4 calibration point pairs, got {n}");
        for (int i = 0; i < n; i++)
            if (!double.IsFinite(image[i].X) || !double.IsFinite(image[i].Y) || !double.IsFinite(floor[i].X) || !double.IsFinite(floor[i].Y))
                throw new EphemeraException($"homography: calibration pair {i + 1} has a non-finite coordinate");
        CheckSpread(image, "image"); CheckSpread(floor, "floor");

        var (ti, ni) = Normalise(image);
        var (tf, nf) = Normalise(floor);
        // Rows of A h = b with h = (h11..h32), h33 = 1:
        //   [x y 1 0 0 0 -u·x -u·y] h = u ;  [0 0 0 x y 1 -v·x -v·y] h = v
        var ata = new double[8, 8];
        var atb = new double[8];
        Span<double> row = stackalloc double[8];
        for (int i = 0; i < n; i++)
        {
            double x = ni[i].X, y = ni[i].Y, u = nf[i].X, v = nf[i].Y;
            row.Clear(); row[0] = x; row[1] = y; row[2] = 1; row[6] = -u * x; row[7] = -u * y;
            Accumulate(ata, atb, row, u);
            row.Clear(); row[3] = x; row[4] = y; row[5] = 1; row[6] = -v * x; row[7] = -v * y;
            Accumulate(ata, atb, row, v);
        }
        var h = Solve8(ata, atb);
        var hn = new double[] { h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1 };
        // H = Tf⁻¹ · Hn · Ti
        var result = Mul(Mul(Inverse(tf), hn), ti);
        return new Homography(result);
    }

    private static void Accumulate(double[,] ata, double[] atb, ReadOnlySpan<double> row, double rhs)
    {
        for (int r = 0; r < 8; r++)
        {
            if (row[r] == 0) continue;
            for (int c = 0; c < 8; c++) ata[r, c] += row[r] * row[c];
            atb[r] += row[r] * rhs;
        }
    }

    /// <summary>Gaussian elimination with partial pivoting; rejects a (near-)singular system.</summary>
    private static double[] Solve8(double[,] a, double[] b)
    {
        const int N = 8;
        double scale = 0;
        for (int i = 0; i < N; i++) scale = Math.Max(scale, Math.Abs(a[i, i]));
        for (int col = 0; col < N; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < N; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            if (Math.Abs(a[pivot, col]) < 1e-10 * scale)
                throw new EphemeraException("homography: calibration points are degenerate (the linear system is singular); use 4+ points spread over the floor, no three on one line");
            if (pivot != col)
            {
                for (int c = 0; c < N; c++) (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
                (b[col], b[pivot]) = (b[pivot], b[col]);
            }
            for (int r = col + 1; r < N; r++)
            {
                double f = a[r, col] / a[col, col];
                if (f == 0) continue;
                for (int c = col; c < N; c++) a[r, c] -= f * a[col, c];
                b[r] -= f * b[col];
            }
        }
        var x = new double[N];
        for (int r = N - 1; r >= 0; r--)
        {
            double s = b[r];
            for (int c = r + 1; c < N; c++) s -= a[r, c] * x[c];
            x[r] = s / a[r, r];
        }
        return x;
    }

    /// <summary>Rejects point sets that cannot define a homography: all on one line, or (for exactly
    /// four) any three on one line.</summary>
    private static void CheckSpread(IReadOnlyList<Point2> pts, string which)
    {
        double size = 0;
        for (int i = 0; i < pts.Count; i++) for (int j = i + 1; j < pts.Count; j++) size = Math.Max(size, Point2.Distance(pts[i], pts[j]));
        if (size == 0) throw new EphemeraException($"homography: all {which} points are the same point");
        double tol = 1e-9 * size * size;
        bool anyNonCollinearTriple = false;
        for (int i = 0; i < pts.Count; i++)
            for (int j = i + 1; j < pts.Count; j++)
                for (int k = j + 1; k < pts.Count; k++)
                {
                    bool collinear = Math.Abs(Point2.Cross(pts[j] - pts[i], pts[k] - pts[i])) <= tol;
                    if (collinear && pts.Count == 4)
                        throw new EphemeraException($"homography: {which} points {i + 1}, {j + 1} and {k + 1} are collinear; four calibration points must have no three on one line");
                    anyNonCollinearTriple |= !collinear;
                }
        if (!anyNonCollinearTriple) throw new EphemeraException($"homography: all {which} points lie on one line");
    }

    private static (double[] T, Point2[] Normalised) Normalise(IReadOnlyList<Point2> pts)
    {
        double cx = 0, cy = 0;
        foreach (var p in pts) { cx += p.X; cy += p.Y; }
        cx /= pts.Count; cy /= pts.Count;
        double meanDist = 0;
        foreach (var p in pts) meanDist += Math.Sqrt((p.X - cx) * (p.X - cx) + (p.Y - cy) * (p.Y - cy));
        meanDist /= pts.Count;
        double s = Math.Sqrt(2) / meanDist;
        var t = new double[] { s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1 };
        var n = new Point2[pts.Count];
        for (int i = 0; i < n.Length; i++) n[i] = new Point2(s * (pts[i].X - cx), s * (pts[i].Y - cy));
        return (t, n);
    }

    private static double[] Mul(double[] a, double[] b)
    {
        var r = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
        return r;
    }

    // Inverse of a similarity normalisation [s 0 tx; 0 s ty; 0 0 1].
    private static double[] Inverse(double[] t) => [1 / t[0], 0, -t[2] / t[0], 0, 1 / t[4], -t[5] / t[4], 0, 0, 1];

    /// <summary>Parses <c>ix,iy,fx,fy;ix,iy,fx,fy;…</c> (image pixels → floor metres).</summary>
    public static Homography Parse(string text)
    {
        var image = new List<Point2>(); var floor = new List<Point2>();
        foreach (var pair in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var n = Numbers.ParseList(pair, "calibration pair");
            if (n.Length != 4) throw new EphemeraException($"calibration pair '{pair}': expected ix,iy,fx,fy");
            image.Add(new Point2(n[0], n[1])); floor.Add(new Point2(n[2], n[3]));
        }
        return FromPointPairs(image, floor);
    }
}
