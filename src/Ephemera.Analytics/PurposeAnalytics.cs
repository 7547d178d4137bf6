using System.Text.Json;
using Ephemera.Analytics.Attributes;
using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>What one camera's purpose analytics compute; every part is optional.</summary>
public sealed class PurposeAnalyticsOptions
{
    /// <summary>Counting lines (case 3); empty for none.</summary>
    public IReadOnlyList<CountingLineOptions> Lines { get; }
    /// <summary>Image-space zones with occupancy and dwell (cases 2 and 5); null for none.</summary>
    public ZoneAnalyserOptions? Zones { get; }

    /// <summary>Flow lines on the floor plan (case 2); null for none.</summary>
    public FloorFlowOptions? Flow { get; }
    /// <summary>Crowd icons and levels (case 5); null for none.</summary>
    public CrowdIconOptions? Crowd { get; }
    /// <summary>Visitor age band × sex aggregate (case 1); null for none.</summary>
    public VisitorAttributeOptions? Attributes { get; }

    public PurposeAnalyticsOptions(IEnumerable<CountingLineOptions>? lines = null, ZoneAnalyserOptions? zones = null,
        FloorFlowOptions? flow = null, CrowdIconOptions? crowd = null, VisitorAttributeOptions? attributes = null)
    {
        Flow = flow; Crowd = crowd; Attributes = attributes;
        Lines = lines?.ToArray() ?? [];
        var names = new HashSet<string>();
        foreach (var l in Lines) if (!names.Add(l.Name)) throw new EphemeraException($"counting lines: name '{l.Name}' is used twice");
        Zones = zones;
    }
}

/// <summary>
/// The purpose analytics engine of one camera: feeds each frame's tracks to every configured
/// analyser. One instance per camera; not thread-safe.
/// </summary>
public sealed class PurposeAnalytics : ITrackAnalyser
{
    private readonly LineCounter[] _lines;
    public IReadOnlyList<LineCounter> Lines => _lines;
    public ZoneAnalyser? Zones { get; }
    public FloorFlowAnalyser? Flow { get; }
    public CrowdIcons? Crowd { get; }
    /// <summary>Case 1's visitor attributes; the face stage's estimates join its tracks through <see cref="VisitorAttributeAnalyser.Observe"/>.</summary>
    public VisitorAttributeAnalyser? Attributes { get; }
    public PurposeAnalyticsOptions Options { get; }

    public PurposeAnalytics(PurposeAnalyticsOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _lines = options.Lines.Select(l => new LineCounter(l)).ToArray();
        Zones = options.Zones is { } z ? new ZoneAnalyser(z) : null;
        Flow = options.Flow is { } f ? new FloorFlowAnalyser(f) : null;
        Crowd = options.Crowd is { } c ? new CrowdIcons(c) : null;
        Attributes = options.Attributes is { } a ? new VisitorAttributeAnalyser(a) : null;
    }

    public int TrackStateCount
    {
        get
        {
            int n = (Zones?.TrackStateCount ?? 0) + (Flow?.TrackStateCount ?? 0) + (Crowd?.TrackStateCount ?? 0) + (Attributes?.TrackStateCount ?? 0);
            foreach (var l in _lines) n += l.TrackStateCount;
            return n;
        }
    }

    public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double timeSeconds)
    {
        foreach (var l in _lines) l.Update(tracks, removedIds, timeSeconds);
        Zones?.Update(tracks, removedIds, timeSeconds);
        Flow?.Update(tracks, removedIds, timeSeconds);
        Crowd?.Update(tracks, removedIds, timeSeconds);
        Attributes?.Update(tracks, removedIds, timeSeconds);
    }

    /// <summary>
    /// Same as <see cref="Update(ReadOnlySpan{TrackedObject}, ReadOnlySpan{int}, double)"/> with wall-clock
    /// time: seconds since the Unix epoch (UTC), so time bins align with the clock (60 s bins = minutes).
    /// Use one time base per instance.
    /// </summary>
    public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, DateTimeOffset timestamp) =>
        Update(tracks, removedIds, ToSeconds(timestamp));

    /// <summary>Seconds since the Unix epoch, the time base of the <see cref="DateTimeOffset"/> overloads.</summary>
    public static double ToSeconds(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerSecond;

    /// <summary>Results of the time bins closed at <paramref name="now"/> (wall-clock time base).</summary>
    public PurposeResults Flush(DateTimeOffset now) => Flush(ToSeconds(now));

    /// <summary>
    /// The camera has stopped: analysers that count a track only when it ends (case 1's visitors)
    /// end the tracks still in view, wiping their per-track state; then all results so far.
    /// </summary>
    public PurposeResults Final()
    {
        Attributes?.EndAll();
        return Snapshot();
    }

    /// <summary>All results so far; nothing is removed.</summary>
    public PurposeResults Snapshot() =>
        new(_lines.Select(l => l.Snapshot()).ToArray(), Zones?.Snapshot(), Flow?.Snapshot(), Flow?.HeatMap(), Crowd?.Latest, Attributes?.Snapshot());

    /// <summary>Results of the time bins closed at <paramref name="nowSeconds"/>, removed from the analysers.</summary>
    public PurposeResults Flush(double nowSeconds) =>
        new(_lines.Select(l => l.Flush(nowSeconds)).ToArray(), Zones?.Flush(nowSeconds), Flow?.Flush(nowSeconds), Flow?.HeatMap(), Crowd?.Latest, Attributes?.Flush(nowSeconds));
}

/// <summary>The outputs of one camera's purpose analytics (each part carries its data class).</summary>
/// <remarks>The heat map and the crowd snapshot are images (<see cref="FloorHeatMap.RenderPng"/>,
/// <see cref="CrowdSnapshot.Png"/>); the JSON only describes them.</remarks>
public sealed record PurposeResults(IReadOnlyList<LineCounts> Lines, ZoneReport? Zones,
    FlowReport? Flow = null, FloorHeatMap? HeatMap = null, CrowdSnapshot? Crowd = null, IReadOnlyList<AttributeBin>? Attributes = null)
{
    /// <summary>
    /// <c>{"lines":[{"line":[x1,y1,x2,y2],"in":N,"out":M,"by_class":{…}}…],"zones":[…]}</c>; with
    /// <paramref name="full"/> the lines also carry name, time bins and data class.
    /// </summary>
    public string ToJson(bool full = true) => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("lines"); foreach (var l in Lines) l.WriteJson(w, full); w.WriteEndArray();
        w.WriteStartArray("zones"); if (Zones != null) foreach (var z in Zones.Zones) z.WriteJson(w); w.WriteEndArray();
        if (Flow != null) { w.WritePropertyName("flow"); Flow.WriteJson(w); }
        if (Crowd != null) { w.WritePropertyName("crowd"); using var doc = JsonDocument.Parse(Crowd.ToJson()); doc.WriteTo(w); }
        w.WriteEndObject();
    });
}
