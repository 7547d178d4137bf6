using System.Globalization;
using System.Text.Json;
using Ephemera.Analytics.Forecast;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Runtime.Forecast;

namespace Ephemera.Cli.Verbs;

/// <summary>
/// <c>./ephemera forecast</c>: case 1's checkout-queue forecast from the store's released attribute
/// aggregates (read as an analyst: aggregates only, k-suppressed totals left out), seasonal by
/// weekday and hour, an M/M/c queue per hour.
/// </summary>
public sealed class ForecastVerb : IVerb
{
    public string Name => "forecast";
    public string Summary => "checkout-queue forecast (arrivals per hour, M/M/c tills) from a case-1 camera's stored aggregates";
    public string Usage => """
        usage: ephemera forecast --camera ID --service-rate N [--db FILE] [--hours H] [--checkout-share S]
                                 [--target-wait-min M] [--max-tills N] [--from ISO-TIME] [--utc-offset +09:00]
          --camera          a case-1 camera whose AttributeAggregate rows are in the store
          --service-rate    customers one till serves per hour (μ)
          --db              the store (default var/ephemera.db)
          --hours           hours to forecast (default 8)
          --checkout-share  share of visitors who go to a till (default 1)
          --target-wait-min the expected queue wait the tills are sized for, minutes (default 2)
          --max-tills       tills the store has (default 20)
          --from            first hour to forecast (default: the next full hour)
          --utc-offset      the store's local time for weekday/hour seasonality (default: the machine's)
        Arrivals per hour: mean of the same weekday and hour in past weeks (≥ 2 samples), else the same
        hour on any day, else the overall mean. Queue: M/M/c (Erlang C). JSON on stdout.
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["camera", "service-rate", "db", "hours", "checkout-share", "target-wait-min", "max-tills", "from", "utc-offset"], []);
        string camera = a.Require("camera");
        a.Require("service-rate");
        string db = a.Get("db") ?? EphemeraStore.DefaultPath;
        if (!File.Exists(db)) throw new UsageException($"store not found: {db}");
        int hours = a.GetInt("hours", 8);
        if (hours is < 1 or > StoredCheckoutForecast.MaxHours) throw new UsageException($"--hours must be 1..{StoredCheckoutForecast.MaxHours}, got {hours}");
        CheckoutQueueOptions q;
        try
        {
            q = new CheckoutQueueOptions(a.GetDouble("service-rate", double.NaN), a.GetDouble("checkout-share", 1),
                TimeSpan.FromMinutes(a.GetDouble("target-wait-min", 2)), a.GetInt("max-tills", 20));
        }
        catch (EphemeraException e) { throw new UsageException(e.Message); }
        TimeSpan offset = TimeZoneInfo.Local.GetUtcOffset(DateTimeOffset.UtcNow);
        if (a.Get("utc-offset") is { } o && !TimeSpan.TryParse(o.TrimStart('+'), CultureInfo.InvariantCulture, out offset))
            throw new UsageException($"--utc-offset: '{o}' is not an offset like +09:00");
        DateTimeOffset from;
        if (a.Get("from") is { } f)
        {
            if (!DateTimeOffset.TryParse(f, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out from)) throw new UsageException($"--from: '{f}' is not a time");
        }
        else from = DateTimeOffset.UtcNow.AddHours(1);
        from = from.ToOffset(offset);

        using var store = EphemeraStore.Open(db);
        var result = StoredCheckoutForecast.Compute(store.Query(Role.Analyst), camera, from, hours, q);
        if (result.NoHistory) throw new UsageException($"no AttributeAggregate rows for camera {camera} in {db}");
        Console.Error.WriteLine($"forecast for {camera}: {result.HistoryBins} hourly totals ({result.SuppressedBins} suppressed, left out), M/M/c at μ = {q.ServiceRatePerHour}/h per till");
        Console.WriteLine(JsonSerializer.Serialize(result.ToView()));
        return 0;
    }
}
