using System.Globalization;
using System.Text.Json;
using Ephemera.Analytics.Forecast;
using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Runtime.Forecast;

/// <summary>A checkout forecast computed from the store, with how much released history it stood on.</summary>
/// <param name="Camera">The case-1 camera.</param>
/// <param name="Queue">The queue settings it was sized with.</param>
/// <param name="HistoryBins">Released hourly totals used.</param>
/// <param name="SuppressedBins">Totals the k-gate suppressed (left out, never guessed).</param>
/// <param name="Bins">One bin per forecast hour.</param>
public sealed record StoredForecast(string Camera, CheckoutQueueOptions Queue, int HistoryBins, int SuppressedBins, IReadOnlyList<ForecastBin> Bins)
{
    /// <summary>True when the store held no AttributeAggregate row of the camera before the forecast's start.</summary>
    public bool NoHistory => HistoryBins + SuppressedBins == 0;

    /// <summary>The JSON shape the CLI verb prints and the server's forecast route answers (snake case, rounded).</summary>
    public object ToView() => new
    {
        camera = Camera, model = "M/M/c (Erlang C)", service_rate_per_hour = Queue.ServiceRatePerHour, checkout_share = Queue.CheckoutShare,
        target_wait_minutes = Queue.TargetWait.TotalMinutes, max_tills = Queue.MaxTills, history_bins = HistoryBins, suppressed_bins = SuppressedBins,
        bins = Bins.Select(b => new
        {
            start = b.Start.ToString("o", CultureInfo.InvariantCulture), expected_arrivals = Math.Round(b.ExpectedArrivals, 2),
            basis = b.Basis.ToString(), tills = b.TillsNeeded, utilisation = Math.Round(b.Utilisation, 3),
            p_wait = Math.Round(b.ProbabilityOfWaiting, 3), queue_length = Math.Round(b.ExpectedQueueLength, 3),
            wait_minutes = b.ExpectedWait == TimeSpan.MaxValue ? (double?)null : Math.Round(b.ExpectedWait.TotalMinutes, 2),
        }).ToList(),
    };
}

/// <summary>
/// Case 1's checkout forecast from the store: the camera's released <see cref="DataClass.AttributeAggregate"/>
/// totals per hour (read through a role-checked <see cref="StoreQuery"/>, so only what the k-gate released)
/// as the arrival history of <see cref="CheckoutForecast"/>. Shared by <c>ephemera forecast</c> and the
/// server's <c>/api/cameras/{id}/forecast</c>, so both answer the same.
/// </summary>
public static class StoredCheckoutForecast
{
    /// <summary>The most hours one forecast covers (two weeks).</summary>
    public const int MaxHours = 24 * 14;

    /// <summary>
    /// Forecasts <paramref name="hours"/> hours from <paramref name="from"/> (its offset is the store's local time
    /// for weekday×hour seasonality) from the rows written before <paramref name="from"/>.
    /// </summary>
    public static StoredForecast Compute(StoreQuery query, string cameraId, DateTimeOffset from, int hours, CheckoutQueueOptions queue)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(queue);
        if (hours is < 1 or > MaxHours) throw new EphemeraException($"forecast: hours must be 1..{MaxHours}, got {hours}");
        var rows = query.Read(cameraId, DataClass.AttributeAggregate, DateTimeOffset.MinValue, from);
        // Hourly arrivals from the released totals; a suppressed total (null) is left out, never guessed.
        var history = new List<ArrivalBin>(rows.Count);
        int suppressed = 0;
        foreach (var r in rows)
        {
            using var doc = JsonDocument.Parse(r.PayloadJson);
            if (doc.RootElement.TryGetProperty("total", out var total) && total.ValueKind == JsonValueKind.Number)
                history.Add(new ArrivalBin(r.BinStart, total.GetInt32()));
            else suppressed++;
        }
        return new StoredForecast(cameraId, queue, history.Count, suppressed, CheckoutForecast.Forecast(history, from, hours, queue));
    }
}
