using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Governance.Records;

/// <summary>
/// One derived result that passed the privacy gates for its camera's manifest: the only kind of
/// thing that leaves the engine (store, sinks, <c>ReadAsync</c>, the C ABI). Records are built only
/// by <see cref="ReleaseGate"/>, so holding one is proof that the gates ran. None carries camera
/// pixels: counts are k-suppressed tables, crowd levels are categories, and the icon image is drawn
/// from floor positions only.
/// </summary>
public abstract record DerivedRecord
{
    private protected DerivedRecord(string cameraId, DataClass dataClass, DateTimeOffset binStart, TimeSpan binLength, string manifestVersion)
    {
        CameraId = cameraId; Class = dataClass; BinStart = binStart; BinLength = binLength; ManifestVersion = manifestVersion;
    }

    /// <summary>The camera the record is about.</summary>
    public string CameraId { get; }
    /// <summary>The data class, as declared in the camera's manifest.</summary>
    public DataClass Class { get; }
    /// <summary>Start of the time bin (UTC), never finer than the manifest's time bin.</summary>
    public DateTimeOffset BinStart { get; }
    /// <summary>Length of the time bin.</summary>
    public TimeSpan BinLength { get; }
    /// <summary>Version hash of the manifest the record was released under.</summary>
    public string ManifestVersion { get; }

    /// <summary>The record as one JSON object (camera, class, bin and the payload), as the C ABI and the CLI print it.</summary>
    public string ToJson() => JsonSerializer.Serialize(new
    {
        camera = CameraId,
        @class = JsonNamingPolicy.SnakeCaseLower.ConvertName(Class.ToString()),
        bin_start = BinStart.UtcDateTime,
        bin_seconds = BinLength.TotalSeconds,
        manifest = ManifestVersion,
        payload = JsonDocument.Parse(PayloadJson()).RootElement,
    }, CanonicalJson.Options);

    /// <summary>The payload alone, exactly as the store keeps it.</summary>
    public abstract string PayloadJson();
}

/// <summary>
/// A k-suppressed count table (counts, occupancy, dwell histograms, transition matrices, attribute
/// aggregates): labelled rows × columns, with totals; <c>null</c> wherever an entry was suppressed.
/// </summary>
public sealed record CountTableRecord : DerivedRecord
{
    internal CountTableRecord(string cameraId, DataClass cls, DateTimeOffset binStart, TimeSpan binLength, string manifestVersion,
        IReadOnlyList<string> rows, IReadOnlyList<string> columns, SuppressedTable table)
        : base(cameraId, cls, binStart, binLength, manifestVersion)
    {
        RowLabels = rows; ColumnLabels = columns; Table = table;
    }

    /// <summary>Row labels (bins such as "line:person" or a zone name, never people).</summary>
    public IReadOnlyList<string> RowLabels { get; }
    /// <summary>Column labels.</summary>
    public IReadOnlyList<string> ColumnLabels { get; }
    /// <summary>The released table (cells, totals, which were suppressed).</summary>
    public SuppressedTable Table { get; }
    /// <summary>The minimum cell count k the table was suppressed with.</summary>
    public int K => Table.K;
    /// <summary>The released cell at row <paramref name="row"/>, column <paramref name="column"/> (null = suppressed).</summary>
    public int? Cell(int row, int column) => Table.Cell(row, column);
    /// <summary>The released grand total (null = suppressed).</summary>
    public int? Total => Table.GrandTotal;
    /// <summary>Entries (cells and totals) withheld by suppression.</summary>
    public int SuppressedEntries => Table.SuppressedCount;

    /// <inheritdoc />
    public override string PayloadJson() => _json ??= Table.ToJson(RowLabels, ColumnLabels);
    private string? _json;
}

/// <summary>Crowd level of each zone for one bin (case 5): a category, with the density only where at least k people were there.</summary>
public sealed record CrowdLevelRecord : DerivedRecord
{
    internal CrowdLevelRecord(string cameraId, DateTimeOffset binStart, TimeSpan binLength, string manifestVersion, IReadOnlyList<ZoneLevel> zones)
        : base(cameraId, DataClass.CrowdLevel, binStart, binLength, manifestVersion) => Zones = zones;

