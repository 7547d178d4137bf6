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

/// <summary>Which decoded pictures skip H.264/HEVC's in-loop deblocking filter (<c>skip_loop_filter</c>).</summary>
public enum LoopFilter
{
    /// <summary>Deblock every picture (bit-exact decode).</summary>
    Full = 0,
    /// <summary>Skip it on pictures no other picture references: the difference never propagates.</summary>
    SkipNonRef = 1,
    /// <summary>Skip it everywhere: ~15% less H.264 decode CPU at 1080p (B-pictures only: ~10%); differences carry until the next keyframe.</summary>
    SkipAll = 2,
    /// <summary>Skip it on B-pictures (and non-reference pictures); I- and P-pictures keep it, but what reference
    /// B-pictures change carries into the pictures predicted from them until the next keyframe.</summary>
    SkipBidir = 3,
}

/// <summary>How FFmpeg splits one stream's decode over its <see cref="SourceOptions.DecoderThreads"/>.</summary>
public enum DecoderThreadType
{
    /// <summary>Frame and slice threads, FFmpeg picks (frame threads when the codec has them).</summary>
    Auto = 0,
    Frame = 1,
    Slice = 2,
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
    /// <summary>File sources: start at the keyframe at or before this many seconds into the file
    /// (<see cref="VideoSource.Seek"/>; frames keep their full-decode indexes). 0 = the first frame.</summary>
    public double StartSeconds { get; init; }
    /// <summary>First back-off after a network source drops, ms; doubles up to <see cref="ReconnectMaxMs"/>.</summary>
    public int ReconnectInitialMs { get; init; } = 500;
    public int ReconnectMaxMs { get; init; } = 10000;
    /// <summary>Failed reconnects before the source gives up (throws); -1 = forever.</summary>
    public int ReconnectMaxAttempts { get; init; } = -1;
    /// <summary>A blocking network open/read is interrupted after this many ms.</summary>
    public int ReadTimeoutMs { get; init; } = 5000;

    /// <summary>Deblocking skipped or not; see <see cref="Decode.LoopFilter"/>. Default full (bit-exact).</summary>
    public LoopFilter LoopFilter { get; init; } = LoopFilter.Full;
    /// <summary>FFmpeg's <c>flags2=fast</c>: speed-ups that are not bit-exact (for H.264 measured no gain).</summary>
    public bool FastDecode { get; init; }
    public DecoderThreadType ThreadType { get; init; } = DecoderThreadType.Auto;

    public static SourceOptions Default { get; } = new();

    /// <summary>
    /// These options with the cheaper decode the engine's cameras use by default (<c>engine.decode:
    /// fast</c>): deblocking skipped on B-pictures. Measured on ADL-Rundle-6 (1080p H.264, the street
    /// workload, every 5th frame, the engine's 416×256 input), person recall and precision moved
    /// +0.003 and +0.001 against a bit-exact decode (DecodeOptionParityTests holds them within
    /// 0.005). Skipping it on every picture saves more but moved recall by 0.006; skipping it only on
    /// non-reference pictures changed nothing and saves almost nothing (the engine leaves unwanted
    /// non-reference pictures undecoded anyway); <c>flags2=fast</c> changed neither detections nor
    /// speed for H.264, so it stays off.
    /// </summary>
    public SourceOptions Cheaper() => this with { LoopFilter = LoopFilter.SkipBidir, FastDecode = false };

    /// <summary>Throws <see cref="EphemeraException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (PoolBuffers < 4) throw new EphemeraException($"SourceOptions.PoolBuffers must be >= 4 (got {PoolBuffers})");
        if (DecoderThreads < 0) throw new EphemeraException($"SourceOptions.DecoderThreads must be >= 0 (got {DecoderThreads})");
        if (ReconnectInitialMs < 1) throw new EphemeraException($"SourceOptions.ReconnectInitialMs must be >= 1 (got {ReconnectInitialMs})");
        if (ReconnectMaxMs < ReconnectInitialMs)
            throw new EphemeraException($"SourceOptions.ReconnectMaxMs ({ReconnectMaxMs}) must be >= ReconnectInitialMs ({ReconnectInitialMs})");
        if (ReconnectMaxAttempts < -1) throw new EphemeraException($"SourceOptions.ReconnectMaxAttempts must be -1 (forever) or >= 0 (got {ReconnectMaxAttempts})");
        if (!(StartSeconds >= 0) || double.IsInfinity(StartSeconds)) throw new EphemeraException($"SourceOptions.StartSeconds must be a finite number >= 0 (got {StartSeconds})");
        if (ReadTimeoutMs < 1) throw new EphemeraException($"SourceOptions.ReadTimeoutMs must be >= 1 (got {ReadTimeoutMs})");
        if (!Enum.IsDefined(Hardware)) throw new EphemeraException($"SourceOptions.Hardware: unknown value {(int)Hardware}");
        if (!Enum.IsDefined(LoopFilter)) throw new EphemeraException($"SourceOptions.LoopFilter: unknown value {(int)LoopFilter}");
        if (!Enum.IsDefined(ThreadType)) throw new EphemeraException($"SourceOptions.ThreadType: unknown value {(int)ThreadType}");
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
        p.LoopFilter = (int)LoopFilter;
        p.FastDecode = FastDecode ? 1 : 0;
        p.ThreadType = (int)ThreadType;
        p.LogCallback = &DecodeLog.FromNative;
        p.LogUserData = null;
        return p;
    }
}
