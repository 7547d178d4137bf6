using System.Text.Json;
using Ephemera.TestSupport;

namespace Ephemera.Inference.Tests;

public class CliVerbTests
{
    [Fact]
    public void ModelsListPrintsTheCatalogueAsJson()
    {
        var r = ChildProcess.Cli("models", "list");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        var names = doc.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Contains("yolox_nano_coco_416", names);
        Assert.Contains("age_gender_net", names); // the converted model is listed with the detectors
        Assert.Equal(6, names.Count);
    }

    [Fact]
    public void ModelsFetchIsQuietWhenEverythingIsInPlace()
    {
        Assert.Equal(0, ChildProcess.Cli("models", "fetch", "--quiet").ExitCode);
        var again = ChildProcess.Cli("models", "fetch", "--quiet");
        Assert.Equal(0, again.ExitCode);
        Assert.Equal("", again.StdOut.Trim());
        Assert.Equal("", again.StdErr.Trim());
    }

    [Theory]
    [InlineData(new[] { "models", "fetch", "bogus" }, "unknown model 'bogus'")]
    [InlineData(new[] { "detect", "--input", "/nonexistent/video.avi", "--json" }, "input video not found: /nonexistent/video.avi")]
    [InlineData(new[] { "detect", "--input", "x.avi", "--every", "0" }, "--every must be >= 1")]
    public void BadUsageExitsTwoNamingTheCause(string[] args, string expected)
    {
        var r = ChildProcess.Cli(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.StdErr);
    }

    [Fact]
    public void UnknownModelOnDetectListsTheCatalogue()
    {
        var r = ChildProcess.Cli("detect", "--input", TestPaths.Video("vtest.avi"), "--model", "nope", "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown model 'nope'", r.StdErr);
        Assert.Contains("yolox_nano_coco_416", r.StdErr);
    }
}
