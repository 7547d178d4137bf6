using Ephemera.Tracking;

namespace Ephemera.Runtime;

/// <summary>
/// Tracker options for live detector output. The tracker's defaults were measured on MOT15's public
/// detections (rescaled scores, new tracks only from the top decile); a live YOLOX detector scores
/// clearly visible people from about 0.5, so new tracks start at 0.6 and the high stage at 0.5,
/// while weaker boxes (down to the detector's 0.1 floor) still extend tracks in BYTE's second stage.
/// </summary>
public static class LiveTracking
{
    public static TrackerOptions Options { get; } = TrackerOptions.Default with { HighScore = 0.5f, NewTrackScore = 0.6f };
}
