using Spectre.Console;

namespace Ephemera.Cli;

/// <summary>The human side of the CLI: Spectre.Console on stderr (stdout is for machine results).</summary>
public static class StatusConsole
{
    public static IAnsiConsole Create()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        // Redirected stderr (CI, logs) has no width; give tables room instead of wrapping every cell.
        if (Console.IsErrorRedirected) console.Profile.Width = 160;
        return console;
    }
}
