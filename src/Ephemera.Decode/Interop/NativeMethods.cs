using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ephemera.Decode.Interop;

// Mirrors native/include/ephemera.h in the same order. Raw pointers stay internal to this
// assembly; the public types (VideoSource, FrameLease, PixelBuffer, PixelLedger) own them.

/// <summary><c>eph_status</c>: non-negative outcomes, negative failures.</summary>
internal enum NativeStatus
{
    Ok = 0,
    EndOfFile = 1,
    Again = 2,
    Reconnecting = 3,
    PoolExhausted = 4,
    Skipped = 5,
    InvalidArgument = -1,
    OpenFailed = -2,
    DecodeFailed = -3,
    OutOfMemory = -4,
    GaveUp = -5,
    TooSmall = -6,
}

/// <summary><c>eph_source_params</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct EphSourceParams
{
    public int HwDecode;
    public int RtspTransport;
    public int PoolBuffers;
    public int DecoderThreads;
    public int ReconnectInitialMs;
    public int ReconnectMaxMs;
    public int ReconnectMaxAttempts;
    public int ReadTimeoutMs;
    public int Loop;
    public int Paced;
    public delegate* unmanaged[Cdecl]<int, byte*, void*, void> LogCallback;
    public void* LogUserData;
    public int LoopFilter;
    public int FastDecode;
    public int ThreadType;
}

/// <summary><c>eph_frame_info</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct EphFrameInfo
{
    public nint Data0, Data1, Data2;
    public int Linesize0, Linesize1, Linesize2;
    public long PlaneBytes0, PlaneBytes1, PlaneBytes2;
    public int Width;
    public int Height;
    public int Format;
    public int FullRange;
    public long Pts;
    public double TimeSeconds;
    public long Index;
    public long DecodedNs;
}

/// <summary><c>eph_source_info</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct EphSourceInfo
{
    public int Width;
    public int Height;
    public double FrameRate;
    public fixed byte CodecName[32];
    public int HwActive;
    public long FramesDelivered;
    public long FramesDroppedForPool;
    public long FramesSkipped;
    public long FramesExpected;
    public long Loops;
    public long ShortPassFrames;
}

/// <summary><c>eph_ledger</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct EphLedger
{
    public const int LifetimeBuckets = 96; // EPH_LIFETIME_BUCKETS
    public long Allocated;
    public long Wiped;
    public long InUse;
    public long Peak;
    public long Leaked;
    public long DroppedForPool;
    public long BytesReserved;
    public long LifetimeMaxUs;
    public long LifetimeCount;
    public fixed long LifetimeHist[LifetimeBuckets];
    public long EngineHeldMaxUs;
    public long EngineHeldCount;
    public fixed long EngineHeldHist[LifetimeBuckets];
    public long DecoderHeldMaxUs;
    public long DecoderHeldCount;
    public fixed long DecoderHeldHist[LifetimeBuckets];
}

internal static unsafe partial class NativeMethods
{
    private const string Lib = "ephemera_native";

    // ---- sources ----
    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial EphSourceParams eph_source_default_params();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int eph_source_open(string uri, EphSourceParams* parameters, out SourceHandle source);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int eph_source_get_info(SourceHandle source, EphSourceInfo* info);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int eph_source_read(SourceHandle source, nint* frame, EphFrameInfo* info);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int eph_source_read_wanted(SourceHandle source, nint* frame, EphFrameInfo* info, long wantFrom, long wantEvery);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int eph_source_seek(SourceHandle source, double timeSeconds);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void eph_source_close(nint source);

    // ---- frames ----
    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial nint eph_frame_addref(nint frame);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void eph_frame_release(nint frame);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void eph_frame_release_leaked(nint frame);

    // ---- generic pixel buffers ----
    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial PixelBufferHandle eph_pixbuf_alloc(nuint bytes);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* eph_pixbuf_data(PixelBufferHandle buffer);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial nuint eph_pixbuf_size(PixelBufferHandle buffer);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void eph_pixbuf_free(nint buffer);

    [LibraryImport(Lib)]
    internal static partial void eph_pixbuf_set_reused(PixelBufferHandle buffer);

    // ---- image encoding ----
    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int eph_jpeg_encode(byte* y, int strideY, byte* u, byte* v, int strideC,
        int width, int height, int fullRange, int qscale, byte* output, nuint outputCapacity, nuint* outputSize);

    // ---- ledger and audit ----
    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int eph_ledger_snapshot(EphLedger* ledger);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void eph_ledger_reset_lifetimes();

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void eph_ledger_count_external_allocated();

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void eph_ledger_count_external_wiped(long lifetimeNs);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial long eph_pool_scan(byte* pattern, nuint length);

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* eph_last_error();

    [LibraryImport(Lib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* eph_version();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void eph_profile_mark(string phase);

    /// <summary>The calling thread's last native failure text.</summary>
    internal static string LastError() => Marshal.PtrToStringUTF8((nint)eph_last_error()) ?? "";
}
