using Ephemera.Governance;

namespace Ephemera.Cluster;

/// <summary>
/// What the cluster did that an auditor needs to see: a collector start, a late part of an already
/// released bin (not released on its own), a part refused (unknown camera, manifest mismatch), parts
/// dropped by a worker's full disconnection buffer.
/// </summary>
public sealed record ClusterAuditRecord(string CameraId, string Event, string Detail, long Count) : AuditRecord(CameraId)
{
    /// <inheritdoc />
    public override string Kind => "cluster";
}
