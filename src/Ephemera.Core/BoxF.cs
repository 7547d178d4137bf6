using System.Runtime.InteropServices;

namespace Ephemera.Core;

/// <summary>An axis-aligned box in source pixels: top-left corner, width and height.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct BoxF(float X, float Y, float W, float H)
{
    public float Right => X + W;
    public float Bottom => Y + H;
    public float CenterX => X + W * 0.5f;
    public float CenterY => Y + H * 0.5f;
    public float Area => W > 0 && H > 0 ? W * H : 0f;

    public static BoxF FromCorners(float x1, float y1, float x2, float y2) => new(x1, y1, x2 - x1, y2 - y1);

    /// <summary>Intersection over union; 0 when either box is empty.</summary>
    public static float IoU(in BoxF a, in BoxF b)
    {
        float ix = MathF.Min(a.Right, b.Right) - MathF.Max(a.X, b.X);
        float iy = MathF.Min(a.Bottom, b.Bottom) - MathF.Max(a.Y, b.Y);
        if (ix <= 0 || iy <= 0) return 0f;
        float inter = ix * iy;
        float union = a.Area + b.Area - inter;
        return union > 0 ? inter / union : 0f;
    }
}
