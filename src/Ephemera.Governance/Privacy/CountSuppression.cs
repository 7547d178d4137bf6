using System.Text.Json;

namespace Ephemera.Governance;

/// <summary>
/// A released count table: cells plus row, column and grand totals, with suppressed entries as null.
/// Entry (i, j) of the extended (Rows+1)×(Cols+1) layout: i == Rows is the column-totals row, j == Cols
/// the row-totals column, (Rows, Cols) the grand total.
/// </summary>
public sealed class SuppressedTable
{
    public int Rows { get; }
    public int Cols { get; }
    public int K { get; }
    /// <summary>Released value of every entry of the extended table (null = suppressed).</summary>
    public int?[,] Extended { get; }
    /// <summary>True where an entry was suppressed because it is itself below k (primary suppression).</summary>
    public bool[,] Primary { get; }

    internal SuppressedTable(int rows, int cols, int k, int?[,] extended, bool[,] primary)
    {
        Rows = rows; Cols = cols; K = k; Extended = extended; Primary = primary;
    }

    public int? Cell(int r, int c) => Extended[r, c];
    public int? RowTotal(int r) => Extended[r, Cols];
    public int? ColTotal(int c) => Extended[Rows, c];
    public int? GrandTotal => Extended[Rows, Cols];
    public int SuppressedCount { get { int n = 0; foreach (var v in Extended) if (v is null) n++; return n; } }

    /// <summary>JSON as stored and exported: <c>{"k":…,"cells":[[…]],"row_totals":[…],"col_totals":[…],"total":…}</c>, null where suppressed.</summary>
    public string ToJson(IReadOnlyList<string>? rowLabels = null, IReadOnlyList<string>? colLabels = null)
    {
        var cells = Enumerable.Range(0, Rows).Select(r => Enumerable.Range(0, Cols).Select(c => Extended[r, c]).ToArray()).ToArray();
        return JsonSerializer.Serialize(new
        {
            k = K, rows = rowLabels, cols = colLabels, cells,
            row_totals = Enumerable.Range(0, Rows).Select(RowTotal).ToArray(),
            col_totals = Enumerable.Range(0, Cols).Select(ColTotal).ToArray(),
            total = GrandTotal,
        }, CanonicalJson.Options);
    }
}

