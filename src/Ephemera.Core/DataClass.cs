namespace Ephemera.Core;

/// <summary>
/// Every class of data the pipeline can produce (guidebook BP-a, M2). A manifest must declare each
/// class a camera's pipeline produces, with storage location, responsible party and retention.
/// </summary>
public enum DataClass
{
    RawFrame,
    FeatureVector,
    Track,
    Trajectory,
    Count,
    ZoneOccupancy,
    DwellHistogram,
    TransitionMatrix,
    HeatMap,
    AttributeAggregate,
    IconImage,
    CrowdLevel,
    AnonymisedImage,
    AuditRecord,
}
