using System.Text;
using Ephemera.Core;
using Ephemera.Decode.Interop;

namespace Ephemera.Decode;

/// <summary>What <see cref="VideoSource.Read"/> produced.</summary>
public enum ReadStatus
{
    /// <summary>A frame was delivered; dispose its lease.</summary>
    Frame,
    /// <summary>The file ended (local, or http(s) with a known length; never when looping, never for RTSP).</summary>
    EndOfStream,
    /// <summary>A network source dropped or a reconnect attempt failed; the call waited one back-off step.
    /// A gap, not an error: call again.</summary>
    Reconnecting,
    /// <summary>The pool was at its cap: one frame was dropped and counted. Dispose leases you hold.</summary>
    PoolExhausted,
    /// <summary>The input had nothing ready; call again. (A network read stalled past
    /// <see cref="SourceOptions.ReadTimeoutMs"/> is a drop: <see cref="Reconnecting"/>.)</summary>
    Timeout,
    /// <summary>One frame nobody wanted (see <see cref="WantedFrames"/>) was never decoded: its packet was
    /// wiped unread. One result per source frame, like <see cref="Frame"/>; no lease.
    /// <see cref="VideoSource.LastSkippedIndex"/> names it.</summary>
    Skipped,
}

/// <summary>
/// One video source (file path, <c>rtsp://</c>, <c>http(s)://</c>) decoded by the native core into
/// pool memory it wipes. Use from one thread at a time; leases may be disposed on any thread and
/// may outlive the source.
/// </summary>
public sealed class VideoSource : IDisposable
{
    private readonly SourceHandle _handle;

    public string Uri { get; }
    public int Width { get; }
    public int Height { get; }
    /// <summary>Frames per second the container states (0 when unknown).</summary>
    public double FrameRate { get; }
    /// <summary>FFmpeg decoder name, e.g. <c>h264</c>.</summary>
    public string CodecName { get; }
    /// <summary>True when a hardware device decodes this source.</summary>
    public bool HardwareActive { get; }

    public long FramesDelivered => Info().FramesDelivered;
    /// <summary>Frames the container announces (0 = unknown, e.g. a live stream); a file ending well short of it is truncated.</summary>
    public long ExpectedFrames => Info().FramesExpected;
    /// <summary>Times a looping file was rewound.</summary>
    public long Loops => Info().Loops;
    /// <summary>With loop: frames of the first pass that ended well short of <see cref="ExpectedFrames"/> (a truncated file repeating its fragment); 0 = none.</summary>
    public long ShortPassFrames => Info().ShortPassFrames;
    public long FramesDroppedForPool => Info().FramesDroppedForPool;
    /// <summary>Frames never decoded because they were not wanted (<see cref="ReadStatus.Skipped"/>). They
    /// never held pixels, so <see cref="PixelLedger"/> does not count them.</summary>
    public long FramesSkipped => Info().FramesSkipped;
    /// <summary>Index of the frame the last <see cref="ReadStatus.Skipped"/> result stood for (-1 before any).</summary>
    public long LastSkippedIndex { get; private set; } = -1;

    private VideoSource(string uri, SourceHandle handle)
    {
        Uri = uri;
        _handle = handle;
        var info = Info();
        Width = info.Width;
        Height = info.Height;
        FrameRate = info.FrameRate;
        HardwareActive = info.HwActive != 0;
        unsafe { CodecName = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(info.CodecName, 32)).TrimEnd('\0'); }
    }

    /// <summary>Opens <paramref name="uri"/>. Throws <see cref="VideoSourceException"/> naming the source and the cause.</summary>
    public static unsafe VideoSource Open(string uri, SourceOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(uri);
        options ??= SourceOptions.Default;
        options.Validate();
        var p = options.ToNative();
        int status = NativeMethods.eph_source_open(uri, &p, out var handle);
        if (status < 0)
        {
            handle.Dispose();
            NativeErrors.ThrowIfFailed(status);
        }
        var source = new VideoSource(uri, handle);
        if (options.StartSeconds > 0)
        {
            try { source.Seek(options.StartSeconds); }
            catch { source.Dispose(); throw; }
        }
        return source;
    }

    /// <summary>
    /// Moves a file source to the keyframe at or before <paramref name="seconds"/> from its start (no
    /// frame is decoded to get there). The frames that follow keep the indexes a full decode gives
    /// them (the keyframe's is its time × frame rate, constant-rate files), so <see cref="WantedFrames"/>
    /// and skipping work as before. Throws <see cref="VideoSourceException"/> for a network source or
    /// a container that cannot seek.
    /// </summary>
    public void Seek(double seconds)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        NativeErrors.ThrowIfFailed(NativeMethods.eph_source_seek(_handle, seconds));
    }

    /// <summary>
    /// Decodes the next frame. On <see cref="ReadStatus.Frame"/>, <paramref name="frame"/> is a lease you
    /// must dispose; for every other status it is null. Decode failures throw
    /// <see cref="VideoSourceException"/> naming the source. No managed allocation in steady state.
    /// </summary>
    public ReadStatus Read(out FrameLease? frame) => Read(out frame, WantedFrames.All);

    /// <summary>
    /// As <see cref="Read(out FrameLease?)"/>, and frames outside <paramref name="wanted"/> that nothing
    /// else is predicted from (H.264 non-reference pictures) are never decoded: such a read returns
    /// <see cref="ReadStatus.Skipped"/> instead of a frame. Reference frames are always decoded and
    /// delivered (dispose the ones you do not need), so every frame delivered is bit-exact with a full
    /// decode and keeps the <see cref="FrameLease.Index"/> it has there; a wanted frame is never skipped.
    /// Frame and Skipped results together number one per source frame. Other codecs, and streams
    /// without timestamps, skip nothing.
    /// </summary>
    public unsafe ReadStatus Read(out FrameLease? frame, WantedFrames wanted)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        nint native;
        EphFrameInfo info;
        int status = NativeMethods.eph_source_read_wanted(_handle, &native, &info, wanted.From, wanted.Every < 1 ? 1 : wanted.Every);
        frame = null;
        switch ((NativeStatus)status)
        {
            case NativeStatus.Ok:
                frame = FrameLease.Rent(native, in info, Uri);
                return ReadStatus.Frame;
            case NativeStatus.EndOfFile: return ReadStatus.EndOfStream;
            case NativeStatus.Again: return ReadStatus.Timeout;
            case NativeStatus.Reconnecting: return ReadStatus.Reconnecting;
            case NativeStatus.PoolExhausted: return ReadStatus.PoolExhausted;
            case NativeStatus.Skipped:
                LastSkippedIndex = info.Index;
                return ReadStatus.Skipped;
            default:
                NativeErrors.ThrowIfFailed(status);
                throw new InvalidOperationException($"{Uri}: unexpected native status {status}");
        }
    }

    private unsafe EphSourceInfo Info()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        EphSourceInfo info;
        NativeErrors.ThrowIfFailed(NativeMethods.eph_source_get_info(_handle, &info));
        return info;
    }

    /// <summary>Closes the decoder; its free blocks are wiped. Leases still held stay valid.</summary>
    public void Dispose() => _handle.Dispose();
}
