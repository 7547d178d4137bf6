namespace Ephemera.Decode.Tests;

public class ProjectBuildsTests
{
    [Fact]
    public void AssemblyLoads() => Assert.NotNull(typeof(ProjectBuildsTests).Assembly);
}
