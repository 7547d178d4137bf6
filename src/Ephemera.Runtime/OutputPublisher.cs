using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;

namespace Ephemera.Runtime;

/// <summary>
/// The first half of the one publishing path: a camera's purpose results become raw bin tables,
/// and each goes through <see cref="ReleaseGate"/> (manifest check, k-suppression) into a released
/// <see cref="DerivedRecord"/>: counts, dwell histograms and transition matrices as k-suppressed
/// tables (complementary suppression), zone occupancy and crowd levels as binned records, floor heat
/// maps with each cell gated on k distinct visits. The
/// <see cref="RecordRouter"/> then hands the records to the store and the other sinks. Bins are
/// the manifest's; bin starts are UTC.
/// </summary>
public static class OutputPublisher
{
    /// <summary>
    /// The released records of <paramref name="r"/>. <paramref name="carry"/> holds raw bins recovered
    /// from a run that crashed: a bin present in both is merged *before* suppression, so only the
    /// merged table is ever released (never the two halves, whose difference could be a count below k).
    /// Trajectories go out only when the manifest opts in and the unicity gate passes; a refused set
    /// is reported to <paramref name="refusedTrajectories"/> and nothing of it is released.
    /// </summary>
    public static List<DerivedRecord> Release(CameraManifest m, PurposeResults r, DateTimeOffset epochUtc, OpenBinCarry? carry = null,
        Action<string>? refusedTrajectories = null)
    {
        string cam = m.CameraId;
        var bin = m.Privacy.TimeBin;
        var records = new List<DerivedRecord>();
        foreach (var t in Tables(m, r, epochUtc))
        {
            var merged = carry?.MergeInto(cam, t) ?? t;
            records.Add(ReleaseGate.CountTable(m, merged.Class, merged.BinStart, merged.Rows, merged.Cols, merged.Counts));
        }

        // Each flush's visits of a bin (by their first stay) go through the unicity gate as one set (CoarseVisit).
        foreach (var g in CoarseVisit.From(m, r, epochUtc).GroupBy(v => v.BinStart).OrderBy(g => g.Key))
        {
            var set = CoarseVisit.Release(m, g.Key, g.ToList(), Random.Shared, out var gate);
            if (set != null) records.Add(set);
            else refusedTrajectories?.Invoke(gate.Reason);
        }

        if (r.Flow?.HeatMaps is { Count: > 0 } heat && HeatMapTable.Releases(m))
        {
            // Each bin's grid goes through the gate (k distinct visits per cell); the PNG is drawn from what the gate released.
            foreach (var h in heat)
                records.Add(ReleaseGate.HeatMap(m, epochUtc.AddSeconds(h.BinStartSeconds), h.Map.CellsX, h.Map.CellsY, h.Map.CellMetres,
                    h.Map.PersonFrames, h.Tracks, gated => (h.Map with { PersonFrames = gated }).RenderPng()));
        }

        if (r.Crowd is { } crowd && m.Declares(DataClass.CrowdLevel))
        {
            var binStart = epochUtc.AddSeconds(Math.Floor(crowd.TimeSeconds / bin.TotalSeconds) * bin.TotalSeconds);
            records.Add(ReleaseGate.CrowdLevels(m, binStart, crowd.Levels.Select(l => (l.Zone, l.People, l.PeoplePerSquareMetre, l.Level))));
        }
        return records;
    }

    /// <summary>
    /// What the cluster tap sends besides <see cref="Tables"/>: the crowd-level reading
    /// (<see cref="CrowdLevelTable"/>; the collector releases a bin's latest reading) and the heat-map
    /// bins (<see cref="HeatMapTable"/>; summed cell by cell). Not what a single engine's checkpoint
    /// keeps: that one carries count tables only.
    /// </summary>
    public static List<RawBinTable> ClusterOnlyTables(CameraManifest m, PurposeResults r, DateTimeOffset epochUtc)
    {
        var tables = new List<RawBinTable>();
        if (CrowdLevelTable.From(m, r.Crowd, epochUtc) is { } crowd) tables.Add(crowd);
        if (r.Flow?.HeatMaps is { Count: > 0 } heat && HeatMapTable.Releases(m))
            tables.AddRange(heat.Select(h => HeatMapTable.From(h, epochUtc)));
        return tables;
    }

