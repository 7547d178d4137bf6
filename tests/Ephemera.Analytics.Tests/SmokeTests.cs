namespace Ephemera.Analytics.Tests;

public class ProjectBuildsTests
{
    [Fact]
    public void AssemblyLoads() => Assert.NotNull(typeof(ProjectBuildsTests).Assembly);
}
