namespace Ephemera.Cli;

/// <summary><c>./ephemera version</c>: the engine and runtime versions, as JSON on stdout.</summary>
public sealed class VersionVerb : IVerb
{
    public string Name => "version";
    public string Summary => "print the engine version as JSON";
    public string Usage => "usage: ephemera version";
    public int Run(string[] args)
    {
        // version takes no arguments: an unknown one is a typo the user should hear about.
        if (args.Length > 0) throw new UsageException($"unexpected argument '{args[0]}'");
        var v = typeof(VersionVerb).Assembly.GetName().Version;
        Console.WriteLine($"{{\"engine\":\"{v}\",\"dotnet\":\"{Environment.Version}\"}}");
        return 0;
    }
}
