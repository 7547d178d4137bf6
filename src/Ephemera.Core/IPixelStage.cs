namespace Ephemera.Core;

/// <summary>
/// A second stage on a frame's pixels after its detections came back (face crops for attributes,
/// masks for anonymisation). Engine-internal: hosts never receive pixels, so this type is not
/// part of the <c>Ephemera</c> front door; the purposes that need it (cases 1 and 4) install it.
/// </summary>
public interface IPixelStage
{
    /// <summary>Name for counters and logs.</summary>
    string Name { get; }

    /// <summary>
    /// Runs on the stage's own thread with the still-held frame and its detections (frame coordinates).
    /// The view is valid only during the call: the frame is wiped right after the last stage returns.
    /// </summary>
    void Process(in FrameView frame, Detections detections, long frameIndex);
}

