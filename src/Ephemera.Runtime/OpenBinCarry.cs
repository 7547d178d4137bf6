using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Runtime;

/// <summary>One raw count table of one bin, before k-suppression: only ever kept internally (checkpoints), never released as is.</summary>
public sealed record RawBinTable(DataClass Class, DateTimeOffset BinStart, IReadOnlyList<string> Rows, IReadOnlyList<string> Cols, int[,] Counts)
{
    public string ToJson() => JsonSerializer.Serialize(new
    {
        rows = Rows, cols = Cols,
        counts = Enumerable.Range(0, Rows.Count).Select(r => Enumerable.Range(0, Cols.Count).Select(c => Counts[r, c]).ToArray()).ToArray(),
    });

    public static RawBinTable FromJson(DataClass cls, DateTimeOffset binStart, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().Select(e => e.GetString()!).ToList();
        var cols = doc.RootElement.GetProperty("cols").EnumerateArray().Select(e => e.GetString()!).ToList();
        var counts = new int[rows.Count, cols.Count];
        int r = 0;
        foreach (var row in doc.RootElement.GetProperty("counts").EnumerateArray())
        {
            int c = 0;
            foreach (var v in row.EnumerateArray()) counts[r, c++] = v.GetInt32();
            r++;
        }
        return new RawBinTable(cls, binStart, rows, cols, counts);
    }

    /// <summary>
    /// This table and <paramref name="other"/> (the same class and bin from another run) as one:
    /// cells matched by label and added, except occupancy, whose max and mean take the larger.
    /// </summary>
    public RawBinTable Merge(RawBinTable other)
    {
        var rows = Rows.Union(other.Rows).ToList();
        var cols = Cols.Union(other.Cols).ToList();
        var counts = new int[rows.Count, cols.Count];
        bool add = Class != DataClass.ZoneOccupancy;
        foreach (var t in new[] { this, other })
            for (int r = 0; r < t.Rows.Count; r++)
                for (int c = 0; c < t.Cols.Count; c++)
                {
                    int i = rows.IndexOf(t.Rows[r]), j = cols.IndexOf(t.Cols[c]);
                    counts[i, j] = add ? counts[i, j] + t.Counts[r, c] : Math.Max(counts[i, j], t.Counts[r, c]);
                }
        return this with { Rows = rows, Cols = cols, Counts = counts };
    }
}

/// <summary>
/// Raw open bins recovered from a run that ended without a clean stop. A recovered bin is merged
/// with the same bin of this run before suppression (so the bin is released once, whole), or
/// released on its own once it has ended and this run does not produce it.
/// </summary>
public sealed class OpenBinCarry
{
    private readonly object _lock = new();
    private readonly Dictionary<(string Camera, DataClass Class, DateTimeOffset Bin), RawBinTable> _bins = new();

    public int Count { get { lock (_lock) return _bins.Count; } }

    public void Add(string camera, RawBinTable t)
    {
        lock (_lock) _bins[(camera, t.Class, t.BinStart)] = _bins.TryGetValue((camera, t.Class, t.BinStart), out var have) ? have.Merge(t) : t;
    }

    /// <summary>The table merged with its recovered half, which is then gone from the carry (it is being released).</summary>
    public RawBinTable MergeInto(string camera, RawBinTable t)
    {
        lock (_lock)
        {
            if (!_bins.Remove((camera, t.Class, t.BinStart), out var have)) return t;
            return t.Merge(have);
        }
    }

    /// <summary>The table merged with its recovered half, leaving the carry as it is (for a checkpoint).</summary>
    public RawBinTable Peek(string camera, RawBinTable t)
    {
        lock (_lock) return _bins.TryGetValue((camera, t.Class, t.BinStart), out var have) ? t.Merge(have) : t;
    }

    /// <summary>Recovered bins of a camera that this run has not produced (yet).</summary>
    public List<RawBinTable> Pending(string camera)
    {
        lock (_lock) return _bins.Where(kv => kv.Key.Camera == camera).Select(kv => kv.Value).ToList();
    }

    /// <summary>Takes the camera's recovered bins that ended before <paramref name="before"/> (all with null), for release on their own.</summary>
    public List<RawBinTable> TakeEnded(string camera, TimeSpan binLength, DateTimeOffset? before)
    {
        lock (_lock)
        {
            var keys = _bins.Keys.Where(k => k.Camera == camera && (before is null || k.Bin + binLength <= before)).ToList();
            var list = new List<RawBinTable>();
            foreach (var k in keys) { list.Add(_bins[k]); _bins.Remove(k); }
            return list;
        }
    }
}
