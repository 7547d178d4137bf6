using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ephemera.Core;

namespace Ephemera.Runtime.Scheduling;

/// <summary>
/// How much of the picture changed since a reference frame, from the luma plane at 1/8 scale: each
/// cell is the mean of an 8×8 block (which averages compression noise away), and a cell counts as
/// changed when its mean moved by more than <see cref="PixelDelta"/>. Reads the frame while its lease
/// is held and keeps only the 1/8-scale means (1/64 of the luma, no colour) in two buffers of its
/// own, sized at the first frame and reused: no per-frame allocation. The means are too coarse to
/// show a face; they are still pixel-derived, so they are wiped with the meter
/// (<see cref="Dispose"/>) and when the frame size changes.
/// </summary>
public sealed class MotionMeter : IDisposable
{
    /// <summary>Cells are this many pixels square.</summary>
    public const int Scale = 8;
    /// <summary>The border band where a new object enters: this share of the shorter side, on every edge.</summary>
    public const double EdgeShare = 0.08;

    private byte[] _current = [], _reference = [];
    private byte[] _ignored = [];   // 0xFF: a cell inside a confidently tracked object's box, whose own movement the tracker follows
    private byte[] _none = [];      // a row of zeros: nothing ignored (ChangedIn)
    private int[] _sums = [];
    private bool _hasReference;

    public MotionMeter(int pixelDelta)
    {
        if (pixelDelta is < 1 or > 255) throw new ArgumentOutOfRangeException(nameof(pixelDelta), pixelDelta, "luma levels, 1…255");
        PixelDelta = pixelDelta;
    }

    public int PixelDelta { get; }
    /// <summary>Cells across and down at the last measured frame's size.</summary>
    public int Columns { get; private set; }
    public int Rows { get; private set; }
    /// <summary>Cells in the border band on each side.</summary>
    public int EdgeCells { get; private set; }
    /// <summary>Share of all cells changed against the reference at the last <see cref="Measure"/> (1 without a reference).</summary>
    public double Changed { get; private set; } = 1;
    /// <summary>Share of the border band's cells changed at the last <see cref="Measure"/> (1 without a reference).</summary>
    public double EdgeChanged { get; private set; } = 1;
    /// <summary>False until <see cref="SetReference"/>, and again after a frame of another size.</summary>
    public bool HasReference => _hasReference;

    /// <summary>Forgets the ignored boxes (<see cref="Ignore"/>).</summary>
    public void ClearIgnored() => Array.Clear(_ignored);

    /// <summary>
    /// Leaves the cells under <paramref name="box"/> (image pixels), grown by <paramref name="grow"/> of
    /// its size on every side, out of the next comparisons: a tracked person's own fidgeting is not
    /// new motion; a move out of the box is. No effect before the first frame (the size is unknown).
    /// </summary>
    public void Ignore(in BoxF box, float grow)
    {
        if (Columns == 0 || !CellRange(box, grow, out int x0, out int x1, out int y0, out int y1)) return;
        for (int y = y0; y <= y1; y++) _ignored.AsSpan(y * Columns + x0, x1 - x0 + 1).Fill(0xFF);
    }

    /// <summary>
    /// Share of the cells under <paramref name="box"/> (grown by <paramref name="grow"/> of its size on
    /// every side) that changed between the last measured frame and the reference, ignored or not:
    /// whether a tracked object itself is moving. 0 without a reference or for a box outside the frame.
    /// </summary>
    public double ChangedIn(in BoxF box, float grow)
    {
        if (!_hasReference || Columns == 0) return 0;
        if (!CellRange(box, grow, out int x0, out int x1, out int y0, out int y1)) return 0;
        int n = x1 - x0 + 1, changed = 0;
        for (int y = y0; y <= y1; y++)
            changed += CountChanged(_current.AsSpan(y * Columns + x0, n), _reference.AsSpan(y * Columns + x0, n), _none.AsSpan(0, n), PixelDelta);
        return (double)changed / (n * (y1 - y0 + 1));
    }

    /// <summary>The cells under a grown box, clipped to the frame; false when none are.</summary>
    private bool CellRange(in BoxF box, float grow, out int x0, out int x1, out int y0, out int y1)
    {
        x0 = Math.Max(0, (int)Math.Floor((box.X - grow * box.W) / Scale)); x1 = Math.Min(Columns - 1, (int)Math.Floor((box.X + box.W * (1 + grow)) / Scale));
        y0 = Math.Max(0, (int)Math.Floor((box.Y - grow * box.H) / Scale)); y1 = Math.Min(Rows - 1, (int)Math.Floor((box.Y + box.H * (1 + grow)) / Scale));
        return x1 >= x0 && y1 >= y0;
    }

