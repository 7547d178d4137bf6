using System.Runtime.CompilerServices;
using Ephemera.Core;

namespace Ephemera.Tracking;

/// <summary>Four doubles inline (no array, no allocation).</summary>
[InlineArray(4)]
internal struct Four { private double _e; }

/// <summary>
/// Constant-velocity Kalman filter on a box. State (8-D, as in ByteTrack but with width instead of
/// aspect, as in BoT-SORT): <c>[cx, cy, w, h, vcx, vcy, vw, vh]</c> — centre, size, and their
/// per-frame velocities. Measurement: <c>[cx, cy, w, h]</c>. Process and measurement noise are
/// diagonal with standard deviations proportional to the box size (x and w scale with w, y and h
/// with h). With diagonal noise and a diagonal initial covariance, the 8×8 filter never couples
/// different coordinates, so it is exactly four independent 2-state filters (position, velocity);
/// we store each as its 2×2 covariance <c>(Ppp, Ppv, Pvv)</c>.
/// </summary>
internal struct KalmanBox
{
    public Four Pos, Vel, Ppp, Ppv, Pvv;

    public static KalmanBox Initiate(in BoxF box, double posNoise, double velNoise)
    {
        var k = new KalmanBox();
        Measure(box, out var z);
        for (int i = 0; i < 4; i++)
        {
            double size = SizeFor(i, z);
            k.Pos[i] = z[i];
            k.Vel[i] = 0;
            k.Ppp[i] = Sq(2 * posNoise * size);
            k.Ppv[i] = 0;
            k.Pvv[i] = Sq(10 * velNoise * size);
        }
        return k;
    }

    /// <summary>
    /// One frame ahead: p += v; P = F P Fᵀ + Q. <paramref name="sizeVelNoise"/> is the velocity
    /// noise of w and h (the centre's is <paramref name="velNoise"/>): a person walking toward the
    /// camera grows steadily, so the size may change faster than the constant-size prior allows.
    /// </summary>
    public void Predict(double posNoise, double velNoise, double sizeVelNoise)
    {
        // A shrinking box must not go through zero size (OC-SORT guards area the same way).
        if (Pos[2] + Vel[2] <= 1) Vel[2] = 0;
        if (Pos[3] + Vel[3] <= 1) Vel[3] = 0;
        double w = Pos[2], h = Pos[3];
        for (int i = 0; i < 4; i++)
        {
            double size = (i & 1) == 0 ? w : h;
            Pos[i] += Vel[i];
            double pp = Ppp[i], pv = Ppv[i], vv = Pvv[i];
            Ppp[i] = pp + 2 * pv + vv + Sq(posNoise * size);
            Ppv[i] = pv + vv;
            Pvv[i] = vv + Sq((i < 2 ? velNoise : sizeVelNoise) * size);
        }
    }

    /// <summary>Correct with an observed box: gain K = P Hᵀ / (H P Hᵀ + R), per coordinate.</summary>
    public void Update(in BoxF box, double posNoise)
    {
        Measure(box, out var z);
        double w = Pos[2], h = Pos[3];
        for (int i = 0; i < 4; i++)
        {
            double size = (i & 1) == 0 ? w : h;
            double s = Ppp[i] + Sq(posNoise * size);
            double k0 = Ppp[i] / s, k1 = Ppv[i] / s;
            double innovation = z[i] - Pos[i];
            Pos[i] += k0 * innovation;
            Vel[i] += k1 * innovation;
            double pp = Ppp[i], pv = Ppv[i];
            Ppp[i] = (1 - k0) * pp;
            Ppv[i] = (1 - k0) * pv;
            Pvv[i] -= k1 * pv;
        }
    }

    public readonly BoxF Box
    {
        get
        {
            float w = (float)Math.Max(Pos[2], 1), h = (float)Math.Max(Pos[3], 1);
            return new BoxF((float)Pos[0] - w / 2, (float)Pos[1] - h / 2, w, h);
        }
    }

    private static void Measure(in BoxF b, out Four z)
    {
        z = default;
        z[0] = b.X + b.W * 0.5; z[1] = b.Y + b.H * 0.5; z[2] = b.W; z[3] = b.H;
    }

    private static double SizeFor(int i, in Four z) => (i & 1) == 0 ? z[2] : z[3];
    private static double Sq(double v) => v * v;
}

/// <summary>The last few observations of a track (frame and box), newest last; for OCM's direction.</summary>
internal struct ObservationRing
{
    public const int Capacity = 8;
    [InlineArray(Capacity)] private struct Frames { private long _e; }
    [InlineArray(Capacity)] private struct Boxes { private BoxF _e; }
    private Frames _frames;
    private Boxes _boxes;
    private int _count, _next;

    public void Clear() { _count = 0; _next = 0; }

    public void Add(long frame, in BoxF box)
    {
        _frames[_next] = frame; _boxes[_next] = box;
        _next = (_next + 1) % Capacity;
        if (_count < Capacity) _count++;
    }

    /// <summary>
    /// OC-SORT's <c>k_previous_obs</c>: the observation made Δ frames before <paramref name="now"/>,
    /// else Δ−1, … 1 frames before, else the newest one. False when there is none.
    /// </summary>
    public readonly bool TryGetPrevious(long now, int delta, out BoxF box)
    {
        for (int dt = delta; dt >= 1; dt--)
            for (int k = 0; k < _count; k++)
            {
                int slot = (_next - 1 - k + 2 * Capacity) % Capacity;
                if (_frames[slot] == now - dt) { box = _boxes[slot]; return true; }
            }
        if (_count == 0) { box = default; return false; }
        box = _boxes[(_next - 1 + Capacity) % Capacity];
        return true;
    }
}
