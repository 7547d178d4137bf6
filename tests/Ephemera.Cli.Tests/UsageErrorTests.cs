using Ephemera.TestSupport;

namespace Ephemera.Cli.Tests;

/// <summary>Bad usage and bad input exit 2 with a message that names the cause, never half a result.</summary>
public class UsageErrorTests
{
    [Fact]
    public void RunTakesItsConfigAsAPositionalArgumentOnceAndRefusesMore()
    {
        using var dir = new TempDir();
        var r = ChildProcess.Cli("run", dir.File("missing.yaml"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("missing.yaml", r.StdErr); // it was taken as the config, not ignored for the demo
        var two = ChildProcess.Cli("run", "a.yaml", "b.yaml");
        Assert.Equal(2, two.ExitCode);
        Assert.Contains("unexpected argument 'b.yaml'", two.StdErr);
    }

    [Fact]
    public void EvalMotWithAMissingFileNamesItAndPrintsNoJson()
    {
        using var dir = new TempDir();
        var gt = TestPaths.Mot15("TUD-Campus/gt/gt.txt");
        var r = ChildProcess.Cli("eval-mot", "--gt", gt, "--results", dir.File("nope.txt"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("nope.txt", r.StdErr);
        Assert.Equal("", r.StdOut.Trim());
    }

    [Fact]
    public void AConfigWithAnUnclosedBracketIsExit2WithFileAndLineNoStackTrace()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("bad.yaml"), "engine:\n  detect_fps: [5\ncameras:\n  - id: a\n");
        var r = ChildProcess.Cli("run", "--config", dir.File("bad.yaml"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("bad.yaml:", r.StdErr);
        Assert.DoesNotContain("   at ", r.StdErr);
    }
}
