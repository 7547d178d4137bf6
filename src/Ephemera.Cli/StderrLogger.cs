using Microsoft.Extensions.Logging;

namespace Ephemera.Cli;

/// <summary>
/// The CLI's logging: each engine message as one <c>ephemera: …</c> line on stderr (stdout stays
/// for the machine-readable result). Information and above; <c>EPHEMERA_LOG=debug</c> shows more.
/// </summary>
public sealed class StderrLoggerFactory : ILoggerFactory
{
    public static readonly StderrLoggerFactory Instance = new();
    private static readonly LogLevel s_min = Environment.GetEnvironmentVariable("EPHEMERA_LOG") is "debug" ? LogLevel.Debug : LogLevel.Information;

    public ILogger CreateLogger(string categoryName) => Logger.Shared;
    public void AddProvider(ILoggerProvider provider) { }
    public void Dispose() { }

    private sealed class Logger : ILogger
    {
        public static readonly Logger Shared = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= s_min && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            Console.Error.WriteLine($"ephemera: {formatter(state, exception)}");
        }
    }
}
