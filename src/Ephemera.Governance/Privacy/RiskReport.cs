using System.Text;
using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>
/// The re-identification risk analysis of one camera (H2, M1): what each data class is, where it lives,
/// who may read it, which gates apply to stored outputs, and whether the camera may start now.
/// </summary>
public sealed class RiskReport
{
    public required CameraManifest Manifest { get; init; }
    public required IReadOnlyList<string> GatesApplied { get; init; }
    public required GateDecision StartDecision { get; init; }

    public static RiskReport Analyze(CameraManifest m, DateTimeOffset now)
    {
        var gates = new List<string>
        {
            $"M2: only declared outputs are written ({string.Join(", ", m.Outputs.Select(o => o.Class))}); anything else is refused",
        };
        var memory = m.Outputs.Where(o => o.Storage == StorageKind.Memory).Select(o => o.Class.ToString()).ToList();
        if (memory.Count > 0) gates.Add($"H1: {string.Join(", ", memory)} stay in memory and are wiped after use (retention 0); the store refuses them");
        var tables = m.Outputs.Where(o => o.Class is DataClass.Count or DataClass.AttributeAggregate or DataClass.ZoneOccupancy or DataClass.TransitionMatrix or DataClass.CrowdLevel && o.Storage == StorageKind.Store)
            .Select(o => o.Class.ToString()).ToList();
        if (tables.Count > 0) gates.Add($"H3: cells and totals below k = {m.Privacy.MinCellCount} are suppressed in {string.Join(", ", tables)}, with complementary suppression so no hidden cell is recoverable from totals");
        gates.Add($"H3: stored aggregates use time bins of at least {Durations.Short(m.Privacy.TimeBin)}; finer bins are refused");
        if (m.Declares(DataClass.AttributeAggregate)) gates.Add($"H3: attributes only in bins ({m.Privacy.AgeBandYears}-year age bands × sex), never per person");
        gates.Add(m.Privacy.StoreTrajectories
            ? $"H2: per-trajectory storage opted in: trimmed by {Durations.Short(m.Privacy.TrajectoryTrim ?? TimeSpan.Zero)} at entry/exit, snapped to {m.Privacy.TrajectoryGridMetres} m cells and {Durations.Short(m.Privacy.TrajectoryTimeBin ?? TimeSpan.Zero)} bins, random per-visit ids, stored only while unicity (share made unique by 4 random points) < {m.Privacy.UnicityThreshold}"
            : "H2: no per-trajectory storage (privacy.store_trajectories is false); flows only as zone aggregates");
        if (m.Declares(DataClass.HeatMap) && m.DataClasses[DataClass.HeatMap].Storage != StorageKind.Memory)
            gates.Add($"H3: heat-map cells entered by fewer than k = {m.Privacy.MinCellCount} distinct visits in a bin are released as 0, in the numbers and in the image");
        if (m.Declares(DataClass.IconImage)) gates.Add("H3: icon images keep position and moving/still only, no ids; each new one overwrites the last");
        if (m.Declares(DataClass.AnonymisedImage)) gates.Add("H3: anonymised images: masks ~1.3× the detection, solid fill, recall-first detection with tracking, detectors re-run on the output before release");
        gates.Add(m.Recipients.Count == 0
            ? "M3: no third-party recipients; exports are refused"
            : $"M3: exports only under contracts {string.Join(", ", m.Recipients.Select(r => $"{r.ContractId} ({string.Join("/", r.Classes)}, bins ≥ {Durations.Short(r.GranularityFloor)}, no re-identification)"))}, each recorded in the audit chain");
        gates.Add("AC5: retention enforced per class by the store's retention job, each deletion recorded in the audit chain");
        return new RiskReport { Manifest = m, GatesApplied = gates, StartDecision = ManifestGate.CanStart(m, now) };
    }

    public string ToText()
    {
        var m = Manifest;
        var sb = new StringBuilder();
        sb.AppendLine($"Risk analysis for camera {m.CameraId} (manifest v{m.Version}, {m.VersionHash[..12]}, {m.Kind}, {m.SpaceType})");
        sb.AppendLine("Data classes:");
        foreach (var o in m.Outputs)
            sb.AppendLine($"  {o.Class,-18} {o.Storage.ToString().ToLowerInvariant(),-7} retention {Durations.Short(o.Retention),-5} at {o.Location.En}; responsible {o.Responsible.En}; readable by {Readers(o.Class)}");
        sb.AppendLine($"Identifiability: {(m.DerivedData.Identifiable ? "IDENTIFIABLE" : "not identifiable")} — {m.DerivedData.Explanation.En}");
        sb.AppendLine($"k = {m.Privacy.MinCellCount}, time bin = {Durations.Short(m.Privacy.TimeBin)}, age bands = {m.Privacy.AgeBandYears} years");
        sb.AppendLine("Gates applied:");
        foreach (var g in GatesApplied) sb.AppendLine($"  - {g}");
        sb.AppendLine($"Start now: {StartDecision}");
        return sb.ToString();
    }

    private static string Readers(DataClass c)
    {
        var roles = Enum.GetValues<Role>().Where(r => AccessPolicy.CanRead(r, c)).Select(r => r.ToString()).ToList();
        return roles.Count == 0 ? "no one" : string.Join(", ", roles);
    }

    public string ToJson()
    {
        var m = Manifest;
        return JsonSerializer.Serialize(new
        {
            camera_id = m.CameraId, version = m.Version, version_hash = m.VersionHash, kind = m.Kind.ToString(), space_type = m.SpaceType.ToString(),
            data_classes = m.Outputs.Select(o => new
            {
                @class = o.Class.ToString(), storage = o.Storage.ToString().ToLowerInvariant(), retention_s = (long)o.Retention.TotalSeconds,
                location = o.Location.En, responsible = o.Responsible.En,
                readable_by = Enum.GetValues<Role>().Where(r => AccessPolicy.CanRead(r, o.Class)).Select(r => r.ToString()).ToArray(),
            }).ToArray(),
            identifiable = m.DerivedData.Identifiable, identifiability = m.DerivedData.Explanation.En,
            k = m.Privacy.MinCellCount, time_bin_s = (long)m.Privacy.TimeBin.TotalSeconds, age_band_years = m.Privacy.AgeBandYears,
            trajectories = new
            {
                stored = m.Privacy.StoreTrajectories, unicity_threshold = m.Privacy.UnicityThreshold, points = 4,
                grid_m = m.Privacy.TrajectoryGridMetres, time_bin_s = (long?)m.Privacy.TrajectoryTimeBin?.TotalSeconds,
                rule = "stored only if the share of trajectories made unique by 4 random points stays under the threshold",
            },
            recipients = m.Recipients.Select(r => new { contract_id = r.ContractId, recipient = r.Recipient.En, classes = r.Classes.Select(c => c.ToString()).ToArray(), granularity_floor_s = (long)r.GranularityFloor.TotalSeconds }).ToArray(),
            gates_applied = GatesApplied,
            can_start_now = StartDecision.Allowed, start_refusals = StartDecision.Reasons,
        }, CanonicalJson.Options);
    }
}
