namespace Ephemera.Decode;

/// <summary>
/// Which upcoming frames (by <see cref="FrameLease.Index"/>) a caller will use: none before
/// <see cref="From"/>, then <see cref="From"/>, <see cref="From"/> + <see cref="Every"/>, … Passed to
/// <see cref="VideoSource.Read(out FrameLease?, WantedFrames)"/> so that non-reference frames outside the
/// schedule are never decoded.
/// </summary>
/// <remarks>
/// A schedule rather than a "this frame is not wanted" flag: the decoder reads ahead of what it
/// delivers (B-frame reordering, frame threads), so the packet fed during one read is usually a few
/// frames ahead of the frame that read returns. Only a rule about upcoming indexes lets it decide.
/// It is a promise: a frame off the schedule may already be skipped when the caller changes its mind.
/// </remarks>
/// <param name="From">First wanted index; every frame before it is unwanted.</param>
/// <param name="Every">Stride from <see cref="From"/> on; 1 = every frame from <see cref="From"/> on.</param>
public readonly record struct WantedFrames(long From, int Every = 1)
{
    /// <summary>Every frame is wanted: <c>Read(out f, WantedFrames.All)</c> behaves exactly as <c>Read(out f)</c>.</summary>
    public static WantedFrames All => new(long.MinValue, 1);

    /// <summary>Frames <paramref name="from"/>, <paramref name="from"/> + <paramref name="every"/>, … and no other.</summary>
    public static WantedFrames EveryNth(int every, long from = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        return new(from, every);
    }

    /// <summary>
    /// Frames for a consumer running at <paramref name="wantedFps"/> on a source of
    /// <paramref name="sourceFps"/>, starting at <paramref name="from"/>: a stride of
    /// floor(source / wanted) frames, so the consumer gets at least its rate (30 → 5 fps: every 6th;
    /// 30 → 4 fps: every 7th). <paramref name="wantedFps"/> ≤ 0: nothing wanted; ≥ the source's rate
    /// or an unknown source rate (≤ 0): every frame from <paramref name="from"/> on.
    /// </summary>
    public static WantedFrames AtRate(double sourceFps, double wantedFps, long from = 0)
    {
        if (wantedFps <= 0 || double.IsNaN(wantedFps)) return new(long.MaxValue);
        if (sourceFps <= 0 || double.IsNaN(sourceFps) || wantedFps >= sourceFps) return new(from);
        return new(from, (int)Math.Min(int.MaxValue, Math.Floor(sourceFps / wantedFps + 1e-9)));
    }

    /// <summary>Whether the frame numbered <paramref name="index"/> is wanted.</summary>
    public bool Contains(long index) =>
        index >= From && (Every <= 1 || (ulong)(index - From) % (ulong)Every == 0);
}
