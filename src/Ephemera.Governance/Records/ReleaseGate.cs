using Ephemera.Core;

namespace Ephemera.Governance.Records;

/// <summary>
/// The one door between raw purpose results and everything outside the engine: it checks a result
/// against its camera's manifest (the class declared, the bin no finer than the manifest's) and
/// applies the class's privacy rule (k-suppression with complementary suppression for tables, the
/// k floor on crowd densities), and only then builds the <see cref="DerivedRecord"/> that sinks,
/// the store and readers receive. Throws <see cref="EphemeraException"/> naming the requirement
/// (M2, H3) when a result may not leave.
/// </summary>
public static class ReleaseGate
{
    /// <summary>A raw count table of one bin → the released, k-suppressed record.</summary>
    public static CountTableRecord CountTable(CameraManifest m, DataClass cls, DateTimeOffset binStart,
        IReadOnlyList<string> rows, IReadOnlyList<string> columns, int[,] counts)
    {
        Check(m, cls, m.Privacy.TimeBin);
        if (rows.Count != counts.GetLength(0) || columns.Count != counts.GetLength(1))
            throw new ArgumentException($"labels ({rows.Count}×{columns.Count}) do not match the table ({counts.GetLength(0)}×{counts.GetLength(1)})");
        var table = CountSuppression.Suppress(counts, m.Privacy.MinCellCount);
        return new CountTableRecord(m.CameraId, cls, binStart, m.Privacy.TimeBin, m.VersionHash, rows, columns, table);
    }

    /// <summary>
    /// Crowd levels of one bin. The level is a coarse category; the density would give away a small
    /// head count, so it is released only for a zone that held at least k people.
    /// </summary>
    public static CrowdLevelRecord CrowdLevels(CameraManifest m, DateTimeOffset binStart, IEnumerable<(string Zone, int People, double PeoplePerSquareMetre, string Level)> zones)
    {
        Check(m, DataClass.CrowdLevel, m.Privacy.TimeBin);
        int k = m.Privacy.MinCellCount;
        var released = zones.Select(z => new CrowdLevelRecord.ZoneLevel(z.Zone, z.People >= k ? Math.Round(z.PeoplePerSquareMetre, 3) : null, z.Level)).ToList();
        return new CrowdLevelRecord(m.CameraId, binStart, m.Privacy.TimeBin, m.VersionHash, released);
    }

    /// <summary>A crowd icon image (drawn from floor positions only), latest-only by its declaration.</summary>
    public static IconImageRecord IconImage(CameraManifest m, DateTimeOffset at, byte[] png, int people)
    {
        EnsureMayLeave(m, DataClass.IconImage);
        return new IconImageRecord(m.CameraId, at, m.VersionHash, png, people);
    }

    /// <summary>
    /// The floor heat map of one bin (H3): a cell keeps its person-frames only when at least k
    /// distinct visits (<paramref name="tracksPerCell"/>) were in it; the others become 0 and are
    /// counted. <paramref name="renderPng"/> receives the gated grid only, so the image cannot show
    /// a cell the numbers withhold.
    /// </summary>
    public static HeatMapRecord HeatMap(CameraManifest m, DateTimeOffset binStart, int cellsX, int cellsY, double cellMetres,
        IReadOnlyList<long> personFrames, IReadOnlyList<int> tracksPerCell, Func<IReadOnlyList<long>, byte[]> renderPng)
    {
        Check(m, DataClass.HeatMap, m.Privacy.TimeBin);
        ArgumentNullException.ThrowIfNull(renderPng);
        if (cellsX < 1 || cellsY < 1 || personFrames.Count != cellsX * cellsY || tracksPerCell.Count != personFrames.Count)
            throw new ArgumentException($"heat map: {personFrames.Count} person-frame cells and {tracksPerCell.Count} track cells do not match a {cellsX}×{cellsY} grid");
        int k = m.Privacy.MinCellCount, suppressed = 0;
        var gated = new long[personFrames.Count];
        for (int i = 0; i < gated.Length; i++)
        {
            if (tracksPerCell[i] >= k) gated[i] = personFrames[i];
            else if (tracksPerCell[i] > 0 || personFrames[i] > 0) suppressed++;
        }
        byte[] png = renderPng(Array.AsReadOnly((long[])gated.Clone())); // the renderer gets a copy: it cannot alter what the record releases
        if (png is not { Length: > 8 } || png[0] != 0x89 || png[1] != (byte)'P' || png[2] != (byte)'N' || png[3] != (byte)'G')
            throw new EphemeraException($"heat map of camera {m.CameraId}: the renderer did not return a PNG");
        return new HeatMapRecord(m.CameraId, binStart, m.Privacy.TimeBin, m.VersionHash, cellsX, cellsY, cellMetres, k, gated, suppressed, png);
    }

    /// <summary>
    /// Coarsened trajectories of one bin: released only when the manifest opts in (store_trajectories,
    /// a unicity threshold) and their unicity stays under it (H2/H3); otherwise null, with the gate's reason.
    /// </summary>
    public static TrajectorySetRecord? Trajectories(CameraManifest m, DateTimeOffset binStart, IReadOnlyList<Trajectory> coarsened, Random rng, out TrajectoryGateResult gate)
    {
        EnsureMayLeave(m, DataClass.Trajectory);
        gate = TrajectoryGate.Evaluate(m, coarsened, rng);
        return gate.Allowed ? new TrajectorySetRecord(m.CameraId, binStart, m.Privacy.TimeBin, m.VersionHash, coarsened, gate.Unicity) : null;
    }

    /// <summary>
    /// M2: anonymised images (case 4) leave only for a camera whose manifest declares AnonymisedImage
    /// with storage store; otherwise refused. Returns the manifest for chaining.
    /// </summary>
    public static CameraManifest EnsureAnonymisedImages(CameraManifest m)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (!m.Declares(DataClass.AnonymisedImage))
            throw new EphemeraException($"M2: camera {m.CameraId}'s manifest does not declare AnonymisedImage; no anonymised image may be made or released for it");
        var storage = m.DataClasses[DataClass.AnonymisedImage].Storage;
        if (storage != StorageKind.Store)
            throw new EphemeraException($"M2: camera {m.CameraId} declares AnonymisedImage with storage {storage.ToString().ToLowerInvariant()}, not store; anonymised images are released only to the store");
        return m;
    }

    /// <summary>M2: a class declared memory-only stays in the engine (no store, no sink, no reader).</summary>
    private static void EnsureMayLeave(CameraManifest m, DataClass cls)
    {
        ManifestGate.EnsureDeclared(m, cls);
        if (m.DataClasses[cls].Storage == StorageKind.Memory)
            throw new EphemeraException($"M2: camera {m.CameraId} declares {cls} memory-only; it does not leave the engine");
    }

    private static void Check(CameraManifest m, DataClass cls, TimeSpan bin)
    {
        if (cls is DataClass.RawFrame or DataClass.FeatureVector)
            throw new EphemeraException($"H1: {cls} never leaves the engine");
        if (cls == DataClass.Trajectory)
            throw new EphemeraException($"H3: trajectories of camera {m.CameraId} leave only through the unicity gate");
        EnsureMayLeave(m, cls);
        if (bin < m.Privacy.TimeBin)
            throw new EphemeraException($"H3: {cls} bin for camera {m.CameraId} is finer than the manifest's time bin");
    }
}
