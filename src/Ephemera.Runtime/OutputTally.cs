using System.Text.Json.Serialization;
using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Runtime;

/// <summary>What one camera released for one data class over the run, as the summary shows it.</summary>
public sealed record ClassTally(
    [property: JsonPropertyName("records")] long Records,
    [property: JsonPropertyName("released_total")] long? ReleasedTotal,
    [property: JsonPropertyName("suppressed_entries")] long SuppressedEntries);

/// <summary>
/// Counts what passed the governance gates, per data class, so that the run summary (and anything
/// else printed) shows only released data: record counts, and for count tables the sum of the
/// released bin totals (each already ≥ k or suppressed, so the sum reveals nothing the store does not).
/// Raw analytics never reach the summary: there is one door, and this tally stands behind it.
/// </summary>
public sealed class OutputTally
{
    private readonly object _lock = new();
    private readonly Dictionary<DataClass, (long Records, long Released, bool HasTotal, long Suppressed)> _byClass = new();

    /// <summary>A k-suppressed table was written.</summary>
    public void Table(DataClass cls, SuppressedTable table)
    {
        lock (_lock)
        {
            var t = _byClass.GetValueOrDefault(cls);
            // Occupancy and histogram totals do not add up across bins into anything meaningful; visitors and crossings do.
            bool summable = cls is DataClass.Count or DataClass.AttributeAggregate;
            _byClass[cls] = (t.Records + 1, t.Released + (summable ? table.GrandTotal ?? 0 : 0), summable, t.Suppressed + table.SuppressedCount);
        }
    }

    /// <summary>A non-table record (crowd level, icon image, anonymised image) was written.</summary>
    public void Record(DataClass cls)
    {
        lock (_lock)
        {
            var t = _byClass.GetValueOrDefault(cls);
            _byClass[cls] = (t.Records + 1, t.Released, t.HasTotal, t.Suppressed);
        }
    }

    public long Records { get { lock (_lock) return _byClass.Values.Sum(v => v.Records); } }

    /// <summary>Per class (by name), what was released.</summary>
    public IReadOnlyDictionary<string, ClassTally> Snapshot()
    {
        lock (_lock)
            return _byClass.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal)
                .ToDictionary(kv => kv.Key.ToString(), kv => new ClassTally(kv.Value.Records, kv.Value.HasTotal ? kv.Value.Released : null, kv.Value.Suppressed));
    }
}
