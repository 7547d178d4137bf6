using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>The guidebook's five use cases (REQUIREMENTS.md "The five cases"); the only purposes the engine runs.</summary>
public enum PurposeKind
{
    /// <summary>Store entrance: age band / sex per visitor, aggregated per time bin.</summary>
    Case1 = 1,
    /// <summary>Store floor: flow lines, zone transitions, dwell.</summary>
    Case2 = 2,
    /// <summary>Outdoor: counts of people, bicycles, cars per direction.</summary>
    Case3 = 3,
    /// <summary>Vehicle dash-cam: streetscape with faces and nameplates made unreadable.</summary>
    Case4 = 4,
    /// <summary>Station: people as icons, crowd level per zone.</summary>
    Case5 = 5,
}

/// <summary>Where the camera is (G4). Public-facing and vehicle cameras need jurisdiction + ordinances (BP-e).</summary>
public enum SpaceType { Store, PublicFacing, SemiPublic, Vehicle }

/// <summary>Where a declared data class lives (BP-a).</summary>
public enum StorageKind
{
    /// <summary>Never persisted: held in engine memory only and wiped/dropped when processed.</summary>
    Memory,
    /// <summary>The embedded store, partitioned by class and time; retention enforced by <see cref="EphemeraStore.ApplyRetention"/>.</summary>
    Store,
    /// <summary>The embedded store, only the latest item per camera (each new one overwrites the last, case 5 icons).</summary>
    Latest,
}

/// <summary>Text every notice shows in both languages.</summary>
public sealed record LocalizedText(string Ja, string En)
{
    public string this[NoticeLanguage lang] => lang == NoticeLanguage.Ja ? Ja : En;
}

/// <summary>The single contact point for questions and complaints (BP-b, BP-d).</summary>
public sealed record ContactPoint(LocalizedText Desk, string? Phone, string? Email, string? Url, LocalizedText? Hours);

/// <summary>Local rules for public-facing cameras (BP-e).</summary>
public sealed record Jurisdiction(LocalizedText Area, IReadOnlyList<string> Ordinances);

/// <summary>ver3.0: legitimacy of the purpose, necessity of filming, appropriateness of the method.</summary>
public sealed record PurposeRationale(LocalizedText Legitimacy, LocalizedText Necessity, LocalizedText Method);

/// <summary>Camera location and field of view (PN4/AC3); polygon in the site's floor/map coordinates.</summary>
public sealed record CameraLocation(LocalizedText Place, LocalizedText Coverage, IReadOnlyList<(double X, double Y)> CoveragePolygon);

/// <summary>One data class the pipeline produces, where it lives, who answers for it and how long it is kept (BP-a, M2, AC5).</summary>
public sealed record DeclaredOutput(DataClass Class, StorageKind Storage, LocalizedText Location, LocalizedText Responsible, TimeSpan Retention);

/// <summary>PN5/PN6: what is derived and whether it can identify anyone (it may not: H3).</summary>
public sealed record DerivedDataStatement(LocalizedText Summary, bool Identifiable, LocalizedText Explanation);

/// <summary>
/// A third-party recipient and the contract that binds it (PN7, M3): what it gets, for which purposes,
/// at what coarsest-allowed granularity, how long it may keep it, and its promise not to re-identify.
/// </summary>
public sealed record ExportContract(
    string ContractId, LocalizedText Recipient, IReadOnlyList<DataClass> Classes, IReadOnlyList<string> Fields,
    IReadOnlyList<LocalizedText> Purposes, TimeSpan GranularityFloor, TimeSpan RetentionAtRecipient, bool NoReidentification);

/// <summary>Pre-notice publication (PN-T1): when and where the notice went out, and the lead time before capture.</summary>
public sealed record PreNotice(DateTimeOffset Published, TimeSpan LeadTime, string Url, IReadOnlyList<string> Channels);

/// <summary>The sign at the camera (AC): its form and who attested its installation, when.</summary>
public sealed record AtCaptureNotice(string Variant, string InstalledBy, DateTimeOffset InstalledOn, LocalizedText Placement);

