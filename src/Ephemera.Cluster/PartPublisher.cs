using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Ephemera.Cluster;

/// <summary>What a worker sends on the record stream through its spool: a bin part or a trajectory part.</summary>
public interface IRecordPart
{
    /// <summary>The camera.</summary>
    string CameraId { get; }
    /// <summary>The data class (the subject's last token).</summary>
    Core.DataClass Class { get; }
    /// <summary>The de-duplicating message id.</summary>
    string MessageId { get; }
    /// <summary>The spool file's name: a part with the same key replaces the one spooled before (a newer cumulative table).</summary>
    string SpoolKey { get; }
    /// <summary>UTF-8 JSON.</summary>
    byte[] ToUtf8();
}

/// <summary>
/// A worker's way out for bin parts: every part goes first to a bounded spool on local disk, then to
/// the record stream (subject <c>ephemera.records.&lt;camera&gt;.&lt;class&gt;</c>, de-duplicating
/// message id), and leaves the spool only once the server acknowledged it. While the server is away
/// the worker keeps processing and the spool keeps the parts; they go out when it returns.
/// </summary>
/// <remarks>
/// The spool holds one file per camera, class, bin and epoch: a newer part of the same bin replaces
/// the older (parts are cumulative), so it grows with open bins, not with time. Past
/// <see cref="Capacity"/> files it drops the oldest, counted in <see cref="Dropped"/> and reported to
/// the audit callback. It holds derived counts only (never pixels); a file is overwritten with zeros
/// before it is deleted, and files older than <see cref="Retention"/> are dropped (audited) as well.
/// One background loop both writes the spool and publishes, so the two never race.
/// </remarks>
public sealed class PartPublisher : IAsyncDisposable
{
    private readonly ClusterConnection _cluster;
    private readonly string _dir;
    private readonly ILogger _log;
    private readonly Action<string, string, long> _audit;
    private readonly Channel<IRecordPart> _incoming = Channel.CreateUnbounded<IRecordPart>(); // not SingleReader: FlushAsync reads its Count
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _published, _dropped;

