using Ephemera.Core;
using Ephemera.Governance.Records;

namespace Ephemera.Anonymisation;

/// <summary>
/// The case-4 pixel stage: on every <c>every</c>-th frame whose detections came back it runs the
/// <see cref="StreetAnonymiser"/> on the still-held frame (YOLOX boxes as context) and hands each
/// released <see cref="AnonymisedImageRecord"/> to the callback. Withheld frames (output check
/// failed) are counted and never reach the callback; nothing of them was encoded. Runs on the
/// camera's pixel-stage thread; the frame view is used only during <see cref="Process"/>.
/// </summary>
public sealed class AnonymiserStage : IPixelStage, IDisposable
{
    private readonly StreetAnonymiser _anonymiser;
    private readonly Action<AnonymisedImageRecord> _onRecord;
    private readonly Func<DateTimeOffset> _clock;
    private readonly int _every;
    private long _seen, _anonymised, _released, _withheld;
    private readonly bool _owns;

    /// <param name="anonymiser">The anonymiser (disposed with the stage when <paramref name="ownsAnonymiser"/>).</param>
    /// <param name="onRecord">Receives each released record (on the stage thread).</param>
    /// <param name="every">Anonymise every N-th detected frame (1 = all; 0 = the manifest's <c>anonymise.every</c>).</param>
    /// <param name="clock">Time stamp of a record (default: now, UTC).</param>
    /// <param name="ownsAnonymiser">The stage disposes the anonymiser (its models and their wiped tensor buffers) when it is disposed.</param>
    public AnonymiserStage(StreetAnonymiser anonymiser, Action<AnonymisedImageRecord> onRecord, int every = 0, Func<DateTimeOffset>? clock = null,
        bool ownsAnonymiser = false)
    {
        _owns = ownsAnonymiser;
        ArgumentNullException.ThrowIfNull(anonymiser);
        ArgumentNullException.ThrowIfNull(onRecord);
        if (every == 0) every = (anonymiser.Manifest.Anonymise ?? Ephemera.Governance.AnonymiseSettings.Default).Every;
        if (every < 1) throw new EphemeraException($"anonymiser stage: every must be ≥ 1, got {every}");
        _anonymiser = anonymiser; _onRecord = onRecord; _every = every; _clock = clock ?? (() => DateTimeOffset.UtcNow);
    }

    /// <summary>Every N-th detected frame is anonymised.</summary>
    public int Every => _every;

    /// <inheritdoc />
    public string Name => "anonymiser";
    /// <summary>Detected frames handed to the stage.</summary>
    public long Seen => Interlocked.Read(ref _seen);
    /// <summary>Frames the anonymiser ran on (every N-th of <see cref="Seen"/>).</summary>
    public long Anonymised => Interlocked.Read(ref _anonymised);
    /// <summary>Records handed to the callback.</summary>
    public long Released => Interlocked.Read(ref _released);
    /// <summary>Frames withheld by the output check (never encoded, never handed on).</summary>
    public long Withheld => Interlocked.Read(ref _withheld);
    /// <summary>The most recent result (counts and timings; no pixels), or null.</summary>
    public AnonymiseResult? Last { get; private set; }

    /// <inheritdoc />
    public void Process(in FrameView frame, Detections detections, long frameIndex)
    {
        long n = Interlocked.Increment(ref _seen) - 1;
        if (n % _every != 0) return;
        Interlocked.Increment(ref _anonymised);
        var r = _anonymiser.Anonymise(frame, detections, _clock(), frameIndex: frameIndex);
        Last = r;
        if (r.Record is { } record)
        {
            Interlocked.Increment(ref _released);
            _onRecord(record);
        }
        else Interlocked.Increment(ref _withheld);
    }

    /// <summary>Disposes the anonymiser when the stage owns it.</summary>
    public void Dispose()
    {
        if (_owns) _anonymiser.Dispose();
    }
}
