using System.Collections.Concurrent;
using System.Diagnostics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Runtime;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Ephemera.Cluster;

/// <summary>Worker settings, validated when set.</summary>
public sealed record WorkerOptions
{
    /// <summary>This worker's id (lease values, status, spool names).</summary>
    public string WorkerId
    {
        get;
        init => field = !string.IsNullOrEmpty(value) && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            ? value : throw new EphemeraException($"--id: '{value}' must be letters, digits, '-' or '_'");
    } = $"{Environment.MachineName.ToLowerInvariant()}-{Environment.ProcessId}";
    /// <summary>Most cameras this worker claims (set it from <c>ephemera bench --find-max</c>'s streams allowed × a margin).</summary>
    public int Capacity { get; init => field = value is < 1 or > 256 ? throw new EphemeraException($"--capacity: {value} is outside 1..256") : value; } = 4;
    /// <summary>Lease time: a dead worker's cameras are claimed again this long after its last renewal (renewed every third of it).</summary>
    public TimeSpan LeaseTime { get; init => field = value < TimeSpan.FromSeconds(1) || value > TimeSpan.FromMinutes(10) ? throw new EphemeraException($"--lease: {value.TotalSeconds} s is outside 1..600") : value; } = TimeSpan.FromSeconds(6);
    /// <summary>The engine's options (detector, detect fps, the worker's local store).</summary>
    public EngineOptions Engine { get; init; } = new();
    /// <summary>The disconnection buffer's directory.</summary>
    public string SpoolDirectory { get; init => field = string.IsNullOrWhiteSpace(value) ? throw new EphemeraException("--spool: must not be empty") : value; } = "spool";
    /// <summary>Most parts the disconnection buffer holds before it drops the oldest (audited).</summary>
    public int SpoolCapacity { get; init => field = value is < 1 or > 10_000_000 ? throw new EphemeraException($"--spool-capacity: {value} is outside 1..10000000") : value; } = 100_000;
    /// <summary>Oldest a buffered part may get before it is dropped (audited).</summary>
    public TimeSpan SpoolRetention { get; init; } = TimeSpan.FromDays(1);
}

/// <summary>
/// <c>ephemera worker</c>: claims desired cameras with leases, up to its capacity, runs them in its
/// engine, and sends each camera's raw bin parts (cumulative per ownership epoch) through the
/// disconnection buffer to the record stream; the collector releases them. A lost lease removes
/// the camera; a graceful stop removes every camera (the last parts out), flushes the buffer and
/// gives the leases back so others take them at once.
/// </summary>
public sealed class Worker
{
    private readonly WorkerOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, CameraOutput> _outputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Owned> _owned = new(StringComparer.Ordinal);
    private PartPublisher? _publisher;

    /// <param name="RenewedAt">Stopwatch time at which the last successful claim or renewal was <em>sent</em>: the server's expiry is later than this plus the lease.</param>
    private sealed record Owned(ulong Epoch, ulong LeaseRevision, ulong DesiredRevision, long RenewedAt);

    public Worker(WorkerOptions options, ILoggerFactory loggers)
    {
        _options = options; _loggers = loggers; _log = loggers.CreateLogger("Ephemera.Cluster.Worker");
    }

    /// <summary>Cameras this worker runs now.</summary>
    public IReadOnlyCollection<string> Cameras { get { lock (_owned) return _owned.Keys.ToList(); } }
    /// <summary>Parts the server acknowledged (first copies; a repeat the server de-duplicated is not counted).</summary>
    public long PartsPublished => _publisher?.Published ?? 0;
    /// <summary>Times a camera was fenced (its lease not renewed in time).</summary>
    public long Fences => Interlocked.Read(ref _fences);
    private long _fences;

