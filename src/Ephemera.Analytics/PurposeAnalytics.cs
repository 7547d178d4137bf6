using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>What one camera's purpose analytics compute; every part is optional.</summary>
public sealed class PurposeAnalyticsOptions
{
    /// <summary>Counting lines (case 3); empty for none.</summary>
    public IReadOnlyList<CountingLineOptions> Lines { get; }
    /// <summary>Image-space zones with occupancy and dwell (cases 2 and 5); null for none.</summary>
    public ZoneAnalyserOptions? Zones { get; }

    public PurposeAnalyticsOptions(IEnumerable<CountingLineOptions>? lines = null, ZoneAnalyserOptions? zones = null)
    {
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
    public PurposeAnalyticsOptions Options { get; }

    public PurposeAnalytics(PurposeAnalyticsOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _lines = options.Lines.Select(l => new LineCounter(l)).ToArray();
        Zones = options.Zones is { } z ? new ZoneAnalyser(z) : null;
    }

    public int TrackStateCount
    {
        get
        {
            int n = Zones?.TrackStateCount ?? 0;
            foreach (var l in _lines) n += l.TrackStateCount;
            return n;
        }
    }

    public void Update(ReadOnlySpan<TrackedObject> tracks, ReadOnlySpan<int> removedIds, double timeSeconds)
    {
        foreach (var l in _lines) l.Update(tracks, removedIds, timeSeconds);
        Zones?.Update(tracks, removedIds, timeSeconds);
    }

    /// <summary>All results so far; nothing is removed.</summary>
    public PurposeResults Snapshot() => new(_lines.Select(l => l.Snapshot()).ToArray(), Zones?.Snapshot());

    /// <summary>Results of the time bins closed at <paramref name="nowSeconds"/>, removed from the analysers.</summary>
    public PurposeResults Flush(double nowSeconds) => new(_lines.Select(l => l.Flush(nowSeconds)).ToArray(), Zones?.Flush(nowSeconds));
}

/// <summary>The outputs of one camera's purpose analytics (each part carries its data class).</summary>
public sealed record PurposeResults(IReadOnlyList<LineCounts> Lines, ZoneReport? Zones)
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
        w.WriteEndObject();
    });
}