/// <summary>
/// k-anonymity for count and attribute tables (H3), with complementary suppression. A cell or total
/// above 0 and below k is suppressed (primary); more entries are then suppressed until
/// (1) no suppressed entry can be computed exactly from the released cells and totals — in the
///     bipartite graph of rows × columns whose edges are suppressed entries, an entry is determined by
///     the margin equations exactly when its edge is a bridge, so suppression continues until no edge is
///     a bridge (every suppressed entry lies on a cycle), and
/// (2) in every row and column whose total is released, the suppressed entries together hold 0 or at
///     least k, so subtracting the released cells from the total never bounds a hidden group below k.
/// Complementary entries are chosen as the smallest released counts, to lose as little as possible.
/// </summary>
public static class CountSuppression
{
    public static SuppressedTable Suppress(int[,] cells, int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1");
        int rows = cells.GetLength(0), cols = cells.GetLength(1);
        if (rows == 0 || cols == 0) throw new ArgumentException("count table must have at least one row and one column", nameof(cells));
        int R = rows + 1, C = cols + 1;
        var v = new int[R, C];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                if (cells[r, c] < 0) throw new ArgumentException($"count at [{r},{c}] is negative ({cells[r, c]})", nameof(cells));
                v[r, c] = cells[r, c]; v[r, cols] += cells[r, c]; v[rows, c] += cells[r, c]; v[rows, cols] += cells[r, c];
            }
        var hidden = new bool[R, C];
        var primary = new bool[R, C];
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++)
                if (v[r, c] > 0 && v[r, c] < k) hidden[r, c] = primary[r, c] = true;

        while (FixOneViolation(v, hidden, k, rows, cols)) { }

        var released = new int?[R, C];
        for (int r = 0; r < R; r++) for (int c = 0; c < C; c++) released[r, c] = hidden[r, c] ? null : v[r, c];
        return new SuppressedTable(rows, cols, k, released, primary);
    }

    /// <summary>Suppresses one more entry if any rule is broken; false when the table is safe.</summary>
    private static bool FixOneViolation(int[,] v, bool[,] hidden, int k, int rows, int cols)
    {
        int R = rows + 1, C = cols + 1;
        // Rule 2: hidden mass in a line with a released total must be 0 or >= k.
        for (int r = 0; r < R; r++)
        {
            if (hidden[r, cols]) continue;
            int n = 0, sum = 0;
            for (int c = 0; c < cols; c++) if (hidden[r, c]) { n++; sum += v[r, c]; }
            if (n > 0 && (n == 1 || (sum > 0 && sum < k))) { HideInRow(v, hidden, r, cols, k - sum, includeTotal: true); return true; }
        }
        for (int c = 0; c < C; c++)
        {
            if (hidden[rows, c]) continue;
            int n = 0, sum = 0;
            for (int r = 0; r < rows; r++) if (hidden[r, c]) { n++; sum += v[r, c]; }
            if (n > 0 && (n == 1 || (sum > 0 && sum < k))) { HideInCol(v, hidden, c, rows, k - sum, includeTotal: true); return true; }
        }
        // Rule 1: no hidden entry may be a bridge of the rows×columns graph (a bridge is determined exactly).
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++)
            {
                if (!hidden[r, c] || !IsBridge(hidden, r, c)) continue;
                int rowDeg = 0, colDeg = 0;
                for (int j = 0; j < C; j++) if (hidden[r, j]) rowDeg++;
                for (int i = 0; i < R; i++) if (hidden[i, c]) colDeg++;
                if (rowDeg == 1) { HideInRow(v, hidden, r, C - 1, 1, includeTotal: true, exceptCol: c); return true; }
                if (colDeg == 1) { HideInCol(v, hidden, c, R - 1, 1, includeTotal: true, exceptRow: r); return true; }
                // Both ends have other hidden entries: close a 4-cycle r–c–r2–c2.
                int c2 = Enumerable.Range(0, C).First(j => j != c && hidden[r, j]);
                int r2 = Enumerable.Range(0, R).First(i => i != r && hidden[i, c]);
                hidden[r2, c2] = true;
                return true;
            }
        // Rule 3: no group of hidden entries within one line whose sum the margins determine may hold a
        // positive count below k (subtraction across several lines can isolate part of a line).
        var leak = DisclosureCheck.FindSmallKnownGroup(v, hidden, k, rows, cols);
        if (leak is { } l)
        {
            int before = CountHidden(hidden);
            if (!AnyReleasedIn(hidden, l.IsRow, l.Index)) HideSmallestReleased(v, hidden);
            else if (l.IsRow) HideInRow(v, hidden, l.Index, C - 1, k, includeTotal: true);
            else HideInCol(v, hidden, l.Index, R - 1, k, includeTotal: true);
            return CountHidden(hidden) > before; // with everything hidden nothing can be determined; never loop
        }
        return false;
    }

    private static int CountHidden(bool[,] hidden)
    {
        int n = 0;
        foreach (bool h in hidden) if (h) n++;
        return n;
    }

    private static bool AnyReleasedIn(bool[,] hidden, bool isRow, int index)
    {
        int R = hidden.GetLength(0), C = hidden.GetLength(1);
        for (int i = 0; i < (isRow ? C : R); i++) if (!(isRow ? hidden[index, i] : hidden[i, index])) return true;
        return false;
    }

    private static void HideSmallestReleased(int[,] v, bool[,] hidden)
    {
        (int R, int C, int V) best = (-1, -1, int.MaxValue);
        for (int r = 0; r < hidden.GetLength(0); r++)
            for (int c = 0; c < hidden.GetLength(1); c++)
                if (!hidden[r, c] && v[r, c] < best.V) best = (r, c, v[r, c]);
        if (best.R >= 0) hidden[best.R, best.C] = true;
    }

    /// <summary>Hides the released entry of row r that best covers <paramref name="need"/>: the smallest value ≥ need, else the largest; positive counts first.</summary>
    private static void HideInRow(int[,] v, bool[,] hidden, int r, int lastCol, int need, bool includeTotal, int exceptCol = -1)
    {
        var cands = new List<(int Col, int Value)>();
        int cols = v.GetLength(1) - 1;
        for (int c = 0; c <= lastCol; c++)
            if (!hidden[r, c] && c != exceptCol && (c < cols || includeTotal)) cands.Add((c, v[r, c]));
        if (cands.Count == 0) return;
        hidden[r, Pick(cands, need, totalIndex: cols)] = true;
    }

    private static void HideInCol(int[,] v, bool[,] hidden, int c, int lastRow, int need, bool includeTotal, int exceptRow = -1)
    {
        var cands = new List<(int Row, int Value)>();
        int rows = v.GetLength(0) - 1;
        for (int r = 0; r <= lastRow; r++)
            if (!hidden[r, c] && r != exceptRow && (r < rows || includeTotal)) cands.Add((r, v[r, c]));
        if (cands.Count == 0) return;
        hidden[Pick(cands, need, totalIndex: rows), c] = true;
    }

    // HideInRow/HideInCol leave the line unchanged when nothing in it is released; the caller then hides elsewhere.
    private static int Pick(List<(int Index, int Value)> cands, int need, int totalIndex)
    {
        // Prefer inner cells over the total, positive counts over zeros, then the smallest value that covers the need.
        var inner = cands.Where(x => x.Index != totalIndex).ToList();
        var pool = inner.Count > 0 ? inner : cands;
        var positive = pool.Where(x => x.Value > 0).ToList();
        if (positive.Count > 0) pool = positive;
        var covering = pool.Where(x => x.Value >= need).OrderBy(x => x.Value).ThenBy(x => x.Index).ToList();
        return covering.Count > 0 ? covering[0].Index : pool.OrderByDescending(x => x.Value).ThenBy(x => x.Index).First().Index;
    }

    /// <summary>True when removing hidden edge (r, c) disconnects row r from column c.</summary>
    private static bool IsBridge(bool[,] hidden, int r0, int c0)
    {
        int R = hidden.GetLength(0), C = hidden.GetLength(1);
        var seenRow = new bool[R]; var seenCol = new bool[C];
        var queue = new Queue<(bool IsRow, int Index)>();
        queue.Enqueue((true, r0)); seenRow[r0] = true;
        while (queue.Count > 0)
        {
            var (isRow, i) = queue.Dequeue();
            if (isRow)
            {
                for (int c = 0; c < C; c++)
                    if (hidden[i, c] && !(i == r0 && c == c0) && !seenCol[c])
                    {
                        if (c == c0) return false;
                        seenCol[c] = true; queue.Enqueue((false, c));
                    }
            }
            else
            {
                for (int r = 0; r < R; r++)
                    if (hidden[r, i] && !(r == r0 && i == c0) && !seenRow[r]) { seenRow[r] = true; queue.Enqueue((true, r)); }
            }
        }
        return true;
    }
}

