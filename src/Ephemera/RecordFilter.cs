using Ephemera.Core;
using Ephemera.Governance.Records;

namespace Ephemera;

/// <summary>Which released records a reader wants (null members match everything).</summary>
public sealed record RecordFilter
{
    /// <summary>Only these cameras.</summary>
    public IReadOnlySet<string>? Cameras { get; init; }
    /// <summary>Only these data classes.</summary>
    public IReadOnlySet<DataClass>? Classes { get; init; }

    internal bool Matches(DerivedRecord r) =>
        (Cameras is null || Cameras.Contains(r.CameraId)) && (Classes is null || Classes.Contains(r.Class));
}
