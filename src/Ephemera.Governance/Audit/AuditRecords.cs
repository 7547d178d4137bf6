using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>
/// One entry of the audit chain. The body is the record's JSON (property order fixed by declaration),
/// stored as text and hashed as stored, so verification never depends on re-serialising.
/// </summary>
public abstract record AuditRecord(string CameraId)
{
    /// <summary>Short kind name stored beside the body ("pixels", "retention", "export", …).</summary>
    public abstract string Kind { get; }
    internal virtual string BodyJson() => JsonSerializer.Serialize(this, GetType(), CanonicalJson.Options);
}

/// <summary>
/// Proof of destruction for one camera and batch (H1), appended by the runtime every N seconds and at
/// stop: every decoded frame wiped, every pixel buffer wiped, how long pixels lived, under which manifest.
/// </summary>
public sealed record PixelAuditRecord(
    string CameraId, DateTimeOffset BatchStart, DateTimeOffset BatchEnd, long FramesDecoded, long FramesWiped,
    long PixelBuffersAllocated, long PixelBuffersWiped, double MaxPixelLifetimeMs, double P99PixelLifetimeMs,
    long OutputsEmitted, string ManifestVersionHash) : AuditRecord(CameraId)
{
    public override string Kind => "pixels";
    /// <summary>True when every frame and every pixel buffer of the batch was wiped.</summary>
    public bool AllWiped => FramesWiped == FramesDecoded && PixelBuffersWiped == PixelBuffersAllocated;
}

/// <summary>A retention deletion: one partition (class × day) of one camera emptied of expired rows.</summary>
public sealed record RetentionDeletionRecord(
    string CameraId, DataClass Class, string Partition, long RowsDeleted, DateTimeOffset OldestBin, DateTimeOffset NewestBinEnd,
    TimeSpan Retention, string ManifestVersionHash) : AuditRecord(CameraId)
{
    public override string Kind => "retention";
}

/// <summary>One export to a third party under an export contract (M3).</summary>
public sealed record ExportAuditRecord(
    string CameraId, string ContractId, string Recipient, DataClass Class, long Rows, DateTimeOffset From, DateTimeOffset To,
    IReadOnlyList<string> Fields, string Purpose, string ManifestVersionHash) : AuditRecord(CameraId)
{
    public override string Kind => "export";
}

/// <summary>A manifest version became the notified one for a camera (M4).</summary>
public sealed record ManifestAuditRecord(string CameraId, int Version, string ManifestVersionHash, DateTimeOffset Published, string Event)
    : AuditRecord(CameraId)
{
    public override string Kind => "manifest";
}

/// <summary>A camera refused to start, and why.</summary>
public sealed record StartRefusedRecord(string CameraId, string Reasons) : AuditRecord(CameraId)
{
    public override string Kind => "start-refused";
}

/// <summary>An inquiry, objection or complaint about a camera (BP-d); the content stays with the contact desk.</summary>
public sealed record InquiryAuditRecord(string CameraId, string Category, string Channel) : AuditRecord(CameraId)
{
    public override string Kind => "inquiry";
}

/// <summary>Derived rows the store could not write (full disk, I/O error) and dropped past its write-behind bound.</summary>
public sealed record StoreDropRecord(DateTimeOffset At, long RowsDropped, string Cause) : AuditRecord("")
{
    public override string Kind => "store-drop";
}

/// <summary>A camera's source gave no frames for a while (offline at start, dropped connection, truncated file).</summary>
public sealed record SourceGapRecord(string CameraId, DateTimeOffset Start, DateTimeOffset End, double Seconds, string Cause) : AuditRecord(CameraId)
{
    public override string Kind => "source-gap";
}

/// <summary>The engine found that its previous run ended without a clean stop, and what it recovered.</summary>
public sealed record UncleanShutdownRecord(DateTimeOffset PreviousStart, DateTimeOffset LastCheckpoint, long LastAuditSequence, int BinsRecovered)
    : AuditRecord("")
{
    public override string Kind => "unclean-shutdown";
}

/// <summary>A diagnostic verb (detect) ran on a live camera under its manifest: start, and end with the frames it printed.</summary>
public sealed record LiveVerbRecord(string CameraId, string Verb, string Event, long Frames, string ManifestVersionHash) : AuditRecord(CameraId)
{
    public override string Kind => "live-verb";
}

/// <summary>A camera added to or removed from a running engine, with its frame counts at that moment (decoded, wiped).</summary>
public sealed record CameraLifecycleRecord(string CameraId, string Event, long FramesDecoded, long FramesWiped, string ManifestVersionHash) : AuditRecord(CameraId)
{
    public override string Kind => "camera";
}