/// <summary>
/// The attacker's linear algebra: the margin equations restricted to hidden entries. A weighted sum of
/// hidden entries is determined by the released data exactly when it is orthogonal to the null space
/// of those equations; each hidden entry is given its coordinates in a null-space basis, so a group's
/// sum is determined when the group's coordinate vectors add up to zero.
/// </summary>
internal static class DisclosureCheck
{
    /// <summary>Lines longer than this are checked for groups of at most <see cref="MaxGroupInLongLine"/> entries.</summary>
    private const int FullSubsetLimit = 12;
    private const int MaxGroupInLongLine = 3;

    public static (bool IsRow, int Index)? FindSmallKnownGroup(int[,] v, bool[,] hidden, int k, int rows, int cols)
    {
        int R = rows + 1, C = cols + 1;
        var vars = new List<(int R, int C)>();
        var index = new Dictionary<(int, int), int>();
        for (int r = 0; r < R; r++) for (int c = 0; c < C; c++) if (hidden[r, c]) { index[(r, c)] = vars.Count; vars.Add((r, c)); }
        if (vars.Count == 0) return null;
        var coords = NullSpaceCoordinates(vars, index, R, C);
        for (int line = 0; line < R + C; line++)
        {
            bool isRow = line < R; int li = isRow ? line : line - R;
            // Groups within the cells of a line (or within the totals row/column), not mixing a line's total.
            var members = new List<int>();
            int len = isRow ? C - 1 : R - 1;
            for (int i = 0; i < len; i++)
            {
                var e = isRow ? (li, i) : (i, li);
                if (index.TryGetValue(e, out int vi)) members.Add(vi);
            }
            if (members.Count == 0) continue;
            int maxSize = members.Count <= FullSubsetLimit ? members.Count : MaxGroupInLongLine;
            foreach (var group in Groups(members, maxSize))
            {
                int sum = 0; bool sensitive = false;
                foreach (int g in group) { var (r, c) = vars[g]; sum += v[r, c]; sensitive |= v[r, c] > 0 && v[r, c] < k; }
                if (!sensitive || sum <= 0 || sum >= k) continue;
                if (IsDetermined(group, coords)) return (isRow, li);
            }
        }
        return null;
    }