    /// <summary>One zone's level.</summary>
    public sealed record ZoneLevel(string Zone, double? PeoplePerSquareMetre, string Level);

    /// <summary>The zones' levels.</summary>
    public IReadOnlyList<ZoneLevel> Zones { get; }

    /// <inheritdoc />
    public override string PayloadJson() => JsonSerializer.Serialize(
        Zones.Select(z => new { zone = z.Zone, people_per_m2 = z.PeoplePerSquareMetre, level = z.Level }), CanonicalJson.Options);
}

/// <summary>
/// The latest crowd icon image of a camera (case 5): a PNG drawn from floor positions (icons on a
/// plan), never from camera pixels. Latest-only: each one replaces the last.
/// </summary>
public sealed record IconImageRecord : DerivedRecord
{
    internal IconImageRecord(string cameraId, DateTimeOffset at, string manifestVersion, byte[] png, int people)
        : base(cameraId, DataClass.IconImage, at, TimeSpan.Zero, manifestVersion) { _png = png; People = people; }

    private readonly byte[] _png;
    /// <summary>The PNG bytes (a copy-free read-only view).</summary>
    public ReadOnlyMemory<byte> Png => _png;
    /// <summary>Media type of <see cref="Png"/>.</summary>
    public string MediaType => "image/png";
    /// <summary>People drawn.</summary>
    public int People { get; }
    internal byte[] PngBytes => _png;

    /// <inheritdoc />
    public override string PayloadJson() => JsonSerializer.Serialize(new { media_type = MediaType, bytes = _png.Length, people = People }, CanonicalJson.Options);
}

/// <summary>
/// The floor heat map of one camera and bin (case 2), gated: a grid cell's person-frames are released
/// only when at least k distinct visits contributed to it in the bin; every other cell reads 0, the
/// same as an empty one, so the map never tells where fewer than k people were. The PNG is rendered
/// by <see cref="ReleaseGate.HeatMap"/> from the gated grid only.
/// </summary>
public sealed record HeatMapRecord : DerivedRecord
{
    internal HeatMapRecord(string cameraId, DateTimeOffset binStart, TimeSpan binLength, string manifestVersion,
        int cellsX, int cellsY, double cellMetres, int k, long[] personFrames, int suppressedCells, byte[] png)
        : base(cameraId, DataClass.HeatMap, binStart, binLength, manifestVersion)
    {
        CellsX = cellsX; CellsY = cellsY; CellMetres = cellMetres; K = k; _frames = personFrames; SuppressedCells = suppressedCells; _png = png;
    }

    private readonly long[] _frames;
    private readonly byte[] _png;
    /// <summary>Grid width in cells.</summary>
    public int CellsX { get; }
    /// <summary>Grid height in cells.</summary>
    public int CellsY { get; }
    /// <summary>Cell side in metres.</summary>
    public double CellMetres { get; }
    /// <summary>The minimum distinct visits per cell (the manifest's k).</summary>
    public int K { get; }
    /// <summary>Released person-frames per cell, row-major (0 where empty or below k).</summary>
    public IReadOnlyList<long> PersonFrames => _frames;
    /// <summary>Cells that someone entered but fewer than k distinct visits did, released as 0.</summary>
    public int SuppressedCells { get; }
    /// <summary>The PNG rendered from the gated grid (a copy-free read-only view).</summary>
    public ReadOnlyMemory<byte> Png => _png;
    /// <summary>Media type of <see cref="Png"/>.</summary>
    public string MediaType => "image/png";
    internal byte[] PngBytes => _png;

    /// <inheritdoc />
    public override string PayloadJson() => _json ??= JsonSerializer.Serialize(new
    {
        k = K, cells_x = CellsX, cells_y = CellsY, cell_m = CellMetres, person_frames = _frames,
        suppressed_cells = SuppressedCells, media_type = MediaType, bytes = _png.Length,
    }, CanonicalJson.Options);
    private string? _json;
}

