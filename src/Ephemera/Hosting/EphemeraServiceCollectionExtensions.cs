using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ephemera.Hosting;

/// <summary>Registers the engine with a <c>Microsoft.Extensions.Hosting</c> host.</summary>
public static class EphemeraServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="EphemeraEngine"/> built from <paramref name="options"/> (logging
    /// through the host's <see cref="ILoggerFactory"/>), and a hosted service that starts it with
    /// the host and drains it when the host stops. Add cameras from your own hosted service or
    /// <c>BackgroundService</c> by injecting the engine.
    /// </summary>
    public static IServiceCollection AddEphemera(this IServiceCollection services, Func<IServiceProvider, EphemeraOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(sp => new EphemeraEngine(options(sp), sp.GetService<ILoggerFactory>()));
        services.AddHostedService<EphemeraHostedService>();
        return services;
    }

    /// <summary>Adds the engine with fixed options (see the other overload).</summary>
    public static IServiceCollection AddEphemera(this IServiceCollection services, EphemeraOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return services.AddEphemera(_ => options);
    }
}

/// <summary>Starts the engine with the host and stops it (draining every camera) when the host stops.</summary>
public sealed class EphemeraHostedService(EphemeraEngine engine) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => engine.StartAsync(cancellationToken);

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => engine.StopAsync(cancellationToken);
}