    /// <summary>
    /// How long after sending a renewal the worker still trusts its lease: the lease time less a
    /// margin for clock rates (the server starts the expiry later, when it stores the write).
    /// </summary>
    private TimeSpan TrustedFor => _options.LeaseTime - TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _options.LeaseTime.Ticks / 10));

    /// <summary>Runs until <paramref name="ct"/> fires, then stops gracefully.</summary>
    public async Task RunAsync(ClusterConnection cluster, CancellationToken ct)
    {
        // Setup is short and not cancelled half-way: a stop that comes now ends the loop below at once.
        var leaseKv = await cluster.BucketAsync(ClusterNames.LeaseBucket, _options.LeaseTime).ConfigureAwait(false);
        var desiredKv = await cluster.BucketAsync(ClusterNames.DesiredBucket).ConfigureAwait(false);
        var statusKv = await cluster.BucketAsync(ClusterNames.StatusBucket).ConfigureAwait(false);
        await cluster.EnsureRecordStreamAsync(TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        var leases = new Leases(leaseKv, _options.WorkerId);

        using var host = new EngineHost(new EngineConfig("(worker)", _options.Engine, []), new EngineRunOptions
        {
            Loggers = _loggers, MaxCameras = _options.Capacity, StopWhenCamerasEnd = false, RawBinTap = Tap, TrajectoryTap = TapVisits,
            StoreReleasedRecords = false, // the collector's store is the cluster's one store
        });
        await using var publisher = _publisher = new PartPublisher(cluster, _options.SpoolDirectory, _options.SpoolCapacity, _options.SpoolRetention,
            (camera, what, n) =>
            {
                try { host.Store.Audit.Append(new ClusterAuditRecord(camera, what, "disconnection buffer", n)); }
                catch (Exception e) when (e is System.Data.Common.DbException or IOException) { _log.LogError("worker audit failed: {Error}", e.Message); }
            },
            _log);
        var images = await ImageObjects.OpenAsync(cluster).ConfigureAwait(false);
        host.Records.AddSink(new ImageSink(this));
        host.Start();
        using var stopImages = new CancellationTokenSource();
        var uploading = Task.Run(() => UploadImagesAsync(images, host, stopImages.Token));
        var iconsOut = Task.Run(() => PublishIconsAsync(cluster, stopImages.Token));
        using var stopWatchdog = new CancellationTokenSource();
        var watchdog = Task.Run(() => FenceWatchdogAsync(host, stopWatchdog.Token));
        _log.LogInformation("worker {Id}: capacity {Capacity} cameras, lease {Lease} s, server {Url}", _options.WorkerId, _options.Capacity, _options.LeaseTime.TotalSeconds, cluster.Url);
        var renewEvery = _options.LeaseTime / 3;
        // Renewals run in their own loop: admitting a camera (its source, its detector) can take seconds,
        // and must not make the worker miss the renewal of the cameras it already runs.
        var renewing = Task.Run(() => EveryAsync(renewEvery, () => RenewAsync(host, leases, statusKv, stopWatchdog.Token), stopWatchdog.Token));
        await EveryAsync(renewEvery, () => StepAsync(host, leases, desiredKv, statusKv, ct), ct).ConfigureAwait(false);

        // Graceful: every camera removed (its last parts out; a fenced camera's held counts are dropped:
        // its lease is gone), the spool flushed, the leases given back.
        List<KeyValuePair<string, Owned>> owned;
        lock (_owned) owned = _owned.ToList();
        foreach (var (camera, _) in owned) host.RemoveCamera(camera, TimeSpan.FromSeconds(10));
        // Media time: where each camera stopped, for the next owner to catch up to.
        var mediaFrames = host.RetiredCameras.GroupBy(c => c.Id).ToDictionary(g => g.Key, g => g.Last() is var c && c.IsMediaTime ? Math.Max(c.MediaFrames, c.ResumeFrame) : -1, StringComparer.Ordinal);
        // The leases were renewed (and the fence kept) while the cameras stopped; now the last revisions are given back.
        stopWatchdog.Cancel();
        await watchdog.ConfigureAwait(false);
        await renewing.ConfigureAwait(false);
        lock (_owned) owned = _owned.ToList();
        bool flushed = await publisher.FlushAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        if (!flushed) _log.LogWarning("worker {Id}: {Parts} part(s) still in the spool {Dir}; they go out at the next start", _options.WorkerId, publisher.Spooled, _options.SpoolDirectory);
        using var giveBack = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        foreach (var (camera, o) in owned)
        {
            try
            {
                await leases.ReleaseAsync(camera, o.LeaseRevision, giveBack.Token).ConfigureAwait(false);
                await statusKv.PutAsync(camera, new CameraStatus(camera, _options.WorkerId, "released", o.Epoch, 0, 0, publisher.Published, DateTimeOffset.UtcNow,
                    MediaFrame: mediaFrames.GetValueOrDefault(camera, -1)).ToUtf8(), cancellationToken: giveBack.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NatsException or OperationCanceledException) { }
        }
        lock (_owned) _owned.Clear();
        host.Stop();
        _images.Writer.TryComplete();
        _icons.Writer.TryComplete();
        stopImages.CancelAfter(TimeSpan.FromSeconds(10)); // the last images out while the server answers
        await uploading.ConfigureAwait(false);
        await iconsOut.ConfigureAwait(false);
    }

    // Case-4 images on their way to the object store: bounded (an image is large), the oldest dropped and counted.
    private readonly System.Threading.Channels.Channel<Governance.Records.AnonymisedImageRecord> _images =
        System.Threading.Channels.Channel.CreateBounded<Governance.Records.AnonymisedImageRecord>(
            new System.Threading.Channels.BoundedChannelOptions(32) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropOldest });
    private readonly ConcurrentDictionary<string, CameraManifest> _manifestOf = new(StringComparer.Ordinal);
    private long _imagesStored, _imagesFenced;
    /// <summary>Case-4 images put into the object store.</summary>
    public long ImagesStored => Interlocked.Read(ref _imagesStored);

    // Crowd icon images on their way to the collector: latest-only, so a short queue, the oldest dropped (a newer one supersedes it).
    private readonly System.Threading.Channels.Channel<Governance.Records.IconImageRecord> _icons =
        System.Threading.Channels.Channel.CreateBounded<Governance.Records.IconImageRecord>(
            new System.Threading.Channels.BoundedChannelOptions(4) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropOldest });
    private long _iconsSent, _iconsDropped;
    /// <summary>Crowd icon images the server took (case 5); and those dropped (fenced, or the server away: a newer one supersedes them).</summary>
    public long IconsSent => Interlocked.Read(ref _iconsSent);
    public long IconsDropped => Interlocked.Read(ref _iconsDropped);

    /// <summary>
    /// Sends the crowd icon images to the record stream (message id: camera and time). Not spooled: an
    /// icon is a latest-only snapshot, and the next one (seconds later) replaces it; one the server does
    /// not take is dropped and counted.
    /// </summary>
    private async Task PublishIconsAsync(ClusterConnection cluster, CancellationToken ct)
    {
        try
        {
            await foreach (var record in _icons.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                var icon = IconPart.From(record);
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    timeout.CancelAfter(TimeSpan.FromSeconds(5));
                    var ack = await cluster.JetStream.PublishAsync(ClusterNames.RecordSubject(icon.CameraId, DataClass.IconImage), icon.ToUtf8(),
                        opts: new NATS.Client.JetStream.NatsJSPubOpts { MsgId = icon.MessageId }, cancellationToken: timeout.Token).ConfigureAwait(false);
                    if (!ack.Duplicate) NATS.Client.JetStream.NatsJSExtensions.EnsureSuccess(ack);
                    Interlocked.Increment(ref _iconsSent);
                }
                catch (Exception e) when (e is NatsException or TimeoutException or (OperationCanceledException and not OperationCanceledException { CancellationToken.IsCancellationRequested: true }))
                {
                    Interlocked.Increment(ref _iconsDropped);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>
    /// The engine's released records, for the classes a worker sends whole: case-4 anonymised images (to the
    /// object store) and case-5 crowd icon images (latest-only, to the collector).
    /// </summary>
    private sealed class ImageSink(Worker w) : Governance.Records.IOutputSink
    {
        public void Write(Governance.Records.DerivedRecord record)
        {
            if (record is Governance.Records.IconImageRecord icon)
            {
                // Fenced (or no longer ours): another worker may run the camera now; its icons are its own.
                if (!w._outputs.TryGetValue(icon.CameraId, out var io) || io.Fenced) { Interlocked.Increment(ref w._iconsDropped); return; }
                w._icons.Writer.TryWrite(icon);
                return;
            }
            if (record is not Governance.Records.AnonymisedImageRecord image) return;
            // Fenced (or no longer ours): another worker may run the camera now; its image is not sent.
            if (!w._outputs.TryGetValue(image.CameraId, out var o) || o.Fenced) { Interlocked.Increment(ref w._imagesFenced); return; }
            w._images.Writer.TryWrite(image);
        }
    }

    /// <summary>Puts the images into the object store; while the server is away an image waits and is tried again.</summary>
    private async Task UploadImagesAsync(ImageObjects store, EngineHost host, CancellationToken ct)
    {
        try
        {
            await foreach (var image in _images.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (!_manifestOf.TryGetValue(image.CameraId, out var m)) continue;
                while (true)
                {
                    try
                    {
                        string name = await store.PutAsync(image, m, ct).ConfigureAwait(false);
                        Interlocked.Increment(ref _imagesStored);
                        try { host.Store.Audit.Append(new ClusterAuditRecord(image.CameraId, "image-stored", $"{ClusterNames.ImageBucket}/{name}", 1)); }
                        catch (Exception e) when (e is System.Data.Common.DbException or IOException) { _log.LogError("worker audit failed: {Error}", e.Message); }
                        break;
                    }
                    catch (Exception e) when (e is NatsException or TimeoutException or (OperationCanceledException and not OperationCanceledException { CancellationToken.IsCancellationRequested: true }))
                    {
                        await Task.Delay(1000, ct).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) { }
        if (_images.Reader.Count > 0) _log.LogWarning("worker {Id}: {Images} image(s) not stored at the stop", _options.WorkerId, _images.Reader.Count);
    }

    /// <summary>
    /// The self-fence: a camera whose lease was not renewed within <see cref="TrustedFor"/> of the last
    /// renewal sent may belong to another worker by now (this one lost the server, or was paused). It
    /// keeps running, but its counts are held (<see cref="CameraOutput.Fence"/>) until the renewal loop
    /// learns whether the lease is still, or again, this worker's. Checked every 100 ms, apart from the
    /// renewal loop, which a lost server can block for seconds.
    /// </summary>
    private async Task FenceWatchdogAsync(EngineHost host, CancellationToken ct)
    {
        long trusted = (long)(TrustedFor.TotalSeconds * Stopwatch.Frequency);
        while (!ct.IsCancellationRequested)
        {
            List<KeyValuePair<string, Owned>> owned;
            lock (_owned) owned = _owned.ToList();
            long now = Stopwatch.GetTimestamp();
            foreach (var (camera, o) in owned)
            {
                if (now - o.RenewedAt < trusted || !_outputs.TryGetValue(camera, out var output) || output.Fenced) continue;
                output.Fence();
                Interlocked.Increment(ref _fences);
                _log.LogWarning("worker {Id}: camera {Camera} fenced: its lease (epoch {Epoch}) was not renewed in time; its counts are held until the lease is this worker's again",
                    _options.WorkerId, camera, o.Epoch);
                try { host.Store.Audit.Append(new ClusterAuditRecord(camera, "fenced", $"lease of epoch {o.Epoch} not renewed within {TrustedFor.TotalSeconds:0.#} s: counts held, none sent under it", 1)); }
                catch (Exception e) when (e is System.Data.Common.DbException or IOException) { _log.LogError("worker audit failed: {Error}", e.Message); }
            }
            try { await Task.Delay(100, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>Runs <paramref name="round"/> every <paramref name="every"/> until <paramref name="ct"/> fires; a round the server's absence fails is logged at debug and retried.</summary>
    private async Task EveryAsync(TimeSpan every, Func<Task> round, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await round().ConfigureAwait(false); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException)
            {
                // The server is away: cameras keep running (fenced past their leases) and parts wait in the spool.
                _log.LogDebug("worker {Id}: server away: {Error}", _options.WorkerId, e.Message);
            }
            try { await Task.Delay(every, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>One renewal round: each lease renewed; a fenced camera resumed, or dropped when another worker has it.</summary>
    private async Task RenewAsync(EngineHost host, Leases leases, NATS.Client.KeyValueStore.INatsKVStore statusKv, CancellationToken ct)
    {
        List<KeyValuePair<string, Owned>> owned;
        lock (_owned) owned = _owned.ToList();
        foreach (var (camera, o) in owned)
        {
            long sent = Stopwatch.GetTimestamp();
            var rev = await leases.RenewAsync(camera, o.LeaseRevision, ct).ConfigureAwait(false);
            _outputs.TryGetValue(camera, out var output);
            if (rev is { } r)
            {
                lock (_owned) if (_owned.ContainsKey(camera)) _owned[camera] = o with { LeaseRevision = r, RenewedAt = sent };
                if (output is { Fenced: true })
                {
                    // Renewed after all (the server's expiry comes later than the fence): nothing was lost, the held counts go out.
                    Send(output.Resume(output.Epoch, DateTimeOffset.UtcNow, _binOf[camera], _versionOf[camera]));
                    Send(output.TakeResumedVisits());
                    _log.LogInformation("worker {Id}: camera {Camera}: lease renewed after all; fence lifted", _options.WorkerId, camera);
                }
                continue;
            }
            if (output is { Fenced: true })
            {
                // The lease expired. Claimed again, and nobody else reported the camera since this worker's
                // last status (same owner, same epoch): the held counts go out under the new epoch.
                var epochStart = DateTimeOffset.UtcNow;
                sent = Stopwatch.GetTimestamp();
                if (await leases.TryClaimAsync(camera, ct).ConfigureAwait(false) is { } epoch)
                {
                    bool stillOwned;
                    lock (_owned) stillOwned = _owned.ContainsKey(camera);
                    if (stillOwned && await LastStatusIsOursAsync(statusKv, camera, o.Epoch, ct).ConfigureAwait(false))
                    {
                        lock (_owned) _owned[camera] = o with { Epoch = epoch, LeaseRevision = epoch, RenewedAt = sent };
                        Send(output.Resume(epoch, epochStart, _binOf[camera], _versionOf[camera]));
                        Send(output.TakeResumedVisits());
                        _log.LogInformation("worker {Id}: camera {Camera} claimed again (epoch {Epoch}); its held counts go out under it", _options.WorkerId, camera, epoch);
                        continue;
                    }
                    await leases.ReleaseAsync(camera, epoch, ct).ConfigureAwait(false);
                }
                _log.LogWarning("worker {Id}: camera {Camera} ran on another worker meanwhile; its held counts are dropped and the camera removed", _options.WorkerId, camera);
                Remove(host, camera);
                continue;
            }
            bool owns;
            lock (_owned) owns = _owned.ContainsKey(camera);
            if (!owns) continue; // removed meanwhile (no longer desired): its lease was given back
            _log.LogWarning("worker {Id}: lease of camera {Camera} lost to another worker; removing it", _options.WorkerId, camera);
            Remove(host, camera);
        }
    }

    /// <summary>One round: drop what is no longer desired, claim up to capacity, report.</summary>
    private async Task StepAsync(EngineHost host, Leases leases, NATS.Client.KeyValueStore.INatsKVStore desiredKv, NATS.Client.KeyValueStore.INatsKVStore statusKv, CancellationToken ct)
    {
        List<KeyValuePair<string, Owned>> owned;
        var desired = await DesiredState.ListAsync(desiredKv, ct).ConfigureAwait(false);
        lock (_owned) owned = _owned.ToList();
        foreach (var (camera, o) in owned)
        {
            if (desired.TryGetValue(camera, out var d) && d.Revision == o.DesiredRevision) continue;
            _log.LogInformation("worker {Id}: camera {Camera} {Change}; removing it", _options.WorkerId, camera, d.Camera is null ? "is no longer desired" : "changed");
            Remove(host, camera);
            await leases.ReleaseAsync(camera, o.LeaseRevision, ct).ConfigureAwait(false);
        }

        foreach (var (camera, (want, desiredRev)) in desired.OrderBy(_ => Random.Shared.Next()))
        {
            lock (_owned) if (_owned.Count >= _options.Capacity || _owned.ContainsKey(camera)) continue;
            var epochStart = DateTimeOffset.UtcNow;
            long sent = Stopwatch.GetTimestamp();
            if (await leases.TryClaimAsync(camera, ct).ConfigureAwait(false) is not { } epoch) continue;
            CameraManifest? m = null;
            CameraAdmission a;
            try
            {
                m = want.LoadManifest();
                _outputs[camera] = new CameraOutput(camera, epoch, epochStart);
                _binOf[camera] = m.Privacy.TimeBin; _versionOf[camera] = m.VersionHash; _manifestOf[camera] = m;
                // Owned before it is admitted: admitting can take seconds, and the renewal loop keeps the lease meanwhile.
                lock (_owned) _owned[camera] = new Owned(epoch, epoch, desiredRev, sent);
                // A media-time camera counts from its file's start on every owner (so its parts are the same
                // whoever sends them); it catches up unpaced to where the last owner reported it was.
                long resume = want.Camera.MediaStart is null ? 0 : await MediaFrameAsync(statusKv, camera, ct).ConfigureAwait(false);
                a = host.Admit(want.Camera, m, resumeFrame: resume);
                if (resume > 0) _log.LogInformation("worker {Id}: camera {Camera}: media time, catching up to frame {Frame} unpaced", _options.WorkerId, camera, resume);
            }
            catch (EphemeraException e) { a = CameraAdmission.Refused(camera, e.Message); }
            Owned? now;
            lock (_owned) now = _owned.GetValueOrDefault(camera);
            if (!a.Admitted)
            {
                _log.LogError("worker {Id}: camera {Camera} refused: {Reason}", _options.WorkerId, camera, a.Reason);
                lock (_owned) _owned.Remove(camera);
                _outputs.TryRemove(camera, out _);
                await statusKv.PutAsync(camera, new CameraStatus(camera, _options.WorkerId, "refused", epoch, 0, 0, 0, DateTimeOffset.UtcNow, a.Reason).ToUtf8(), cancellationToken: ct).ConfigureAwait(false);
                await leases.ReleaseAsync(camera, now?.LeaseRevision ?? epoch, ct).ConfigureAwait(false);
                continue;
            }
            if (now is null)
            {
                Remove(host, camera); // the lease was lost while it was being admitted
                continue;
            }
            _log.LogInformation("worker {Id}: claimed camera {Camera} (epoch {Epoch})", _options.WorkerId, camera, epoch);
        }

        // A camera whose source failed here (a file this machine lacks, a camera it cannot reach) goes back
        // for another worker to try; one that ended (a file without loop) keeps its lease: it is done.
        foreach (var c in host.Cameras.Where(c => c.State == CameraState.Failed).ToList())
        {
            Owned? o;
            lock (_owned) o = _owned.GetValueOrDefault(c.Id);
            if (o is null) continue;
            _log.LogWarning("worker {Id}: camera {Camera} failed here ({Error}); giving it back", _options.WorkerId, c.Id, c.Error);
            await statusKv.PutAsync(c.Id, new CameraStatus(c.Id, _options.WorkerId, "failed", o.Epoch, 0, 0, _publisher?.Published ?? 0, DateTimeOffset.UtcNow, c.Error).ToUtf8(), cancellationToken: ct).ConfigureAwait(false);
            Remove(host, c.Id);
            await leases.ReleaseAsync(c.Id, o.LeaseRevision, ct).ConfigureAwait(false);
        }

        var secs = Math.Max(1e-3, host.Elapsed.TotalSeconds);
        foreach (var c in host.Cameras)
        {
            Owned? o;
            lock (_owned) o = _owned.GetValueOrDefault(c.Id);
            if (o is null) continue;
            string state = _outputs.TryGetValue(c.Id, out var output) && output.Fenced ? "fenced" : c.State.ToString().ToLowerInvariant();
            await statusKv.PutAsync(c.Id, new CameraStatus(c.Id, _options.WorkerId, state, o.Epoch,
                Math.Round(c.FramesDecoded / secs, 2), Math.Round(c.DetectionsDone / secs, 2), _publisher?.Published ?? 0, DateTimeOffset.UtcNow, c.Error,
                c.IsMediaTime ? Math.Max(c.MediaFrames, c.ResumeFrame) : -1).ToUtf8(),
                cancellationToken: ct).ConfigureAwait(false);
        }
    }

    private void Remove(EngineHost host, string camera)
    {
        host.RemoveCamera(camera, TimeSpan.FromSeconds(10)); // its open bins go out as closed parts of its epoch
        lock (_owned) _owned.Remove(camera);
        _outputs.TryRemove(camera, out _);
    }

    // Bin length and manifest version of each camera's parts (for the held counts sent at a resume).
    private readonly ConcurrentDictionary<string, TimeSpan> _binOf = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _versionOf = new(StringComparer.Ordinal);

    private void Send(IEnumerable<IRecordPart> parts)
    {
        if (_publisher is null) return;
        foreach (var p in parts) _publisher.Enqueue(p);
    }

    /// <summary>Media time: the frame the camera's last owner reported (0 when none did).</summary>
    private static async Task<long> MediaFrameAsync(NATS.Client.KeyValueStore.INatsKVStore statusKv, string camera, CancellationToken ct)
    {
        try
        {
            var e = await statusKv.GetEntryAsync<byte[]>(camera, cancellationToken: ct).ConfigureAwait(false);
            return e.Value is { } v && CameraStatus.Parse(v) is { } s ? Math.Max(0, s.MediaFrame) : 0;
        }
        // No report (or the server did not answer): from the start, paced — the same counts, only later.
        catch (Exception e) when (e is NatsException or TimeoutException or (OperationCanceledException and not OperationCanceledException { CancellationToken.IsCancellationRequested: true })) { return 0; }
    }

    /// <summary>True when the camera's last status is this worker's under <paramref name="epoch"/>: nobody else ran it since.</summary>
    private async Task<bool> LastStatusIsOursAsync(NATS.Client.KeyValueStore.INatsKVStore statusKv, string camera, ulong epoch, CancellationToken ct)
    {
        try
        {
            var e = await statusKv.GetEntryAsync<byte[]>(camera, cancellationToken: ct).ConfigureAwait(false);
            return e.Value is { } v && CameraStatus.Parse(v) is { } s && s.Owner == _options.WorkerId && s.Epoch == epoch;
        }
        catch (Exception e) when (e is NATS.Client.KeyValueStore.NatsKVKeyNotFoundException or NATS.Client.KeyValueStore.NatsKVKeyDeletedException) { return false; }
    }

    /// <summary>The engine's raw-bin tap: each table becomes a part of the camera's current epoch (held while the camera is fenced).</summary>
    private void Tap(string camera, CameraManifest m, IReadOnlyList<RawBinTable> tables, bool closed, long mediaFrames)
    {
        if (_outputs.TryGetValue(camera, out var output)) Send(output.Tap(m.Privacy.TimeBin, m.VersionHash, tables, closed, mediaFrames));
    }

    /// <summary>The engine's trajectory tap: coarsened visits become trajectory parts (held while the camera is fenced).</summary>
    private void TapVisits(string camera, CameraManifest m, IReadOnlyList<CoarseVisit> visits, DateTimeOffset closedBefore, long mediaFrames)
    {
        if (_outputs.TryGetValue(camera, out var output)) Send(output.TapVisits(m.Privacy.TimeBin, m.VersionHash, visits, closedBefore, mediaFrames));
    }
}
