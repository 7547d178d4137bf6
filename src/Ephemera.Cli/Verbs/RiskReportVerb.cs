using Ephemera.Governance;

namespace Ephemera.Cli;

/// <summary><c>./ephemera risk-report --manifest FILE</c>: the re-identification risk analysis of a camera.</summary>
public sealed class RiskReportVerb : IVerb
{
    public string Name => "risk-report";
    public string Summary => "print a camera's re-identification risk analysis (data classes, gates, k, bins, unicity)";
    public string Usage => """
        usage: ephemera risk-report --manifest FILE
        Human text on stderr, JSON on stdout.
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["manifest"], []);
        var m = ManifestLoader.Load(a.Require("manifest"));
        var report = RiskReport.Analyze(m, DateTimeOffset.UtcNow);
        Console.Error.Write(report.ToText());
        Console.OutputEncoding = System.Text.Encoding.UTF8;
        Console.WriteLine(report.ToJson());
        return 0;
    }
}
