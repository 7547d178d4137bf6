using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>Who reads the store (M2 access rights).</summary>
public enum Role { Operator, Analyst, Auditor, ExportOfficer, Public }

/// <summary>Thrown when a role reads what it may not, or an export breaks its contract.</summary>
public sealed class AccessDeniedException(string message) : EphemeraException(message);

/// <summary>
/// Which role may read which data class. Raw frames, feature vectors and tracks are readable by no one:
/// they are never stored. Export officers read nothing directly; they export under a contract.
/// </summary>
public static class AccessPolicy
{
    private static readonly DataClass[] Aggregates =
    [
        DataClass.Count, DataClass.ZoneOccupancy, DataClass.DwellHistogram, DataClass.TransitionMatrix,
        DataClass.HeatMap, DataClass.AttributeAggregate, DataClass.CrowdLevel, DataClass.Trajectory,
    ];

    public static bool CanRead(Role role, DataClass cls)
    {
        if (PurposeCatalog.IsMemoryOnly(cls)) return false;
        return role switch
        {
            Role.Operator => true,
            Role.Analyst => Aggregates.Contains(cls),
            Role.Auditor => cls == DataClass.AuditRecord,
            Role.Public => cls is DataClass.CrowdLevel or DataClass.IconImage,
            _ => false,
        };
    }

    /// <summary>The readable classes of a role, for reports.</summary>
    public static IEnumerable<DataClass> Readable(Role role) => Enum.GetValues<DataClass>().Where(c => CanRead(role, c));
}
