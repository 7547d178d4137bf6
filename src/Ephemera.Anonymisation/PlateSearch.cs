using System.Runtime.InteropServices;
using Ephemera.Core;

namespace Ephemera.Anonymisation;

/// <summary>
/// The plate search's geometry and its contrast normalisation, shared by the first pass and the
/// output check. No plate detector is in the model manifest, so plates are found with the text
/// detector on contrast-normalised vehicle crops, and a readable-sized vehicle whose plate zone holds
/// no plate candidate gets that zone masked (recall first).
/// </summary>
internal static class PlateSearch
{
    /// <summary>
    /// The plate zone of a vehicle box: where a plate sits for any camera above plate height (street,
    /// dashcam, overhead car park): the lower part of the box, centred, plus a thin band under it.
    /// Front and rear both face down the image, so the visible plate is at the bottom whichever way
    /// the vehicle points.
    /// </summary>
    public static BoxF Zone(in BoxF v, AnonymiseOptions o)
    {
        float w = v.W * o.PlateZoneWidth, top = v.Y + v.H * (1 - o.PlateZoneHeight);
        return BoxF.FromCorners(v.CenterX - w / 2, top, v.CenterX + w / 2, v.Bottom + v.H * ZoneBelow);
    }

    /// <summary>How far the plate zone reaches below the vehicle box, as a share of its height: boxes cut the bumper short by a few pixels.</summary>
    public const float ZoneBelow = 0.05f;

    /// <summary>
    /// A plate candidate on vehicle <paramref name="v"/> grown, about its centre, to at least the plate that
    /// vehicle would carry (<see cref="ExpectedPlateShare"/> of its width, half as tall): the text detector
    /// boxes the characters, and the plate around them carries them too (a 20 px plate whose characters
    /// were boxed about 11 px wide was 70 % masked under its × 1.3 mask).
    /// </summary>
    public static BoxF AtLeastPlateSize(in BoxF candidate, in BoxF v)
    {
        float w = MathF.Max(candidate.W, v.W * ExpectedPlateShare), h = MathF.Max(candidate.H, v.W * ExpectedPlateShare / 2);
        return new BoxF(candidate.CenterX - w / 2, candidate.CenterY - h / 2, w, h);
    }

    /// <summary>True when a plate on this vehicle would be wide enough to read (<see cref="AnonymiseOptions.PlateReadableWidth"/>).</summary>
    public static bool Readable(in BoxF v, AnonymiseOptions o) => v.W * ExpectedPlateShare >= o.PlateReadableWidth;

    /// <summary>
    /// A plate's width as a share of its vehicle's box width: 0.17–0.2 seen from behind (a 30–33 cm plate
    /// on a 1.7–1.8 m car; 0.19 measured on car-detection.mp4); the lower end so small vehicles count.
    /// </summary>
    public const float ExpectedPlateShare = 0.17f;

    /// <summary>
    /// Bytes of scratch <see cref="Normalise"/> needs for a <paramref name="w"/> × <paramref name="h"/> crop:
    /// the YUV420P output, then three integral images (count, sum and sum of squares) of (w+1)×(h+1) longs.
    /// </summary>
    public static long ScratchBytes(int w, int h) => (long)w * h * 3 / 2 + 3L * (w + 1) * (h + 1) * sizeof(long) + 64;

    /// <summary>
    /// Writes a locally contrast-normalised grey YUV420P copy of the <paramref name="w"/> × <paramref name="h"/>
    /// luma region at (<paramref name="x0"/>, <paramref name="y0"/>) into <paramref name="scratch"/>: each pixel
    /// becomes its distance from the mean of its (2r+1)² neighbourhood in units of that neighbourhood's
    /// spread (floored at <paramref name="minSpread"/> so flat paint stays flat). A white plate on a white
    /// bumper differs from it by only a few grey levels, too little for the text detector; normalised, its
    /// characters get full contrast back. Returns the byte length of the YUV420P picture at the start of
    /// <paramref name="scratch"/>. The integral images are pixel-derived (differences give pixels back),
    /// so they live in the same wiped buffer.
    /// On the output check, <paramref name="masked"/> (one byte per frame pixel, row stride <paramref name="stride"/>,
    /// non-zero = under a mask) keeps masked pixels out of every neighbourhood and writes them mid-grey:
    /// a mask's own edge is not text, and must not be found as a plate that survived.
    /// </summary>
    public static int Normalise(ReadOnlySpan<byte> y, int stride, int x0, int y0, int w, int h, int r, float minSpread, Span<byte> scratch,
        ReadOnlySpan<byte> masked = default)
    {
        int picture = w * h * 3 / 2, iw = w + 1;
        int offset = (picture + 7) & ~7, plane = iw * (h + 1) * sizeof(long);
        var cnt = MemoryMarshal.Cast<byte, long>(scratch.Slice(offset, plane));
        var sum = MemoryMarshal.Cast<byte, long>(scratch.Slice(offset + plane, plane));
        var sq = MemoryMarshal.Cast<byte, long>(scratch.Slice(offset + 2 * plane, plane));
        cnt[..iw].Clear(); sum[..iw].Clear(); sq[..iw].Clear();
        bool hasMask = !masked.IsEmpty;
        for (int j = 0; j < h; j++)
        {
            var row = y.Slice((y0 + j) * stride + x0, w);
            var m = hasMask ? masked.Slice((y0 + j) * stride + x0, w) : default;
            long rc = 0, rs = 0, rq = 0;
            int at = (j + 1) * iw;
            cnt[at] = 0; sum[at] = 0; sq[at] = 0;
            for (int i = 0; i < w; i++)
            {
                if (!hasMask || m[i] == 0)
                {
                    int v = row[i];
                    rc++; rs += v; rq += v * v;
                }
                cnt[at + i + 1] = cnt[at - iw + i + 1] + rc;
                sum[at + i + 1] = sum[at - iw + i + 1] + rs;
                sq[at + i + 1] = sq[at - iw + i + 1] + rq;
            }
        }
        var outY = scratch[..(w * h)];
        for (int j = 0; j < h; j++)
        {
            int ya = Math.Max(0, j - r), yb = Math.Min(h, j + r + 1);
            var row = y.Slice((y0 + j) * stride + x0, w);
            var m = hasMask ? masked.Slice((y0 + j) * stride + x0, w) : default;
            for (int i = 0; i < w; i++)
            {
                int xa = Math.Max(0, i - r), xb = Math.Min(w, i + r + 1);
                long n = cnt[yb * iw + xb] - cnt[ya * iw + xb] - cnt[yb * iw + xa] + cnt[ya * iw + xa];
                if (n == 0 || (hasMask && m[i] != 0)) { outY[j * w + i] = 128; continue; }
                long s = sum[yb * iw + xb] - sum[ya * iw + xb] - sum[yb * iw + xa] + sum[ya * iw + xa];
                long q = sq[yb * iw + xb] - sq[ya * iw + xb] - sq[yb * iw + xa] + sq[ya * iw + xa];
                float mean = (float)s / n, variance = MathF.Max(0, (float)q / n - mean * mean);
                float spread = MathF.Max(minSpread, MathF.Sqrt(variance));
                float v = 128 + 48 * (row[i] - mean) / spread;
                outY[j * w + i] = (byte)Math.Clamp((int)v, 0, 255);
            }
        }
        scratch.Slice(w * h, w * h / 2).Fill(128);
        return picture;
    }
}
