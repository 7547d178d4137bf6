namespace Ephemera.Core;

/// <summary>Lifecycle of a track (ByteTrack's states, made explicit).</summary>
public enum TrackState : byte
{
    /// <summary>Seen, not yet confirmed by enough consecutive hits; never counted by analytics.</summary>
    Tentative,
    /// <summary>Confirmed and matched (or predicted within its gap allowance).</summary>
    Confirmed,
    /// <summary>Confirmed once, currently unmatched; kept for re-association.</summary>
    Lost,
    /// <summary>Gone for good; analytics evict any per-track state when they see this.</summary>
    Removed,
}

/// <summary>
/// One track as the tracker reports it after an update: no appearance, only motion and box.
/// Ids are per tracker instance (one tracker per camera), never linked across cameras.
/// </summary>
public readonly record struct TrackedObject(
    int TrackId,
    int ClassId,
    BoxF Box,
    float Score,
    TrackState State,
    /// <summary>True when this frame's box comes from a detection, false when predicted only.</summary>
    bool Observed);
