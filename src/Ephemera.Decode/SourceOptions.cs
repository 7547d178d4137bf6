using Ephemera.Core;
using Ephemera.Decode.Interop;

namespace Ephemera.Decode;

/// <summary>Which decoder hardware to use.</summary>
public enum HardwareDecode
{
    /// <summary>Try CUDA, then VA-API; fall back to software with one log line.</summary>
    Auto = 0,
    /// <summary>Software only.</summary>
    None = 1,
    /// <summary>NVDEC through CUDA (software when no device, one log line).</summary>
    Cuda = 2,
    /// <summary>VA-API (software when no device, one log line).</summary>
    Vaapi = 3,
}

/// <summary>How RTP travels for <c>rtsp://</c> sources.</summary>
public enum RtspTransport
{
    /// <summary>Interleaved on the RTSP TCP connection: no loss, passes NAT (default).</summary>
    Tcp = 0,
    /// <summary>RTP over UDP.</summary>
    Udp = 1,
}

/// <summary>
/// How a <see cref="VideoSource"/> is opened. Immutable; validated by <see cref="Validate"/> (which
/// <see cref="VideoSource.Open"/> calls) so a bad value is reported by name before anything opens.
/// </summary>
public sealed record SourceOptions
{
    public HardwareDecode Hardware { get; init; } = HardwareDecode.Auto;
    public RtspTransport Transport { get; init; } = RtspTransport.Tcp;
    /// <summary>Cap on pixel blocks the source may hold (decoder references plus leased frames). At the
    /// cap a frame is dropped and counted (<see cref="ReadStatus.PoolExhausted"/>); the pool never grows.</summary>
    public int PoolBuffers { get; init; } = 32;
    /// <summary>FFmpeg decoder threads; 0 = one per core, at most 8. Each frame thread holds a pool
    /// block, so raise <see cref="PoolBuffers"/> with it.</summary>
    public int DecoderThreads { get; init; } = 0;
    /// <summary>File sources: restart at end of file (frame index keeps counting).</summary>
    public bool Loop { get; init; }
    /// <summary>Deliver at the stream's native frame rate, like a live camera.</summary>
    public bool Paced { get; init; }
    /// <summary>First back-off after a network source drops, ms; doubles up to <see cref="ReconnectMaxMs"/>.</summary>
    public int ReconnectInitialMs { get; init; } = 500;
    public int ReconnectMaxMs { get; init; } = 10000;
    /// <summary>Failed reconnects before the source gives up (throws); -1 = forever.</summary>
    public int ReconnectMaxAttempts { get; init; } = -1;
    /// <summary>A blocking network open/read is interrupted after this many ms.</summary>
    public int ReadTimeoutMs { get; init; } = 5000;

    public static SourceOptions Default { get; } = new();

    /// <summary>Throws <see cref="EphemeraException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (PoolBuffers < 4) throw new EphemeraException($"SourceOptions.PoolBuffers must be >= 4 (got {PoolBuffers})");
        if (DecoderThreads < 0) throw new EphemeraException($"SourceOptions.DecoderThreads must be >= 0 (got {DecoderThreads})");
        if (ReconnectInitialMs < 1) throw new EphemeraException($"SourceOptions.ReconnectInitialMs must be >= 1 (got {ReconnectInitialMs})");
        if (ReconnectMaxMs < ReconnectInitialMs)
            throw new EphemeraException($"SourceOptions.ReconnectMaxMs ({ReconnectMaxMs}) must be >= ReconnectInitialMs ({ReconnectInitialMs})");
        if (ReconnectMaxAttempts < -1) throw new EphemeraException($"SourceOptions.ReconnectMaxAttempts must be -1 (forever) or >= 0 (got {ReconnectMaxAttempts})");
        if (ReadTimeoutMs < 1) throw new EphemeraException($"SourceOptions.ReadTimeoutMs must be >= 1 (got {ReadTimeoutMs})");
        if (!Enum.IsDefined(Hardware)) throw new EphemeraException($"SourceOptions.Hardware: unknown value {(int)Hardware}");
        if (!Enum.IsDefined(Transport)) throw new EphemeraException($"SourceOptions.Transport: unknown value {(int)Transport}");
    }

    internal unsafe EphSourceParams ToNative()
    {
        var p = NativeMethods.eph_source_default_params();
        p.HwDecode = (int)Hardware;
        p.RtspTransport = (int)Transport;
        p.PoolBuffers = PoolBuffers;
        p.DecoderThreads = DecoderThreads;
        p.ReconnectInitialMs = ReconnectInitialMs;
        p.ReconnectMaxMs = ReconnectMaxMs;
        p.ReconnectMaxAttempts = ReconnectMaxAttempts;
        p.ReadTimeoutMs = ReadTimeoutMs;
        p.Loop = Loop ? 1 : 0;
        p.Paced = Paced ? 1 : 0;
        p.LogCallback = &DecodeLog.FromNative;
        p.LogUserData = null;
        return p;
    }
}
