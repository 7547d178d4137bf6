namespace Ephemera.Cli.Tests;

public class ProjectBuildsTests
{
    [Fact]
    public void AssemblyLoads() => Assert.NotNull(typeof(ProjectBuildsTests).Assembly);
}
