using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Governance.Records;

namespace Ephemera.Runtime;

/// <summary>
/// Crowd levels as a raw bin table, so they travel the cluster's count-table transport (parts,
/// spool, de-duplicating ids, fences) to the collector, which releases them through the same
/// <see cref="ReleaseGate.CrowdLevels"/> as a single engine. Rows are zones; columns <c>people</c>,
/// <c>density_milli</c> (people per m² × 1000: the gate rounds to 3 decimals, so nothing is lost) and
/// one <c>level:&lt;name&gt;</c> column per level seen, 1 in the zone's level. A level is a reading
/// at one moment, not a count: parts are never added up, the latest reading of a bin wins.
/// </summary>
public static class CrowdLevelTable
{
    private const string People = "people", Density = "density_milli", LevelPrefix = "level:";

    /// <summary>The snapshot's levels as a table of the bin its moment falls in; null when there are none.</summary>
    public static RawBinTable? From(CameraManifest m, CrowdSnapshot? crowd, DateTimeOffset epochUtc)
    {
        if (crowd is not { Levels.Count: > 0 } || !m.Declares(DataClass.CrowdLevel)) return null;
        double bin = m.Privacy.TimeBin.TotalSeconds;
        var binStart = epochUtc.AddSeconds(Math.Floor(crowd.TimeSeconds / bin) * bin); // as OutputPublisher.Release bins it
        var rows = crowd.Levels.Select(l => l.Zone).ToList();
        var cols = new List<string> { People, Density };
        cols.AddRange(crowd.Levels.Select(l => LevelPrefix + l.Level).Distinct(StringComparer.Ordinal));
        var counts = new int[rows.Count, cols.Count];
        for (int i = 0; i < crowd.Levels.Count; i++)
        {
            var l = crowd.Levels[i];
            counts[i, 0] = l.People;
            counts[i, 1] = (int)Math.Round(l.PeoplePerSquareMetre * 1000);
            counts[i, cols.IndexOf(LevelPrefix + l.Level)] = 1;
        }
        return new RawBinTable(DataClass.CrowdLevel, binStart, rows, cols, counts);
    }

    /// <summary>The table released through the gate (the k floor on densities), exactly as a single engine releases the reading.</summary>
    public static CrowdLevelRecord Release(CameraManifest m, RawBinTable t)
    {
        if (t.Class != DataClass.CrowdLevel || t.Cols.Count < 2 || t.Cols[0] != People || t.Cols[1] != Density)
            throw new EphemeraException($"camera {m.CameraId}: a {t.Class} table with columns [{string.Join(", ", t.Cols)}] is not a crowd-level table");
        var zones = new List<(string, int, double, string)>(t.Rows.Count);
        for (int r = 0; r < t.Rows.Count; r++)
        {
            int levelCol = -1;
            for (int c = 2; c < t.Cols.Count; c++) if (t.Counts[r, c] > 0) { levelCol = c; break; }
            if (levelCol < 0 || !t.Cols[levelCol].StartsWith(LevelPrefix, StringComparison.Ordinal))
                throw new EphemeraException($"camera {m.CameraId}: crowd-level zone {t.Rows[r]} has no level");
            zones.Add((t.Rows[r], t.Counts[r, 0], t.Counts[r, 1] / 1000.0, t.Cols[levelCol][LevelPrefix.Length..]));
        }
        return ReleaseGate.CrowdLevels(m, t.BinStart, zones);
    }
}