    private static bool IsDetermined(List<int> group, double[][] coords)
    {
        int d = coords.Length == 0 ? 0 : coords[0].Length;
        for (int t = 0; t < d; t++)
        {
            double s = 0;
            foreach (int g in group) s += coords[g][t];
            if (Math.Abs(s) > 1e-9) return false;
        }
        return true;
    }

    private static IEnumerable<List<int>> Groups(List<int> members, int maxSize)
    {
        var current = new List<int>();
        IEnumerable<List<int>> Rec(int start)
        {
            if (current.Count > 0) yield return new List<int>(current);
            if (current.Count == maxSize) yield break;
            for (int i = start; i < members.Count; i++)
            {
                current.Add(members[i]);
                foreach (var g in Rec(i + 1)) yield return g;
                current.RemoveAt(current.Count - 1);
            }
        }
        return Rec(0);
    }

    /// <summary>Coordinates of each hidden variable in a basis of the null space of the margin equations.</summary>
    private static double[][] NullSpaceCoordinates(List<(int R, int C)> vars, Dictionary<(int, int), int> index, int R, int C)
    {
        int n = vars.Count;
        var eqs = new List<double[]>();
        for (int r = 0; r < R; r++)
        {
            var e = new double[n];
            for (int c = 0; c < C; c++) if (index.TryGetValue((r, c), out int i)) e[i] += c == C - 1 ? -1 : 1;
            eqs.Add(e);
        }
        for (int c = 0; c < C; c++)
        {
            var e = new double[n];
            for (int r = 0; r < R; r++) if (index.TryGetValue((r, c), out int i)) e[i] += r == R - 1 ? -1 : 1;
            eqs.Add(e);
        }
        // Reduced row echelon form.
        var pivotOfRow = new List<int>();
        int row = 0;
        for (int col = 0; col < n && row < eqs.Count; col++)
        {
            int p = -1;
            for (int i = row; i < eqs.Count; i++) if (Math.Abs(eqs[i][col]) > 1e-9) { p = i; break; }
            if (p < 0) continue;
            (eqs[row], eqs[p]) = (eqs[p], eqs[row]);
            double s = eqs[row][col];
            for (int j = 0; j < n; j++) eqs[row][j] /= s;
            for (int i = 0; i < eqs.Count; i++)
            {
                if (i == row) continue;
                double f = eqs[i][col];
                if (Math.Abs(f) > 1e-12) for (int j = 0; j < n; j++) eqs[i][j] -= f * eqs[row][j];
            }
            pivotOfRow.Add(col); row++;
        }
        var isPivot = new bool[n];
        foreach (int pc in pivotOfRow) isPivot[pc] = true;
        var free = Enumerable.Range(0, n).Where(j => !isPivot[j]).ToArray();
        var coords = new double[n][];
        for (int j = 0; j < n; j++) coords[j] = new double[free.Length];
        for (int t = 0; t < free.Length; t++)
        {
            coords[free[t]][t] = 1;
            for (int r = 0; r < pivotOfRow.Count; r++) coords[pivotOfRow[r]][t] = -eqs[r][free[t]];
        }
        return coords;
    }
}
