using System.Text.Json;
using System.Text.Json.Nodes;
using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>An export as handed to a recipient: only the contract's fields, at or above its granularity floor.</summary>
public sealed record ExportResult(ExportContract Contract, DataClass Class, IReadOnlyList<DerivedRow> Rows, long AuditSeq);

/// <summary>
/// Reads for one role. Every method checks <see cref="AccessPolicy"/> first; exports go through
/// <see cref="Export"/> only, under a contract from the camera's manifest (M3), and each one is recorded in
/// the audit chain. There is no method that returns pixels: the store has none.
/// </summary>
public sealed class StoreQuery
{
    private readonly EphemeraStore _store;
    public Role Role { get; }

    internal StoreQuery(EphemeraStore store, Role role) { _store = store; Role = role; }

    public IReadOnlyList<DerivedRow> Read(string cameraId, DataClass cls, DateTimeOffset from, DateTimeOffset to)
    {
        Demand(cls);
        return _store.ReadRows(cameraId, cls, from, to);
    }

    /// <summary>The stored row of the camera and class with the latest bin (e.g. the newest heat map); null when none.</summary>
    public DerivedRow? ReadNewest(string cameraId, DataClass cls)
    {
        Demand(cls);
        return _store.ReadNewestRow(cameraId, cls);
    }

    public LatestItem? ReadLatest(string cameraId, DataClass cls)
    {
        Demand(cls);
        return _store.ReadLatestRow(cameraId, cls);
    }

    public IReadOnlyList<AuditEntry> ReadAudit(long fromSeq = 1, int max = 10_000)
    {
        Demand(DataClass.AuditRecord);
        return _store.Audit.Read(fromSeq, max);
    }

    /// <summary>
    /// Exports rows of one class under contract <paramref name="contractId"/> of the camera's manifest:
    /// the role must be export officer, the class and purpose listed in the contract, every row's bin at
    /// least the contract's granularity floor; payloads keep only the contract's fields.
    /// </summary>
    public ExportResult Export(string cameraId, string contractId, DataClass cls, DateTimeOffset from, DateTimeOffset to, string purpose)
    {
        if (Role != Role.ExportOfficer) throw new AccessDeniedException($"M3: role {Role} may not export; exports are made by the export officer under a contract");
        var m = _store.Manifest(cameraId) ?? throw new AccessDeniedException($"M3: camera {cameraId} has no registered manifest, so no export contract");
        var contract = m.Recipients.FirstOrDefault(r => r.ContractId == contractId)
            ?? throw new AccessDeniedException($"M3: camera {cameraId}'s manifest has no export contract '{contractId}' (contracts: {string.Join(", ", m.Recipients.Select(r => r.ContractId).DefaultIfEmpty("none"))})");
        if (!contract.NoReidentification) throw new AccessDeniedException($"M3: contract {contractId} does not forbid re-identification");
        if (!contract.Classes.Contains(cls)) throw new AccessDeniedException($"M3: contract {contractId} does not cover {cls} (covers {string.Join(", ", contract.Classes)})");
        if (!contract.Purposes.Any(p => p.Ja == purpose || p.En == purpose))
            throw new AccessDeniedException($"M3: purpose '{purpose}' is not in contract {contractId} (allowed: {string.Join(", ", contract.Purposes.Select(p => p.En))})");
        if (PurposeCatalog.IsMemoryOnly(cls)) throw new AccessDeniedException($"H1: {cls} is never stored and never exported");
        var rows = _store.ReadRows(cameraId, cls, from, to);
        if (rows.FirstOrDefault(r => r.BinLength < contract.GranularityFloor) is { } fine)
            throw new AccessDeniedException($"M3: {cls} rows of camera {cameraId} have {Durations.Short(fine.BinLength)} bins, finer than contract {contractId}'s floor {Durations.Short(contract.GranularityFloor)}");
        var projected = rows.Select(r => r with { PayloadJson = Project(r.PayloadJson, contract.Fields), Blob = cls == DataClass.AnonymisedImage ? r.Blob : null }).ToList();
        long seq = _store.Audit.Append(new ExportAuditRecord(cameraId, contractId, contract.Recipient.En, cls, rows.Count, from, to, contract.Fields, purpose, m.VersionHash));
        return new ExportResult(contract, cls, projected, seq);
    }

    private static string Project(string payload, IReadOnlyList<string> fields)
    {
        var node = JsonNode.Parse(payload);
        if (node is not JsonObject obj) return "{}";
        var kept = new JsonObject();
        foreach (var f in fields)
            if (obj.TryGetPropertyValue(f, out var v)) kept[f] = v?.DeepClone();
        return kept.ToJsonString();
    }

    private void Demand(DataClass cls)
    {
        if (!AccessPolicy.CanRead(Role, cls))
            throw new AccessDeniedException(PurposeCatalog.IsMemoryOnly(cls)
                ? $"{cls} is never stored: no role can read pixels, features or per-person tracks"
                : $"role {Role} may not read {cls} (readable: {string.Join(", ", AccessPolicy.Readable(Role).DefaultIfEmpty(DataClass.AuditRecord).Where(c => AccessPolicy.CanRead(Role, c)))})");
    }
}
