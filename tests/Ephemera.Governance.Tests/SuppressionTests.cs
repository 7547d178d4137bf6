using CsCheck;
using Ephemera.Governance;

namespace Ephemera.Governance.Tests;

public class SuppressionTests
{
    /// <summary>
    /// The attacker's view, built independently of the library: the released entries and the margin
    /// equations of the extended table (each row: cells − row total = 0; each column likewise).
    /// A linear combination c·x of hidden entries is learnt exactly iff c lies in the row space of the
    /// equations restricted to hidden entries.
    /// </summary>
    private sealed class AttackerView
    {
        private readonly List<double[]> _basis = new(); // reduced rows over hidden unknowns
        private readonly List<int> _pivots = new();
        public readonly List<(int R, int C)> Hidden = new();
        private readonly Dictionary<(int, int), int> _index = new();

        public AttackerView(SuppressedTable t)
        {
            int R = t.Rows + 1, C = t.Cols + 1;
            for (int r = 0; r < R; r++) for (int c = 0; c < C; c++) if (t.Extended[r, c] is null) { _index[(r, c)] = Hidden.Count; Hidden.Add((r, c)); }
            for (int r = 0; r < R; r++) AddEquation(Enumerable.Range(0, C).Select(c => (r, c, c == C - 1 ? -1.0 : 1.0)));
            for (int c = 0; c < C; c++) AddEquation(Enumerable.Range(0, R).Select(r => (r, c, r == R - 1 ? -1.0 : 1.0)));
        }

        private void AddEquation(IEnumerable<(int R, int C, double Coef)> terms)
        {
            var v = new double[Hidden.Count];
            foreach (var (r, c, coef) in terms) if (_index.TryGetValue((r, c), out int i)) v[i] += coef;
            Reduce(v);
            int p = Array.FindIndex(v, x => Math.Abs(x) > 1e-9);
            if (p < 0) return;
            double s = v[p]; for (int i = 0; i < v.Length; i++) v[i] /= s;
            for (int b = 0; b < _basis.Count; b++) // keep the basis fully reduced
            {
                double f = _basis[b][p];
                if (Math.Abs(f) > 1e-12) for (int i = 0; i < v.Length; i++) _basis[b][i] -= f * v[i];
            }
            _basis.Add(v); _pivots.Add(p);
        }

        private void Reduce(double[] v)
        {
            for (int b = 0; b < _basis.Count; b++)
            {
                double f = v[_pivots[b]];
                if (Math.Abs(f) > 1e-12) for (int i = 0; i < v.Length; i++) v[i] -= f * _basis[b][i];
            }
        }

        /// <summary>True when the sum of the given hidden entries is determined by the released data.</summary>
        public bool SumIsKnown(IEnumerable<(int R, int C)> entries)
        {
            var v = new double[Hidden.Count];
            foreach (var e in entries) v[_index[e]] = 1;
            Reduce(v);
            return v.All(x => Math.Abs(x) < 1e-9);
        }
    }

    private static readonly Gen<(int[,] Cells, int K)> Tables =
        from rows in Gen.Int[1, 5]
        from cols in Gen.Int[1, 5]
        from values in Gen.Frequency((3, Gen.Int[0, 6]), (2, Gen.Int[0, 40])).Array[rows * cols]
        from k in Gen.Int[2, 10]
        select (Build(rows, cols, values), k);

    private static int[,] Build(int rows, int cols, int[] values)
    {
        var t = new int[rows, cols];
        for (int i = 0; i < values.Length; i++) t[i / cols, i % cols] = values[i];
        return t;
    }