    /// <summary>The raw (not yet suppressed) count tables of the results, one per class and bin: what gets published, and what a checkpoint keeps.</summary>
    public static List<RawBinTable> Tables(CameraManifest m, PurposeResults r, DateTimeOffset epochUtc)
    {
        var tables = new List<RawBinTable>();
        DateTimeOffset At(double seconds) => epochUtc.AddSeconds(seconds);
        void Table(DataClass cls, DateTimeOffset binStart, IReadOnlyList<string> rows, IReadOnlyList<string> cols, int[,] counts) =>
            tables.Add(new RawBinTable(cls, binStart, rows, cols, counts));

        // Case 3: one table per time bin, rows "line:class", columns in/out.
        var lineBins = r.Lines.SelectMany(l => l.Bins.Select(b => (Line: l.Name, Bin: b))).GroupBy(x => x.Bin.BinStartSeconds);
        foreach (var g in lineBins.OrderBy(g => g.Key))
        {
            var rows = r.Lines.SelectMany(l => CountCategories.Names.Select(c => $"{l.Name}:{c}")).ToList();
            var counts = new int[rows.Count, 2];
            foreach (var (line, b) in g)
            {
                int i = rows.IndexOf($"{line}:{b.Class}");
                if (i < 0) continue;
                counts[i, 0] += b.In; counts[i, 1] += b.Out;
            }
            Table(DataClass.Count, At(g.Key), rows, ["in", "out"], counts);
        }

        if (r.Zones is { } zones)
        {
            // Occupancy per bin as a k-suppressed table: rows are zones, columns max and (rounded) mean people.
            foreach (var g in zones.Zones.SelectMany(z => z.Occupancy.Select(o => (Zone: z.Name, Bin: o))).GroupBy(x => x.Bin.BinStartSeconds).OrderBy(g => g.Key))
            {
                var rows = zones.Zones.Select(z => z.Name).ToList();
                var counts = new int[rows.Count, 2];
                foreach (var (zone, o) in g)
                {
                    int i = rows.IndexOf(zone);
                    counts[i, 0] = o.MaxOccupancy;
                    counts[i, 1] = (int)Math.Round(o.MeanOccupancy);
                }
                Table(DataClass.ZoneOccupancy, At(g.Key), rows, ["max", "mean"], counts);
            }
            if (m.Declares(DataClass.DwellHistogram))
                WriteDwell(zones.Zones.SelectMany(z => z.DwellBins).ToList());
        }

        if (r.Flow is { } flow)
        {
            foreach (var t in flow.Transitions)
            {
                var places = t.Cells.SelectMany(c => new[] { c.From, c.To }).Distinct().OrderBy(p => p, StringComparer.Ordinal).ToList();
                if (places.Count == 0) continue;
                var counts = new int[places.Count, places.Count];
                foreach (var c in t.Cells) counts[places.IndexOf(c.From), places.IndexOf(c.To)] += (int)c.Count;
                Table(DataClass.TransitionMatrix, At(t.BinStartSeconds), places, places, counts);
            }
            WriteDwell(flow.Dwell);
        }

        // Case 1: visitors per bin, rows age bands + unknown, columns female/male/unknown (k-suppressed by the gate like any table).
        if (r.Attributes is { } attributes)
            foreach (var b in attributes)
                Table(DataClass.AttributeAggregate, At(b.BinStartSeconds), b.Rows, b.Cols, b.Counts);

        return tables;

        void WriteDwell(IReadOnlyList<DwellHistogram> dwell)
        {
            foreach (var g in dwell.Where(d => double.IsFinite(d.BinStartSeconds)).GroupBy(d => d.BinStartSeconds))
            {
                var hs = g.ToList();
                var rows = hs.Select(h => h.StopsOnly ? h.Zone + ":stops" : h.Zone).ToList();
                var edges = hs[0].Edges;
                var cols = edges.Select((e, i) => i + 1 < edges.Count ? $"{e}-{edges[i + 1]}s" : $"{e}s+").ToList();
                var counts = new int[rows.Count, cols.Count];
                for (int i = 0; i < hs.Count; i++)
                    for (int j = 0; j < Math.Min(cols.Count, hs[i].Counts.Count); j++) counts[i, j] = (int)hs[i].Counts[j];
                Table(DataClass.DwellHistogram, At(g.Key), rows, cols, counts);
            }
        }
    }
}