/// <summary>Re-identification controls on stored outputs (H2/H3).</summary>
public sealed record PrivacySettings(
    int MinCellCount, TimeSpan TimeBin, int AgeBandYears, bool StoreTrajectories, double? UnicityThreshold,
    double? TrajectoryGridMetres, TimeSpan? TrajectoryTimeBin, TimeSpan? TrajectoryTrim);

/// <summary>
/// What a case-4 camera's anonymised images keep and mask (the manifest's <c>anonymise:</c> section).
/// Faces and number plates are always masked and cannot be switched off; the rest is the operator's
/// notified choice. Defaults: mosaic masks, small text (nameplates, house numbers) masked, large
/// text (signs) kept, head bands of persons without a face detection masked, every detected frame, and a
/// face or plate track the detectors lose masked at its predicted position for 5 more frames (<c>carry_frames</c>).
/// </summary>
public sealed record AnonymiseSettings(string Mask = "mosaic", bool MaskSmallText = true, bool MaskLargeText = false, bool MaskHeadBands = true, int Every = 1,
    int CarryFrames = 5)
{
    /// <summary>The defaults, for a case-4 manifest without the section.</summary>
    public static AnonymiseSettings Default { get; } = new();
}

/// <summary>
/// One camera's purpose manifest, as loaded and validated by <see cref="ManifestLoader"/>. Everything a
/// notice says comes from here, and everything the engine enforces (declared outputs, retention, k) too,
/// so what people are told is what the engine does.
/// </summary>
public sealed class CameraManifest
{
    public required string SourcePath { get; init; }
    /// <summary>The camera this manifest is bound to: its <c>camera_id</c>, or the covered camera it was bound to by <see cref="ForCamera"/>.</summary>
    public required string CameraId { get => _boundCameraId ?? _cameraId; init => _cameraId = value; }
    private string _cameraId = "";
    private string? _boundCameraId;

    /// <summary>
    /// Further cameras of the same installation covered by this one notice (<c>cameras:</c>): ids, or
    /// prefixes ending in '*'. Each runs under its own bound copy (<see cref="ForCamera"/>), so the
    /// store, the gates and the audit chain still see one manifest per camera.
    /// </summary>
    public IReadOnlyList<string> CoveredCameras { get; init; } = [];

    /// <summary>True when <paramref name="cameraId"/> is this manifest's camera or one it covers.</summary>
    public bool Covers(string cameraId) =>
        cameraId == _cameraId || CoveredCameras.Any(c => c.EndsWith('*') ? cameraId.StartsWith(c[..^1], StringComparison.Ordinal) : c == cameraId);

    /// <summary>This manifest bound to one covered camera; throws naming both when it does not cover it.</summary>
    public CameraManifest ForCamera(string cameraId)
    {
        if (cameraId == CameraId) return this;
        if (!Covers(cameraId))
            throw new EphemeraException($"BP-a: manifest {SourcePath} is for camera '{_cameraId}'{(CoveredCameras.Count > 0 ? $" and {string.Join(", ", CoveredCameras)}" : "")}, not '{cameraId}'");
        var bound = (CameraManifest)MemberwiseClone();
        bound._boundCameraId = cameraId;
        bound._hash = null;
        return bound;
    }
    /// <summary>Operator-maintained version number; must grow whenever <see cref="VersionHash"/> changes (M4).</summary>
    public required int Version { get; init; }
    public required PurposeKind Kind { get; init; }
    public required SpaceType SpaceType { get; init; }
    public required LocalizedText Operator { get; init; }
    public required ContactPoint Contact { get; init; }
    public Jurisdiction? Jurisdiction { get; init; }
    /// <summary>What the camera films (PN1), e.g. "people passing the entrance".</summary>
    public required LocalizedText Captured { get; init; }
    public required LocalizedText PurposeText { get; init; }
    public required LocalizedText Benefit { get; init; }
    public required PurposeRationale Rationale { get; init; }
    public required CameraLocation Location { get; init; }
    public required IReadOnlyList<DeclaredOutput> Outputs { get; init; }
    public required DerivedDataStatement DerivedData { get; init; }
    public required IReadOnlyList<ExportContract> Recipients { get; init; }
    public required DateTimeOffset StartDate { get; init; }
    public required PreNotice PreNotice { get; init; }
    public required AtCaptureNotice AtCapture { get; init; }
    public required PrivacySettings Privacy { get; init; }
    /// <summary>Case 4's <c>anonymise:</c> section; null when the manifest has none (case 4 then runs on <see cref="AnonymiseSettings.Default"/>).</summary>
    public AnonymiseSettings? Anonymise { get; init; }