    private static int Value(int[,] cells, int r, int c)
    {
        int rows = cells.GetLength(0), cols = cells.GetLength(1), s = 0;
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++)
            if ((r == rows || r == i) && (c == cols || c == j)) s += cells[i, j];
        return s;
    }

    [Fact]
    public void No_released_table_lets_a_cell_below_k_be_recovered()
    {
        Tables.Sample(input =>
        {
            var (cells, k) = input;
            var t = CountSuppression.Suppress(cells, k);
            int R = t.Rows + 1, C = t.Cols + 1;
            for (int r = 0; r < R; r++)
                for (int c = 0; c < C; c++)
                {
                    int v = Value(cells, r, c);
                    if (t.Extended[r, c] is { } released && released != v) throw new Exception($"released [{r},{c}] = {released}, true {v}");
                    if (v > 0 && v < k && t.Extended[r, c] is not null) throw new Exception($"[{r},{c}] = {v} < k = {k} was released");
                }
            var view = new AttackerView(t);
            // 1. No hidden entry is determined exactly (subtraction along any chain of margins).
            foreach (var h in view.Hidden)
                if (view.SumIsKnown([h])) throw new Exception($"hidden [{h.R},{h.C}] = {Value(cells, h.R, h.C)} is recoverable (k = {k})");
            // 2. No combination of hidden entries within one row or column that the attacker can compute
            //    (e.g. total minus released cells) holds a positive count below k.
            foreach (var line in Lines(R, C))
            {
                var hidden = line.Where(e => t.Extended[e.R, e.C] is null).ToList();
                foreach (var subset in Subsets(hidden))
                {
                    int sum = subset.Sum(e => Value(cells, e.R, e.C));
                    if (sum > 0 && sum < k && subset.Any(e => t.Primary[e.R, e.C]) && view.SumIsKnown(subset))
                        throw new Exception($"hidden entries {string.Join(" ", subset)} sum to {sum} < k = {k} and the sum is recoverable");
                }
            }
        }, iter: 400, seed: null);
    }

    private static IEnumerable<List<(int R, int C)>> Lines(int R, int C)
    {
        for (int r = 0; r < R - 1; r++) yield return Enumerable.Range(0, C - 1).Select(c => (r, c)).ToList(); // cells of a row (not its total)
        for (int c = 0; c < C - 1; c++) yield return Enumerable.Range(0, R - 1).Select(r => (r, c)).ToList();
        yield return Enumerable.Range(0, R - 1).Select(r => (r, C - 1)).ToList(); // row totals
        yield return Enumerable.Range(0, C - 1).Select(c => (R - 1, c)).ToList(); // column totals
    }

    private static IEnumerable<List<(int R, int C)>> Subsets(List<(int R, int C)> items)
    {
        int n = Math.Min(items.Count, 10);
        for (int mask = 1; mask < 1 << n; mask++)
            yield return Enumerable.Range(0, n).Where(i => (mask & (1 << i)) != 0).Select(i => items[i]).ToList();
    }

    [Fact]
    public void A_single_small_cell_pulls_a_second_cell_in_its_row_and_column()
    {
        var t = CountSuppression.Suppress(new[,] { { 20, 3, 15 }, { 12, 30, 18 } }, 5);
        Assert.Null(t.Cell(0, 1));
        Assert.True(t.SuppressedCount >= 4); // a 4-cycle at least
        Assert.Equal(98, t.GrandTotal);
        Assert.Contains("\"k\":5", t.ToJson());
    }

    [Fact]
    public void Table_without_small_cells_is_released_whole()
    {
        var t = CountSuppression.Suppress(new[,] { { 20, 0, 15 }, { 12, 30, 18 } }, 5);
        Assert.Equal(0, t.SuppressedCount);
    }
}

public class UnicityTests
{
    [Fact]
    public void Identical_trajectories_are_never_unique_and_disjoint_ones_always()
    {
        var same = Enumerable.Range(0, 10).Select(_ => new Trajectory([new(0, 0, 1), new(1, 1, 2), new(2, 2, 3), new(3, 3, 4), new(4, 4, 5)])).ToList();
        Assert.Equal(0, UnicityTest.Unicity(same, new Random(3)));
        var disjoint = Enumerable.Range(0, 10).Select(i => new Trajectory([new(i, 0, 1), new(i, 1, 2), new(i, 2, 3), new(i, 3, 4)])).ToList();
        Assert.Equal(1, UnicityTest.Unicity(disjoint, new Random(3)));
    }

    [Fact]
    public void Coarser_grids_lower_unicity()
    {
        var rng = new Random(7);
        var t0 = DateTimeOffset.UnixEpoch;
        var raw = Enumerable.Range(0, 200).Select(_ =>
        {
            double x = rng.NextDouble() * 30, y = rng.NextDouble() * 18;
            return (IReadOnlyList<(double, double, DateTimeOffset)>)Enumerable.Range(0, 40).Select(s =>
            {
                x = Math.Clamp(x + rng.NextDouble() * 2 - 1, 0, 30); y = Math.Clamp(y + rng.NextDouble() * 2 - 1, 0, 18);
                return (x, y, t0.AddSeconds(s * 5));
            }).ToList();
        }).ToList();
        double fine = UnicityTest.Unicity(raw.Select(r => TrajectoryCoarsener.Coarsen(r, 0.5, TimeSpan.FromSeconds(5), TimeSpan.Zero)).ToList(), new Random(1));
        double coarse = UnicityTest.Unicity(raw.Select(r => TrajectoryCoarsener.Coarsen(r, 10, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(20))).ToList(), new Random(1));
        Assert.True(fine > 0.9, $"fine unicity {fine}");
        Assert.True(coarse < fine / 2, $"coarse {coarse} vs fine {fine}");
    }

    [Fact]
    public void Coarsening_trims_entry_and_exit()
    {
        var t0 = DateTimeOffset.UnixEpoch;
        var raw = Enumerable.Range(0, 10).Select(i => ((double)i * 3, 0.0, t0.AddSeconds(i * 10))).ToList();
        var t = TrajectoryCoarsener.Coarsen(raw, 3, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20));
        Assert.Equal(Enumerable.Range(2, 6).ToArray(), t.Points.Select(p => p.CellX).ToArray());
    }
}