/// <summary>
/// Coarsened per-visit flow lines of one bin (case 2), released only because the manifest opts in
/// and the unicity test passed: places and time steps, each visit under a random id that links
/// nothing across visits.
/// </summary>
public sealed record TrajectorySetRecord : DerivedRecord
{
    internal TrajectorySetRecord(string cameraId, DateTimeOffset binStart, TimeSpan binLength, string manifestVersion,
        IReadOnlyList<Trajectory> visits, double unicity)
        : base(cameraId, DataClass.Trajectory, binStart, binLength, manifestVersion) { Visits = visits; Unicity = unicity; }

    /// <summary>The coarsened visits (zone index or grid cell, time-step index).</summary>
    public IReadOnlyList<Trajectory> Visits { get; }
    /// <summary>The unicity measured on them (below the manifest's threshold).</summary>
    public double Unicity { get; }

    /// <inheritdoc />
    public override string PayloadJson() => JsonSerializer.Serialize(new
    {
        visits = Visits.Count,
        unicity = Math.Round(Unicity, 4),
    }, CanonicalJson.Options);
}

/// <summary>What the anonymiser masked on one image: counts only, never positions.</summary>
/// <param name="Faces">Face boxes masked (detector union, before the output check).</param>
/// <param name="Plates">Text regions inside or under a vehicle box (plates), masked.</param>
/// <param name="Text">Small text regions outside vehicles (nameplates, house numbers), masked.</param>
/// <param name="HeadBands">Head bands of person boxes without a face detection, masked.</param>
/// <param name="KeptText">Large text regions (signs) left readable by the rules.</param>
/// <param name="Remasked">Regions the output check found and masked in a second pass.</param>
public sealed record AnonymisedCounts(int Faces, int Plates, int Text, int HeadBands, int KeptText, int Remasked);

/// <summary>
/// One anonymised street image (case 4): JPEG bytes of a frame whose faces, plates and nameplates were
/// masked and whose output was re-checked with the detectors before release. Only the anonymiser
/// (Ephemera.Anonymisation) builds it, and only for a manifest that declares AnonymisedImage with
/// storage store (M2). A frame that fails the output check never becomes a record.
/// </summary>
public sealed record AnonymisedImageRecord : DerivedRecord
{
    internal AnonymisedImageRecord(CameraManifest m, DateTimeOffset at, TimeSpan binLength, byte[] jpeg, int width, int height,
        AnonymisedCounts masked, IReadOnlyList<string> detectorModels, string outputCheck)
        : base(ReleaseGate.EnsureAnonymisedImages(m).CameraId, DataClass.AnonymisedImage, at, binLength, m.VersionHash)
    {
        if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw new EphemeraException("an anonymised image must be a JPEG");
        _jpeg = jpeg; Width = width; Height = height; Masked = masked; DetectorModels = detectorModels; OutputCheck = outputCheck;
    }

    private readonly byte[] _jpeg;
    /// <summary>The JPEG bytes (a copy-free read-only view).</summary>
    public ReadOnlyMemory<byte> Jpeg => _jpeg;
    /// <summary>Media type of <see cref="Jpeg"/>.</summary>
    public string MediaType => "image/jpeg";
    /// <summary>Image width in pixels.</summary>
    public int Width { get; }
    /// <summary>Image height in pixels.</summary>
    public int Height { get; }
    /// <summary>What was masked (counts only).</summary>
    public AnonymisedCounts Masked { get; }
    /// <summary>Catalogue names of the detectors that decided the masks and checked the output.</summary>
    public IReadOnlyList<string> DetectorModels { get; }
    /// <summary>The output check's result: "passed" (nothing left on the first check) or "passed-after-remask".</summary>
    public string OutputCheck { get; }
    internal byte[] JpegBytes => _jpeg;

    /// <inheritdoc />
    public override string PayloadJson() => JsonSerializer.Serialize(new
    {
        media_type = MediaType,
        bytes = _jpeg.Length,
        width = Width,
        height = Height,
        masked = new { faces = Masked.Faces, plates = Masked.Plates, text = Masked.Text, head_bands = Masked.HeadBands, kept_text = Masked.KeptText, remasked = Masked.Remasked },
        detectors = DetectorModels,
        output_check = OutputCheck,
    }, CanonicalJson.Options);
}
