using System.Threading.Channels;
using Ephemera.Governance.Records;
using Microsoft.Extensions.Logging;

namespace Ephemera.Runtime;

/// <summary>What a reader's channel does when the reader falls behind and the channel is full.</summary>
public enum RecordDropPolicy
{
    /// <summary>The oldest waiting record is dropped to make room (a live view prefers fresh data).</summary>
    DropOldest,
    /// <summary>The new record is dropped (a reader that wants the earliest records intact).</summary>
    DropNewest,
}

/// <summary>
/// The fan-out at the end of the one publishing path: every released <see cref="DerivedRecord"/>
/// goes to each sink (the store first) and to each reader's bounded channel. Sinks are called one
/// at a time under the router's lock; a sink that throws is logged and counted, and the others
/// still get the record. A reader that falls behind loses records by its drop policy, counted.
/// </summary>
public sealed class RecordRouter
{
    private readonly object _lock = new();
    private readonly ILogger _log;
    private IOutputSink[] _sinks = [];
    private RecordSubscription[] _readers = [];
    private long _published, _sinkFailures;

    public RecordRouter(ILogger log) => _log = log;

    /// <summary>Records published (each counted once, however many sinks took it).</summary>
    public long Published => Interlocked.Read(ref _published);
    /// <summary>Sink calls that threw.</summary>
    public long SinkFailures => Interlocked.Read(ref _sinkFailures);
    /// <summary>Records dropped across all readers (live and finished).</summary>
    public long ReaderDrops => Interlocked.Read(ref _finishedDrops) + _readers.Sum(r => r.Dropped);
    private long _finishedDrops;

    public void AddSink(IOutputSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        lock (_lock) _sinks = [.. _sinks, sink];
    }

    /// <summary>A new reader: a bounded channel that receives every record <paramref name="filter"/> accepts from now on.</summary>
    public RecordSubscription Subscribe(int capacity, RecordDropPolicy policy, Func<DerivedRecord, bool>? filter)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a reader's channel holds at least 1 record");
        var sub = new RecordSubscription(this, capacity, policy, filter);
        lock (_lock)
        {
            if (_completed) sub.Complete();
            else _readers = [.. _readers, sub];
        }
        return sub;
    }

    internal void Unsubscribe(RecordSubscription sub)
    {
        lock (_lock)
        {
            if (!_readers.Contains(sub)) return;
            _readers = _readers.Where(r => r != sub).ToArray();
            Interlocked.Add(ref _finishedDrops, sub.Dropped);
        }
        sub.Complete();
    }

    /// <summary>Hands a released record to every sink and reader.</summary>
    public void Publish(DerivedRecord record)
    {
        lock (_lock)
        {
            Interlocked.Increment(ref _published);
            foreach (var sink in _sinks)
            {
                try { sink.Write(record); }
                catch (Exception e)
                {
                    // Logged once per hundred failures: a failing sink must not flood the log either.
                    if (Interlocked.Increment(ref _sinkFailures) % 100 == 1)
                        _log.LogWarning("sink {Sink} failed on a {Class} record of camera {Camera}: {Error}", sink.GetType().Name, record.Class, record.CameraId, e.Message);
                }
            }
            foreach (var r in _readers) r.Offer(record);
        }
    }

    private bool _completed;

    /// <summary>The engine stopped: every reader's sequence ends after the records it holds.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
            foreach (var r in _readers) r.Complete();
        }
    }
}

/// <summary>One reader of released records: a bounded channel with a drop policy and a drop count.</summary>
public sealed class RecordSubscription : IDisposable
{
    private readonly RecordRouter _router;
    private readonly Channel<DerivedRecord> _channel;
    private readonly Func<DerivedRecord, bool>? _filter;
    private long _dropped;

    internal RecordSubscription(RecordRouter router, int capacity, RecordDropPolicy policy, Func<DerivedRecord, bool>? filter)
    {
        _router = router; _filter = filter; Policy = policy;
        _channel = Channel.CreateBounded<DerivedRecord>(new BoundedChannelOptions(capacity)
        {
            FullMode = policy == RecordDropPolicy.DropOldest ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.DropWrite,
            SingleReader = true,
            SingleWriter = true, // the router writes under its lock
        }, _ => Interlocked.Increment(ref _dropped));
    }

    public RecordDropPolicy Policy { get; }
    /// <summary>Records this reader lost because its channel was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    public ChannelReader<DerivedRecord> Reader => _channel.Reader;

    internal void Offer(DerivedRecord r)
    {
        if (_filter is null || _filter(r)) _channel.Writer.TryWrite(r);
    }

    internal void Complete() => _channel.Writer.TryComplete();

    public void Dispose() => _router.Unsubscribe(this);
}
