using System.Globalization;
using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;

namespace Ephemera.Runtime;

/// <summary>
/// A floor heat-map bin as a raw bin table, so it travels the cluster's count-table transport to the
/// collector, which adds the epochs' parts up cell by cell and releases the bin through the same
/// <see cref="ReleaseGate.HeatMap"/> as a single engine (a cell keeps its person-frames only with at
/// least k distinct visits). Columns are cells <c>"x,y"</c> (row-major); rows <c>person_frames</c>,
/// <c>visits</c>, and <c>cell_m:&lt;metres&gt;</c> (all zeros: the grid's cell size in its label).
/// </summary>
public static class HeatMapTable
{
    private const string Frames = "person_frames", Visits = "visits", CellPrefix = "cell_m:";

    /// <summary>Whether the manifest lets heat maps leave the engine (declared, not memory-only), as <see cref="OutputPublisher.Release"/> checks.</summary>
    public static bool Releases(CameraManifest m) => m.Declares(DataClass.HeatMap) && m.DataClasses[DataClass.HeatMap].Storage != StorageKind.Memory;

    /// <summary>The bin as a table.</summary>
    public static RawBinTable From(FloorHeatMapBin h, DateTimeOffset epochUtc)
    {
        var map = h.Map;
        var cols = new List<string>(map.CellsX * map.CellsY);
        for (int cy = 0; cy < map.CellsY; cy++)
            for (int cx = 0; cx < map.CellsX; cx++) cols.Add($"{cx},{cy}");
        var counts = new int[3, cols.Count];
        for (int i = 0; i < cols.Count; i++)
        {
            counts[0, i] = (int)Math.Min(int.MaxValue, map.PersonFrames[i]);
            counts[1, i] = h.Tracks[i];
        }
        return new RawBinTable(DataClass.HeatMap, epochUtc.AddSeconds(h.BinStartSeconds),
            [Frames, Visits, CellPrefix + map.CellMetres.ToString("R", CultureInfo.InvariantCulture)], cols, counts);
    }

    /// <summary>For each cell, how many of the parts (one per owner epoch) saw a visit in it.</summary>
    public static Dictionary<string, int> OwnersPerCell(IEnumerable<RawBinTable> parts)
    {
        var owners = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in parts)
        {
            int row = p.Rows.ToList().IndexOf(Visits);
            if (row < 0) continue;
            for (int i = 0; i < p.Cols.Count; i++)
                if (p.Counts[row, i] > 0) owners[p.Cols[i]] = owners.GetValueOrDefault(p.Cols[i]) + 1;
        }
        return owners;
    }

    /// <summary>
    /// The (merged) table released through the gate. <paramref name="plan"/> draws the zone outlines
    /// over the image as the engine does; without it (unknown to the caller) the image has none.
    /// </summary>
    public static HeatMapRecord Release(CameraManifest m, RawBinTable t, FloorPlan? plan, IReadOnlyDictionary<string, int>? ownersPerCell = null)
    {
        string Bad(string why) => $"camera {m.CameraId}: heat-map table of {t.BinStart:O}: {why}";
        if (t.Class != DataClass.HeatMap || t.Rows.Count != 3 || t.Rows[0] != Frames || t.Rows[1] != Visits || !t.Rows[2].StartsWith(CellPrefix, StringComparison.Ordinal)
            || !double.TryParse(t.Rows[2].AsSpan(CellPrefix.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out double cellMetres) || !(cellMetres > 0))
            throw new EphemeraException(Bad($"rows [{string.Join(", ", t.Rows)}] are not person_frames, visits and one cell size"));
        int cellsX = 0, cellsY = 0;
        foreach (var c in t.Cols)
        {
            var xy = c.Split(',');
            if (xy.Length != 2 || !int.TryParse(xy[0], out int x) || !int.TryParse(xy[1], out int y) || x < 0 || y < 0)
                throw new EphemeraException(Bad($"column {c} is not a cell x,y"));
            cellsX = Math.Max(cellsX, x + 1); cellsY = Math.Max(cellsY, y + 1);
        }
        if ((long)cellsX * cellsY != t.Cols.Count) throw new EphemeraException(Bad($"{t.Cols.Count} cells do not make a {cellsX}×{cellsY} grid"));
        // Back to row-major order by label (a merge of parts keeps labels, not necessarily their order).
        var frames = new long[t.Cols.Count];
        var visits = new int[t.Cols.Count];
        for (int i = 0; i < t.Cols.Count; i++)
        {
            var xy = t.Cols[i].Split(',');
            int cell = int.Parse(xy[1], CultureInfo.InvariantCulture) * cellsX + int.Parse(xy[0], CultureInfo.InvariantCulture);
            // Summed over several owners (a failover), one person in the cell at the hand-over is a visit of each:
            // the gate counts visits ÷ owners of the cell (rounded down), a lower bound on distinct people,
            // so no cell under k leaves however the bin was split.
            int owners = ownersPerCell is not null && ownersPerCell.TryGetValue(t.Cols[i], out int o) ? Math.Max(1, o) : 1;
            frames[cell] = t.Counts[0, i]; visits[cell] = t.Counts[1, i] / owners;
        }
        var drawOn = plan ?? new FloorPlan(cellsX * cellMetres, cellsY * cellMetres);
        return ReleaseGate.HeatMap(m, t.BinStart, cellsX, cellsY, cellMetres, frames, visits,
            gated => new FloorHeatMap(cellsX, cellsY, cellMetres, gated, drawOn).RenderPng());
    }
}
