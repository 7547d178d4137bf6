using Ephemera.Core;

namespace Ephemera.Analytics.Forecast;

/// <summary>Visitors that arrived in one past bin (from the released counts or attribute totals; a suppressed total is left out).</summary>
public readonly record struct ArrivalBin(DateTimeOffset Start, int Visitors);

/// <summary>How a bin's expected arrivals were estimated.</summary>
public enum ForecastBasis
{
    /// <summary>Mean of the same weekday and hour in past weeks.</summary>
    WeekdayHour,
    /// <summary>Too few weeks: mean of the same hour on any past day.</summary>
    HourOfDay,
    /// <summary>Too little of either: mean of every past bin.</summary>
    Overall,
    /// <summary>No history at all.</summary>
    None,
}

/// <summary>Queue settings of the forecast (validated here).</summary>
public sealed class CheckoutQueueOptions
{
    /// <summary>Customers one till serves per hour (μ).</summary>
    public double ServiceRatePerHour { get; }
    /// <summary>Share of visitors who go to a till (0..1].</summary>
    public double CheckoutShare { get; }
    /// <summary>The expected wait (in queue) the tills are sized for.</summary>
    public TimeSpan TargetWait { get; }
    /// <summary>Tills the store has (an upper bound for the answer).</summary>
    public int MaxTills { get; }
    /// <summary>Past samples of a weekday×hour (or an hour) needed before it is used.</summary>
    public int MinSamples { get; }

    public CheckoutQueueOptions(double serviceRatePerHour, double checkoutShare = 1.0, TimeSpan? targetWait = null, int maxTills = 20, int minSamples = 2)
    {
        if (!(serviceRatePerHour > 0)) throw new EphemeraException($"forecast: service rate per till must be positive, got {serviceRatePerHour}/h");
        if (!(checkoutShare is > 0 and <= 1)) throw new EphemeraException($"forecast: checkout share must be in (0, 1], got {checkoutShare}");
        var wait = targetWait ?? TimeSpan.FromMinutes(2);
        if (wait <= TimeSpan.Zero) throw new EphemeraException($"forecast: target wait must be positive, got {wait}");
        if (maxTills < 1) throw new EphemeraException($"forecast: max tills must be at least 1, got {maxTills}");
        if (minSamples < 1) throw new EphemeraException($"forecast: min samples must be at least 1, got {minSamples}");
        ServiceRatePerHour = serviceRatePerHour; CheckoutShare = checkoutShare; TargetWait = wait; MaxTills = maxTills; MinSamples = minSamples;
    }
}

/// <summary>One forecast bin: expected arrivals, the M/M/c queue at the tills needed, and how the arrivals were estimated.</summary>
public sealed record ForecastBin(DateTimeOffset Start, double ExpectedArrivals, ForecastBasis Basis, int TillsNeeded,
    double Utilisation, double ProbabilityOfWaiting, double ExpectedQueueLength, TimeSpan ExpectedWait);

/// <summary>
/// Checkout-queue forecast of case 1 from aggregate arrivals only (never per person). Arrivals per
/// future hour are seasonal by weekday and hour (the mean of the same weekday×hour in past weeks),
/// falling back to the same hour on any day, then to the overall mean, when history is short. The
/// tills are an M/M/c queue (Poisson arrivals at λ = arrivals × checkout share per hour,
/// exponential service at μ per till, c tills; Erlang C gives the chance of waiting and
/// Lq = C·ρ/(1−ρ), Wq = Lq/λ): the tills needed are the fewest whose expected wait meets the target.
/// M/M/c was chosen because only hourly totals are kept: it needs no more than the arrival rate and the service rate.
/// </summary>
public static class CheckoutForecast
{
    /// <summary>Forecast for <paramref name="bins"/> hourly bins starting at <paramref name="from"/> (truncated to the hour, in <paramref name="from"/>'s offset).</summary>
    public static IReadOnlyList<ForecastBin> Forecast(IEnumerable<ArrivalBin> history, DateTimeOffset from, int bins, CheckoutQueueOptions queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        if (bins < 1) throw new EphemeraException($"forecast: number of bins must be at least 1, got {bins}");
        // Seasonality in local time of the store (the offset of 'from'): 9:00 is 9:00 there.
        var offset = from.Offset;
        var past = history.Where(h => h.Visitors >= 0).Select(h => (At: h.Start.ToOffset(offset), h.Visitors)).ToList();
        var start = new DateTimeOffset(from.Year, from.Month, from.Day, from.Hour, 0, 0, offset);
        var result = new List<ForecastBin>(bins);
        for (int i = 0; i < bins; i++)
        {
            var t = start.AddHours(i);
            var (arrivals, basis) = ExpectedArrivals(past, t, queue.MinSamples);
            double lambda = arrivals * queue.CheckoutShare;
            result.Add(Queue(t, arrivals, basis, lambda, queue));
        }
        return result;
    }

    private static (double, ForecastBasis) ExpectedArrivals(List<(DateTimeOffset At, int Visitors)> past, DateTimeOffset t, int minSamples)
    {
        var before = past.Where(p => p.At < t).ToList();
        if (before.Count == 0) return (0, ForecastBasis.None);
        var same = before.Where(p => p.At.DayOfWeek == t.DayOfWeek && p.At.Hour == t.Hour).ToList();
        if (same.Count >= minSamples) return (same.Average(p => p.Visitors), ForecastBasis.WeekdayHour);
        var hour = before.Where(p => p.At.Hour == t.Hour).ToList();
        if (hour.Count >= minSamples) return (hour.Average(p => p.Visitors), ForecastBasis.HourOfDay);
        return (before.Average(p => p.Visitors), ForecastBasis.Overall);
    }

    private static ForecastBin Queue(DateTimeOffset t, double arrivals, ForecastBasis basis, double lambda, CheckoutQueueOptions q)
    {
        if (lambda <= 0) return new ForecastBin(t, arrivals, basis, 0, 0, 0, 0, TimeSpan.Zero);
        double mu = q.ServiceRatePerHour;
        int minStable = (int)Math.Floor(lambda / mu) + 1;
        for (int c = Math.Max(1, minStable); ; c++)
        {
            var (pw, lq, wqHours) = MMc(lambda, mu, c);
            var wait = double.IsFinite(wqHours) ? TimeSpan.FromHours(wqHours) : TimeSpan.MaxValue; // more than MaxTills can serve
            if (wait <= q.TargetWait || c >= q.MaxTills)
                return new ForecastBin(t, arrivals, basis, c, lambda / (c * mu), pw, lq, wait);
        }
    }

    /// <summary>
    /// M/M/c with arrival rate <paramref name="lambda"/> and service rate <paramref name="mu"/> per server:
    /// Erlang C (chance an arrival waits), mean queue length Lq and mean wait Wq (hours). Needs λ &lt; cμ.
    /// </summary>
    public static (double ProbabilityOfWaiting, double QueueLength, double WaitHours) MMc(double lambda, double mu, int c)
    {
        if (c < 1) throw new ArgumentOutOfRangeException(nameof(c), c, "at least one server");
        double a = lambda / mu, rho = a / c;
        if (rho >= 1) return (1, double.PositiveInfinity, double.PositiveInfinity);
        // Erlang C through the Erlang B recursion (stable for large c): B(0)=1, B(k)=a·B(k−1)/(k + a·B(k−1)).
        double b = 1;
        for (int k = 1; k <= c; k++) b = a * b / (k + a * b);
        double erlangC = b / (1 - rho * (1 - b));
        double lq = erlangC * rho / (1 - rho);
        return (erlangC, lq, lq / lambda);
    }
}