    /// <param name="cluster">The cluster connection (it reconnects by itself).</param>
    /// <param name="spoolDirectory">The local buffer directory (created; its files are parts of this worker).</param>
    /// <param name="capacity">Most parts the spool holds.</param>
    /// <param name="retention">Oldest a spooled part may get before it is dropped.</param>
    /// <param name="audit">(camera, event, count) for drops, to the worker's audit chain.</param>
    /// <param name="log">Where connection changes are logged.</param>
    public PartPublisher(ClusterConnection cluster, string spoolDirectory, int capacity, TimeSpan retention, Action<string, string, long> audit, ILogger log)
    {
        _cluster = cluster; _dir = spoolDirectory; Capacity = capacity; Retention = retention; _audit = audit; _log = log;
        Directory.CreateDirectory(_dir);
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Most parts the spool holds before it drops the oldest.</summary>
    public int Capacity { get; }
    /// <summary>Oldest a spooled part may get.</summary>
    public TimeSpan Retention { get; }
    /// <summary>Parts the server acknowledged and stored (a repeat it de-duplicated is not counted again).</summary>
    public long Published => Interlocked.Read(ref _published);
    /// <summary>Parts dropped from a full (or expired) spool.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Parts waiting in the spool now.</summary>
    public int Spooled => Directory.EnumerateFiles(_dir, "*.part").Count();

    /// <summary>Hands a part over (never blocks: the engine's publishing path calls this).</summary>
    public void Enqueue(IRecordPart part) => _incoming.Writer.TryWrite(part);

    private string FileOf(IRecordPart p) => Path.Combine(_dir, p.SpoolKey + ".part");

    private void Spool(IRecordPart p)
    {
        string file = FileOf(p), tmp = file + ".tmp";
        File.WriteAllBytes(tmp, p.ToUtf8());
        File.Move(tmp, file, overwrite: true);
    }

    private void Wipe(string file)
    {
        try
        {
            using (var fs = new FileStream(file, FileMode.Open, FileAccess.Write))
            {
                var zeros = new byte[fs.Length];
                fs.Write(zeros);
                fs.Flush(flushToDisk: true);
            }
            File.Delete(file);
        }
        catch (FileNotFoundException) { }
    }

    private void EnforceBounds()
    {
        var files = new DirectoryInfo(_dir).GetFiles("*.part").OrderBy(f => f.LastWriteTimeUtc).ToList();
        var cutoff = DateTime.UtcNow - Retention;
        int over = files.Count - Capacity;
        foreach (var f in files)
        {
            bool expired = f.LastWriteTimeUtc < cutoff;
            if (!expired && over <= 0) break;
            string camera = f.Name.Split('_')[0];
            Wipe(f.FullName);
            Interlocked.Increment(ref _dropped);
            _audit(camera, expired ? "buffer-expired" : "buffer-drop", 1);
            _log.LogWarning("spool {Dir}: part {Part} dropped ({Why})", _dir, f.Name, expired ? "older than the retention" : $"over the bound of {Capacity}");
            over--;
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        bool away = false;
        while (!ct.IsCancellationRequested)
        {
            while (_incoming.Reader.TryRead(out var p)) Spool(p);
            EnforceBounds();
            bool progress = false;
            if (_cluster.Nats.ConnectionState == NatsConnectionState.Open)
            {
                foreach (var f in new DirectoryInfo(_dir).GetFiles("*.part").OrderBy(f => f.LastWriteTimeUtc))
                {
                    if (ct.IsCancellationRequested) break;
                    IRecordPart part;
                    bool duplicate = false;
                    try { part = ParsePart(await File.ReadAllBytesAsync(f.FullName, CancellationToken.None).ConfigureAwait(false)); }
                    catch (Exception e) when (e is Core.EphemeraException or IOException) { Wipe(f.FullName); continue; }
                    try
                    {
                        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                        timeout.CancelAfter(TimeSpan.FromSeconds(5));
                        var ack = await _cluster.JetStream.PublishAsync(ClusterNames.RecordSubject(part.CameraId, part.Class), part.ToUtf8(),
                            opts: new NatsJSPubOpts { MsgId = part.MessageId }, cancellationToken: timeout.Token).ConfigureAwait(false);
                        // A duplicate is a success: the server has the part already (a lost ack retried, or a
                        // media-time part another worker sent first). EnsureSuccess would throw on it.
                        duplicate = ack.Duplicate;
                        if (!duplicate) ack.EnsureSuccess();
                    }
                    catch (Exception e) when (e is NatsException or OperationCanceledException or TimeoutException)
                    {
                        if (ct.IsCancellationRequested) break;
                        if (!away) _log.LogWarning("cluster server away ({Error}); parts wait in {Dir}", e.Message, _dir);
                        away = true;
                        break;
                    }
                    // A newer part of the same bin may have replaced the file meanwhile: only the one sent leaves.
                    while (_incoming.Reader.TryRead(out var p)) Spool(p);
                    try
                    {
                        if (ParsePart(await File.ReadAllBytesAsync(f.FullName, CancellationToken.None).ConfigureAwait(false)).MessageId == part.MessageId) Wipe(f.FullName);
                    }
                    catch (Exception e) when (e is FileNotFoundException or Core.EphemeraException) { }
                    if (!duplicate) Interlocked.Increment(ref _published); // a repeat the server dropped (a lost ack) counts once
                    progress = true;
                    if (away) { _log.LogInformation("cluster server back: spooled parts going out"); away = false; }
                }
            }
            if (!progress)
            {
                try { await _incoming.Reader.WaitToReadAsync(ct).AsTask().WaitAsync(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false); }
                catch (TimeoutException) { }
                catch (OperationCanceledException) { break; }
            }
        }
    }

    private static IRecordPart ParsePart(byte[] data) => TrajectoryPart.IsTrajectory(data) ? TrajectoryPart.Parse(data) : BinPart.Parse(data);

    /// <summary>Waits until the spool is empty (everything acknowledged) or <paramref name="timeout"/> passed; true when empty.</summary>
    public async Task<bool> FlushAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_incoming.Reader.Count == 0 && Spooled == 0) return true;
            await Task.Delay(50).ConfigureAwait(false);
        }
        return false;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        // What is still in the channel goes to the spool, for the next start of this worker.
        while (_incoming.Reader.TryRead(out var p)) Spool(p);
        _stop.Dispose();
    }
}
