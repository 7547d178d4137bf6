using Ephemera.TestSupport;

namespace Ephemera.Cluster.Tests;

/// <summary>The cluster verbs' front door: --help, exit 2 with a message on bad usage, an unreachable server named, nothing applied when a manifest fails.</summary>
public sealed class ClusterCliTests
{
    [Theory]
    [InlineData("worker")]
    [InlineData("collect")]
    [InlineData("cluster")]
    public void Every_cluster_verb_has_help(string verb)
    {
        var r = ChildProcess.Cli(verb, "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"usage: ephemera {verb}", r.StdErr);
        Assert.Contains("--nats URL", r.StdErr);
    }

    [Fact]
    public void Bad_usage_and_an_unreachable_server_exit_2_with_the_cause()
    {
        int port = RtspTestServer.FreePort(); // nothing listens there
        var noNats = ChildProcess.Cli("worker");
        Assert.Equal(2, noNats.ExitCode);
        Assert.Contains("--nats is required", noNats.StdErr);

        var badUrl = ChildProcess.Cli("collect", "--nats", "http://127.0.0.1:1");
        Assert.Equal(2, badUrl.ExitCode);
        Assert.Contains("not a NATS URL", badUrl.StdErr);

        var badCapacity = ChildProcess.Cli("worker", "--nats", $"nats://127.0.0.1:{port}", "--capacity", "0");
        Assert.Equal(2, badCapacity.ExitCode);
        Assert.Contains("--capacity", badCapacity.StdErr);

        foreach (var args in new[] { new[] { "worker", "--nats", $"nats://127.0.0.1:{port}" }, ["collect", "--nats", $"nats://127.0.0.1:{port}"], ["cluster", "status", "--nats", $"nats://127.0.0.1:{port}"] })
        {
            var r = ChildProcess.Cli(args);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains($"NATS server nats://127.0.0.1:{port} is unreachable", r.StdErr);
        }
        var noSub = ChildProcess.Cli("cluster", "--nats", $"nats://127.0.0.1:{port}");
        Assert.Equal(2, noSub.ExitCode);
        Assert.Contains("apply, status", noSub.StdErr);
    }

    [Fact]
    public async Task Apply_validates_every_manifest_first_and_writes_nothing_when_one_fails()
    {
        using var nats = BrokerProcess.Nats();
        using var dir = new TempDir();
        var config = ClusterFixture.Config(dir, 2);
        // The second camera's manifest is another installation's (BP-a): the whole apply is refused.
        File.WriteAllText(config, File.ReadAllText(config).Replace("plaza-count-2", "someone-elses-camera"));
        var r = ChildProcess.Cli("cluster", "apply", "--config", config, "--nats", nats.Url);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("BP-a", r.StdErr);
        Assert.Contains("nothing applied", r.StdErr);
        await using var c = await ClusterConnection.ConnectAsync(nats.Url, "test");
        Assert.Empty(await DesiredState.ListAsync(await c.BucketAsync(ClusterNames.DesiredBucket)));

        var ok = ChildProcess.Cli("cluster", "apply", "--config", ClusterFixture.Config(dir, 2), "--nats", nats.Url);
        Assert.True(ok.ExitCode == 0, ok.StdErr);
        Assert.Equal(["plaza-count-1", "plaza-count-2"], (await DesiredState.ListAsync(await c.BucketAsync(ClusterNames.DesiredBucket))).Keys.Order());
        var status = ChildProcess.Cli("cluster", "status", "--nats", nats.Url, "--json");
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("\"camera\":\"plaza-count-1\"", status.StdOut);
        Assert.Contains("\"state\":\"unclaimed\"", status.StdOut);

        // --capacity auto measures the bench's ceilings at start and claims no more than that.
        var auto = ChildProcess.Cli("worker", "--nats", nats.Url, "--capacity", "auto", "--probe", TestPaths.Video("vtest.avi"), "--max-seconds", "1",
            "--store", dir.File("auto.db"), "--spool", dir.File("spool-auto"));
        Assert.True(auto.ExitCode == 0, auto.StdErr);
        var m = System.Text.RegularExpressions.Regex.Match(auto.StdErr, @"streams allowed at 5 detections/s; capacity (\d+)");
        Assert.True(m.Success, auto.StdErr);
        Assert.InRange(int.Parse(m.Groups[1].Value), 1, 256);
        Assert.Contains($"capacity {m.Groups[1].Value} cameras", auto.StdErr);
    }
}
