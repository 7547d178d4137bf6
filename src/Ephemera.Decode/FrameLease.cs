using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Decode.Interop;

namespace Ephemera.Decode;

/// <summary>
/// One reference to a decoded picture in native pool memory: a view, never a copy. Dispose it as
/// soon as you are done: the last reference returns the block to the pool, which zeroes it.
/// <see cref="AddRef"/> makes another owner (its own lease; each must be disposed).
/// A lease that is garbage-collected undisposed is released by its finalizer, counted in
/// <see cref="PixelLedger"/> as leaked and logged.
/// </summary>
/// <remarks>
/// Lease objects are recycled (so reading frames allocates nothing in steady state): after
/// <see cref="Dispose"/> the object may come back as a different frame. Do not touch a lease after
/// disposing it.
/// </remarks>
public sealed class FrameLease : IDisposable
{
    private const int MaxPooledLeases = 1024;
    private static readonly object s_poolLock = new();
    private static readonly FrameLease[] s_pool = new FrameLease[MaxPooledLeases];
    private static int s_pooled;

    private nint _frame;            // eph_frame*, 0 once released
    private EphFrameInfo _info;
    private string _source = "";

    private FrameLease() { }

    internal static FrameLease Rent(nint nativeFrame, in EphFrameInfo info, string source)
    {
        FrameLease? lease = null;
        lock (s_poolLock)
        {
            if (s_pooled > 0) { lease = s_pool[--s_pooled]; s_pool[s_pooled] = null!; }
        }
        if (lease is null) lease = new FrameLease();
        else GC.ReRegisterForFinalize(lease);
        lease._info = info;
        lease._source = source;
        lease._frame = nativeFrame;
        return lease;
    }

    private nint Frame => _frame != 0 ? _frame : throw new ObjectDisposedException(nameof(FrameLease), $"frame {_info.Index} of {_source} was already released");

    public int Width => _info.Width;
    public int Height => _info.Height;
    public PixelFormat Format => (PixelFormat)_info.Format;
    /// <summary>True for full-range (JPEG, yuvj*) samples.</summary>
    public bool FullRange => _info.FullRange != 0;
    /// <summary>Frame number in presentation order (from 0, counting on across loops and reconnects):
    /// frames delivered or skipped before this one, so it is the same whether or not others were skipped.</summary>
    public long Index => _info.Index;
    /// <summary>Presentation timestamp in stream time-base units (long.MinValue when unknown).</summary>
    public long Pts => _info.Pts;
    /// <summary>Presentation time in seconds from the start of the stream.</summary>
    public double TimeSeconds => _info.TimeSeconds;
    /// <summary>When decoding finished, in <see cref="Stopwatch"/> ticks (same clock as <see cref="Stopwatch.GetTimestamp"/>).</summary>
    public long DecodedTimestamp => Stopwatch.Frequency == 1_000_000_000 ? _info.DecodedNs : (long)(_info.DecodedNs * (Stopwatch.Frequency / 1e9));
    /// <summary>The source's uri, for messages.</summary>
    public string Source => _source;

    /// <summary>
    /// The planes as spans over pool memory. DANGEROUS: valid only until this lease (and every
    /// <see cref="AddRef"/> copy) is disposed; the memory is zeroed then. Plane lengths are
    /// stride × rows (chroma rows = (height + 1) / 2).
    /// </summary>
    public unsafe FrameView View
    {
        get
        {
            _ = Frame;
            ref readonly var i = ref _info;
            return new FrameView(i.Width, i.Height, (PixelFormat)i.Format,
                new ReadOnlySpan<byte>((void*)i.Data0, checked((int)i.PlaneBytes0)), i.Linesize0,
                i.Data1 == 0 ? default : new ReadOnlySpan<byte>((void*)i.Data1, checked((int)i.PlaneBytes1)), i.Linesize1,
                i.Data2 == 0 ? default : new ReadOnlySpan<byte>((void*)i.Data2, checked((int)i.PlaneBytes2)), i.Linesize2,
                i.FullRange != 0);
        }
    }

    /// <summary>Another owner of the same picture (no copy). Dispose it independently.</summary>
    public FrameLease AddRef() => Rent(NativeMethods.eph_frame_addref(Frame), in _info, _source);

    /// <summary>Gives this reference back; the last one wipes the pixels. Idempotent.</summary>
    public void Dispose()
    {
        nint frame = Interlocked.Exchange(ref _frame, 0);
        if (frame == 0) return;
        NativeMethods.eph_frame_release(frame);
        GC.SuppressFinalize(this);
        lock (s_poolLock)
        {
            if (s_pooled < MaxPooledLeases) s_pool[s_pooled++] = this;
        }
    }

    ~FrameLease()
    {
        nint frame = Interlocked.Exchange(ref _frame, 0);
        if (frame == 0) return;
        NativeMethods.eph_frame_release_leaked(frame); // still wiped; counted as leaked
        DecodeLog.Write(DecodeLogLevel.Warning, $"{_source}: frame {_info.Index} was never disposed; released by the finalizer and counted as leaked");
    }
}
