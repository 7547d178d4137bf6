using Ephemera.Core;

namespace Ephemera.Inference.Preprocess;

/// <summary>
/// Shapes a fully convolutional detector's input to the cameras it serves. A square input
/// letterboxes a 4:3 or 16:9 frame with 25–44% padding that the network still computes; fitting
/// the tensor to the frames keeps the letterbox scale of the square input — so every object is the
/// same size in tensor pixels and the detections are the same — and drops most of that padding.
/// </summary>
public static class InputShape
{
    /// <summary>
    /// The smallest tensor (both sides multiples of 32) that holds every source letterboxed at the
    /// scale a <paramref name="side"/>² input would give it, min(side / w, side / h). Landscape
    /// sources only give side × ceil32(side·h/w); a mix of landscape and portrait gives the square.
    /// No sources: the square.
    /// </summary>
    public static (int Width, int Height) FitToSources(int side, IEnumerable<(int Width, int Height)> sources)
    {
        if (side <= 0 || side % 32 != 0) throw new EphemeraException($"detector input side must be a positive multiple of 32, got {side}");
        int w = 0, h = 0;
        foreach (var (sw, sh) in sources)
        {
            if (sw <= 0 || sh <= 0) throw new EphemeraException($"source frame size must be positive, got {sw}x{sh}");
            double r = Math.Min((double)side / sw, (double)side / sh);
            w = Math.Max(w, Ceil32(sw * r));
            h = Math.Max(h, Ceil32(sh * r));
        }
        return w == 0 ? (side, side) : (Math.Min(w, side), Math.Min(h, side));
    }

    // The tolerance absorbs floating-point error when the content fills the side exactly (e.g. 416.0000001).
    private static int Ceil32(double x) => Math.Max(32, ((int)Math.Ceiling(x - 1e-6) + 31) / 32 * 32);
}