    private IReadOnlyDictionary<DataClass, DeclaredOutput>? _byClass;
    private string? _hash;

    /// <summary>Declared data classes (M2) with storage location, responsible party and retention.</summary>
    public IReadOnlyDictionary<DataClass, DeclaredOutput> DataClasses => _byClass ??= Outputs.ToDictionary(o => o.Class);

    /// <summary>True when the manifest declares <paramref name="cls"/>.</summary>
    public bool Declares(DataClass cls) => DataClasses.ContainsKey(cls);

    /// <summary>
    /// sha256 (hex) of the canonical JSON of every notified field: all that people are told, plus the
    /// privacy settings that shape stored data. Version number, publication and attestation are not
    /// part of it — they describe the notice, not what it says (M4).
    /// </summary>
    public string VersionHash => _hash ??= Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalNotifiedJson())));

    /// <summary>The canonical text hashed into <see cref="VersionHash"/> (stable property order, invariant formats).</summary>
    public string CanonicalNotifiedJson()
    {
        var notified = new
        {
            camera_id = CameraId, covers = CoveredCameras.Count > 0 ? CoveredCameras : null, kind = Kind, space_type = SpaceType, @operator = Operator, contact = Contact,
            jurisdiction = Jurisdiction, captured = Captured, purpose = PurposeText, benefit = Benefit, rationale = Rationale,
            place = Location.Place, coverage = Location.Coverage,
            polygon = Location.CoveragePolygon.Select(p => new[] { p.X, p.Y }).ToArray(),
            outputs = Outputs.Select(o => new { o.Class, o.Storage, o.Location, o.Responsible, retention_s = (long)o.Retention.TotalSeconds }).ToArray(),
            derived = DerivedData,
            recipients = Recipients.Select(r => new
            {
                r.ContractId, r.Recipient, r.Classes, r.Fields, r.Purposes,
                floor_s = (long)r.GranularityFloor.TotalSeconds, retention_s = (long)r.RetentionAtRecipient.TotalSeconds, r.NoReidentification,
            }).ToArray(),
            start = StartDate.ToUniversalTime().ToString("O"),
            privacy = new
            {
                Privacy.MinCellCount, bin_s = (long)Privacy.TimeBin.TotalSeconds, Privacy.AgeBandYears, Privacy.StoreTrajectories,
                Privacy.UnicityThreshold, Privacy.TrajectoryGridMetres,
                traj_bin_s = (long?)Privacy.TrajectoryTimeBin?.TotalSeconds, traj_trim_s = (long?)Privacy.TrajectoryTrim?.TotalSeconds,
            },
        };
        string json = JsonSerializer.Serialize(notified, CanonicalJson.Options);
        // Appended only when present, so manifests without the section keep their hash.
        if (Anonymise is { } a)
            // carry_frames joins the hash only when set away from its default, so existing manifests keep their hash.
            json = json[..^1] + ",\"anonymise\":" + (a.CarryFrames == AnonymiseSettings.Default.CarryFrames
                ? JsonSerializer.Serialize(new { a.Mask, small_text = a.MaskSmallText ? "mask" : "keep", large_text = a.MaskLargeText ? "mask" : "keep", head_bands = a.MaskHeadBands ? "mask" : "keep", a.Every }, CanonicalJson.Options)
                : JsonSerializer.Serialize(new { a.Mask, small_text = a.MaskSmallText ? "mask" : "keep", large_text = a.MaskLargeText ? "mask" : "keep", head_bands = a.MaskHeadBands ? "mask" : "keep", a.Every, carry_frames = a.CarryFrames }, CanonicalJson.Options)) + "}";
        return json;
    }

    public override string ToString() => $"{CameraId} v{Version} ({Kind}, {VersionHash[..12]})";
}

internal static class CanonicalJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter() },
        IncludeFields = true,
    };
}