    /// <summary>Averages the frame's luma into cells and compares them with the reference.</summary>
    /// <returns>False for a frame without a luma plane (packed BGR) or smaller than one cell: treat as moving.</returns>
    public bool Measure(in FrameView frame)
    {
        if (frame.Format is not (PixelFormat.Yuv420P or PixelFormat.Nv12 or PixelFormat.Gray8) || frame.Width < Scale || frame.Height < Scale)
        {
            Changed = EdgeChanged = 1;
            return false;
        }
        int cols = frame.Width / Scale, rows = frame.Height / Scale; // a partial block at the right or bottom is left out
        if (cols != Columns || rows != Rows) Resize(cols, rows);
        Downsample(frame.Plane0, frame.Stride0, cols, rows, _sums, _current);
        if (!_hasReference) { Changed = EdgeChanged = 1; return true; }
        Compare();
        return true;
    }

    /// <summary>The last measured frame becomes the reference the next ones are compared with.</summary>
    public void SetReference()
    {
        if (Columns == 0) return;
        (_current, _reference) = (_reference, _current);
        _hasReference = true;
    }

    private void Resize(int cols, int rows)
    {
        Wipe();
        Columns = cols; Rows = rows;
        _current = new byte[cols * rows];
        _reference = new byte[cols * rows];
        _sums = new int[cols];
        _ignored = new byte[cols * rows];
        _none = new byte[cols];
        EdgeCells = Math.Max(1, (int)Math.Round(Math.Min(cols, rows) * EdgeShare));
        _hasReference = false;
    }

    /// <summary>Each cell's mean of its 8×8 block. SSE2's sum of absolute differences against zero adds 8 bytes at once.</summary>
    internal static void Downsample(ReadOnlySpan<byte> y, int stride, int cols, int rows, Span<int> sums, Span<byte> cells)
    {
        ref byte origin = ref MemoryMarshal.GetReference(y);
        for (int r = 0; r < rows; r++)
        {
            sums.Clear();
            for (int k = 0; k < Scale; k++)
            {
                int rowStart = (r * Scale + k) * stride;
                int c = 0;
                if (Sse2.IsSupported)
                {
                    // Two cells per 16 bytes; the last pair needs 16 readable bytes of this row.
                    for (; c + 2 <= cols; c += 2)
                    {
                        var v = Vector128.LoadUnsafe(ref origin, (nuint)(rowStart + c * Scale));
                        var s = Sse2.SumAbsoluteDifferences(v, Vector128<byte>.Zero).AsInt32(); // lanes 0 and 2
                        sums[c] += s.GetElement(0);
                        sums[c + 1] += s.GetElement(2);
                    }
                }
                for (; c < cols; c++)
                {
                    int sum = 0, at = rowStart + c * Scale;
                    for (int i = 0; i < Scale; i++) sum += Unsafe.Add(ref origin, at + i);
                    sums[c] += sum;
                }
            }
            var line = cells.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++) line[c] = (byte)((sums[c] + Scale * Scale / 2) / (Scale * Scale));
        }
    }

    private void Compare()
    {
        int cols = Columns, rows = Rows, band = EdgeCells;
        long changed = 0, edge = 0;
        for (int r = 0; r < rows; r++)
        {
            var cur = _current.AsSpan(r * cols, cols);
            var reference = _reference.AsSpan(r * cols, cols);
            var ignored = _ignored.AsSpan(r * cols, cols);
            int n = CountChanged(cur, reference, ignored, PixelDelta);
            changed += n;
            if (r < band || r >= rows - band) edge += n;
            else
            {
                int side = Math.Min(band, cols / 2);
                edge += CountChanged(cur[..side], reference[..side], ignored[..side], PixelDelta) +
                        CountChanged(cur[^side..], reference[^side..], ignored[^side..], PixelDelta);
            }
        }
        long total = (long)cols * rows;
        long inner = (long)Math.Max(0, cols - 2 * band) * Math.Max(0, rows - 2 * band);
        Changed = (double)changed / total;
        EdgeChanged = total - inner > 0 ? (double)edge / (total - inner) : 0;
    }

    /// <summary>Cells not <paramref name="ignored"/> whose means differ by more than <paramref name="delta"/>; 16 at a time where the CPU has vectors.</summary>
    internal static int CountChanged(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> ignored, int delta)
    {
        int count = 0, i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var limit = Vector128.Create((byte)delta);
            ref byte ra = ref MemoryMarshal.GetReference(a);
            ref byte rb = ref MemoryMarshal.GetReference(b);
            ref byte ri = ref MemoryMarshal.GetReference(ignored);
            for (; i + 16 <= a.Length; i += 16)
            {
                var va = Vector128.LoadUnsafe(ref ra, (nuint)i);
                var vb = Vector128.LoadUnsafe(ref rb, (nuint)i);
                var diff = Vector128.Max(va, vb) - Vector128.Min(va, vb);
                var changed = Vector128.AndNot(Vector128.GreaterThan(diff, limit), Vector128.LoadUnsafe(ref ri, (nuint)i));
                count += BitOperations.PopCount(changed.ExtractMostSignificantBits());
            }
        }
        for (; i < a.Length; i++) if (ignored[i] == 0 && Math.Abs(a[i] - b[i]) > delta) count++;
        return count;
    }

    private void Wipe()
    {
        Array.Clear(_current);
        Array.Clear(_reference);
        Array.Clear(_sums);
        _hasReference = false;
    }

    public void Dispose() => Wipe();
}
