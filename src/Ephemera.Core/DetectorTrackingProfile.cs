namespace Ephemera.Core;

/// <summary>
/// What a tracker should know about one detector's boxes, from the model manifest
/// (<c>tracking:</c> in <c>models/models.yaml</c>). The tracker's defaults were fitted on MOT15's
/// public Faster R-CNN boxes; a small real-time detector's boxes jitter more from frame to frame, so
/// its entry says how much, and the tracker trusts each box (and a change of size) that much less.
/// Null fields keep the tracker's defaults.
/// </summary>
/// <param name="MeasurementNoise">Std of the box error per unit of box size (Kalman measurement noise).</param>
/// <param name="SizeVelocityNoise">Std of the width/height velocity noise per unit of box size.</param>
public sealed record DetectorTrackingProfile(double? MeasurementNoise, double? SizeVelocityNoise);
