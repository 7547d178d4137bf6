namespace Ephemera.Tracking.Tests;

public class LinearAssignmentTests
{
    [Theory]
    [InlineData(1, 1)] [InlineData(3, 3)] [InlineData(4, 6)] [InlineData(6, 4)] [InlineData(7, 7)] [InlineData(2, 7)]
    public void MatchesBruteForceOptimum(int rows, int cols)
    {
        var rng = new Random(rows * 31 + cols);
        var lap = new LinearAssignment();
        for (int trial = 0; trial < 30; trial++)
        {
            var cost = new double[rows * cols];
            for (int i = 0; i < cost.Length; i++) cost[i] = rng.Next(0, 20) / 4.0; // ties on purpose
            var rowToCol = new int[rows];
            lap.Solve(cost, rows, cols, rowToCol);
            double total = 0;
            var used = new HashSet<int>();
            for (int r = 0; r < rows; r++)
            {
                if (rowToCol[r] < 0) continue;
                Assert.True(used.Add(rowToCol[r]), "column used twice");
                total += cost[r * cols + rowToCol[r]];
            }
            Assert.Equal(Math.Min(rows, cols), used.Count);
            Assert.Equal(BruteForce(cost, rows, cols), total, 9);
        }
    }

    [Fact]
    public void LimitLeavesExpensivePairsUnmatched()
    {
        // Row 0 fits column 0 well; row 1's only affordable column is also 0, at a higher cost.
        double[] cost = [0.1, 0.95, 0.5, 0.99];
        var rowToCol = new int[2];
        new LinearAssignment().SolveWithLimit(cost, 2, 2, 0.8, rowToCol);
        Assert.Equal([0, -1], rowToCol);
    }

    [Fact]
    public void EmptyProblemsAssignNothing()
    {
        var rowToCol = new int[3];
        new LinearAssignment().Solve(ReadOnlySpan<double>.Empty, 3, 0, rowToCol);
        Assert.Equal([-1, -1, -1], rowToCol);
    }

    /// <summary>Minimum over all injective maps of the smaller side (small sizes only).</summary>
    private static double BruteForce(double[] cost, int rows, int cols)
    {
        double best = double.PositiveInfinity;
        var used = new bool[Math.Max(rows, cols)];
        if (rows <= cols) Rec(0, 0);
        else RecT(0, 0);
        return best;

        void Rec(int r, double acc)
        {
            if (r == rows) { best = Math.Min(best, acc); return; }
            for (int c = 0; c < cols; c++)
                if (!used[c]) { used[c] = true; Rec(r + 1, acc + cost[r * cols + c]); used[c] = false; }
        }
        void RecT(int c, double acc)
        {
            if (c == cols) { best = Math.Min(best, acc); return; }
            for (int r = 0; r < rows; r++)
                if (!used[r]) { used[r] = true; RecT(c + 1, acc + cost[r * cols + c]); used[r] = false; }
        }
    }
}
