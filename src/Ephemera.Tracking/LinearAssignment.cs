namespace Ephemera.Tracking;

/// <summary>
/// Minimum-cost rectangular assignment by shortest augmenting paths (Jonker–Volgenant, in the
/// rectangular form of Crouse, IEEE TAES 2016 — the algorithm behind SciPy's
/// <c>linear_sum_assignment</c>). One instance owns its scratch buffers and is reused, so solving
/// allocates nothing once the largest problem size has been seen.
/// </summary>
/// <remarks>The evaluator (Ephemera.Evaluation) uses the same solver for its per-frame matching.</remarks>
public sealed class LinearAssignment
{
    private double[] _u = [], _v = [], _shortest = [], _work = [];
    private int[] _path = [], _col4row = [], _row4col = [], _remaining = [];
    private bool[] _rowSeen = [], _colSeen = [];

    /// <summary>
    /// Solves min Σ cost[r, c] over assignments of every row of the smaller side.
    /// <paramref name="cost"/> is row-major <paramref name="rows"/> × <paramref name="cols"/>.
    /// On return <paramref name="rowToCol"/>[r] is the column of row r, or -1.
    /// </summary>
    public void Solve(ReadOnlySpan<double> cost, int rows, int cols, Span<int> rowToCol)
    {
        if (cost.Length < rows * cols) throw new ArgumentException($"cost has {cost.Length} entries for {rows}x{cols}");
        rowToCol[..rows].Fill(-1);
        if (rows == 0 || cols == 0) return;
        bool transpose = rows > cols;
        int nr = transpose ? cols : rows, nc = transpose ? rows : cols;
        EnsureCapacity(nr, nc);
        var c = _work.AsSpan(0, nr * nc);
        if (transpose)
        {
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < cols; k++) c[k * rows + r] = cost[r * cols + k];
        }
        else cost[..(rows * cols)].CopyTo(c);
        SolveWide(c, nr, nc);
        if (transpose)
        {
            for (int k = 0; k < nr; k++) if (_col4row[k] >= 0) rowToCol[_col4row[k]] = k;
        }
        else
        {
            for (int r = 0; r < nr; r++) rowToCol[r] = _col4row[r];
        }
    }

    /// <summary>
    /// Solves with a cost limit: a pair costing ≥ <paramref name="limit"/> is never matched, and a
    /// match is only made when it lowers Σ (cost − limit). Clamping to the limit is equivalent to
    /// ByteTrack's <c>lapjv(extend_cost=True, cost_limit)</c> for this rectangular solver: a row
    /// "assigned" at the limit is a row left unmatched.
    /// </summary>
    public void SolveWithLimit(Span<double> cost, int rows, int cols, double limit, Span<int> rowToCol)
    {
        var c = cost[..(rows * cols)];
        for (int i = 0; i < c.Length; i++) if (!(c[i] < limit)) c[i] = limit; // NaN counts as over the limit
        Solve(c, rows, cols, rowToCol);
        for (int r = 0; r < rows; r++)
            if (rowToCol[r] >= 0 && !(c[r * cols + rowToCol[r]] < limit)) rowToCol[r] = -1;
    }

    private void EnsureCapacity(int nr, int nc)
    {
        if (_work.Length < nr * nc) _work = new double[Math.Max(nr * nc, _work.Length * 2)];
        if (_u.Length < nr) { _u = new double[nr * 2]; _col4row = new int[nr * 2]; _rowSeen = new bool[nr * 2]; }
        if (_v.Length < nc)
        {
            _v = new double[nc * 2]; _shortest = new double[nc * 2]; _path = new int[nc * 2];
            _row4col = new int[nc * 2]; _remaining = new int[nc * 2]; _colSeen = new bool[nc * 2];
        }
    }

    /// <summary>Core solver for nr ≤ nc; every row gets a column.</summary>
    private void SolveWide(Span<double> cost, int nr, int nc)
    {
        var u = _u.AsSpan(0, nr); var v = _v.AsSpan(0, nc);
        var col4row = _col4row.AsSpan(0, nr); var row4col = _row4col.AsSpan(0, nc);
        u.Clear(); v.Clear(); col4row.Fill(-1); row4col.Fill(-1);
        var shortest = _shortest.AsSpan(0, nc); var path = _path.AsSpan(0, nc);
        var remaining = _remaining.AsSpan(0, nc);
        var rowSeen = _rowSeen.AsSpan(0, nr); var colSeen = _colSeen.AsSpan(0, nc);

        for (int curRow = 0; curRow < nr; curRow++)
        {
            // Dijkstra-like search for the cheapest augmenting path from curRow to a free column.
            double minVal = 0;
            int numRemaining = nc;
            for (int it = 0; it < nc; it++) remaining[it] = nc - it - 1;
            rowSeen.Clear(); colSeen.Clear(); shortest.Fill(double.PositiveInfinity);
            int sink = -1, i = curRow;
            while (sink == -1)
            {
                int index = -1;
                double lowest = double.PositiveInfinity;
                rowSeen[i] = true;
                for (int it = 0; it < numRemaining; it++)
                {
                    int j = remaining[it];
                    double r = minVal + cost[i * nc + j] - u[i] - v[j];
                    if (r < shortest[j]) { path[j] = i; shortest[j] = r; }
                    if (shortest[j] < lowest || (shortest[j] == lowest && row4col[j] == -1))
                    {
                        lowest = shortest[j]; index = it;
                    }
                }
                minVal = lowest;
                if (index < 0 || double.IsPositiveInfinity(minVal))
                    throw new InvalidOperationException("assignment infeasible (infinite costs)");
                int col = remaining[index];
                if (row4col[col] == -1) sink = col; else i = row4col[col];
                colSeen[col] = true;
                remaining[index] = remaining[--numRemaining];
            }
            // Update the dual variables, then augment along the path.
            u[curRow] += minVal;
            for (int r = 0; r < nr; r++)
                if (rowSeen[r] && r != curRow) u[r] += minVal - shortest[col4row[r]];
            for (int j = 0; j < nc; j++)
                if (colSeen[j]) v[j] -= minVal - shortest[j];
            int jj = sink;
            while (true)
            {
                int r = path[jj];
                row4col[jj] = r;
                (col4row[r], jj) = (jj, col4row[r]);
                if (r == curRow) break;
            }
        }
    }
}
