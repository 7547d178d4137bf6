using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.Mqtt;
using Ephemera.TestSupport;
using MQTTnet;
using MQTTnet.Protocol;

namespace Ephemera.Cluster.Tests;

/// <summary>
/// The MQTT sink against a real mosquitto on a free port, fed by a real engine child process
/// (<c>ephemera run</c> on vtest.avi): records and retained state reach a subscriber, a camera
/// whose contract the manifest does not name gets nothing (PN7/AC7), and kill -9 of the engine
/// brings the last will ("offline").
/// </summary>
public sealed class MqttSinkTests
{
    /// <summary>Case 3 with a contract whose granularity floor is the manifest's bin, so count records may go to its broker.</summary>
    internal static string Manifest(TempDir dir)
    {
        var text = File.ReadAllText(Path.Combine(RepoPaths.Root, "configs", "manifests", "case3-outdoor-counts.yaml"))
            .Replace("granularity_floor: 1h", "granularity_floor: 15m");
        var path = dir.File("case3-mqtt.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    private static string Config(TempDir dir, string broker, string clientId) => $"""
        engine:
          detect_fps: 5
          store: {dir.File("engine.db")}
          audit_interval_seconds: 2
        cameras:
          - id: plaza-count-1
            source: {TestPaths.Video("vtest.avi")}
            manifest: {Manifest(dir)}
            loop: true
            analytics:
              lines:
                - name: mid
                  points: [0, 350, 768, 350]
            mqtt:
              broker: "{broker}"
              contract: MINATO-2026-031
              client_id: {clientId}
          - id: plaza-count-2
            source: {TestPaths.Video("vtest.avi")}
            manifest: {Manifest(dir)}
            loop: true
            analytics:
              lines:
                - name: mid
                  points: [0, 350, 768, 350]
            mqtt:
              broker: "{broker}"
              contract: NOT-IN-THE-MANIFEST
              client_id: {clientId}
        """;

    internal sealed class Subscriber : IAsyncDisposable
    {
        public readonly ConcurrentQueue<(string Topic, string Payload, bool Retained)> Messages = new();
        private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

        public static async Task<Subscriber> ConnectAsync(int port)
        {
            var s = new Subscriber();
            s._client.ApplicationMessageReceivedAsync += e =>
            {
                s.Messages.Enqueue((e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload), e.ApplicationMessage.Retain));
                return Task.CompletedTask;
            };
            await s._client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("test-" + Guid.NewGuid().ToString("N")[..8]).Build());
            await s._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("ephemera/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
            return s;
        }

        public async Task<(string Topic, string Payload, bool Retained)> WaitForAsync(Func<(string Topic, string Payload, bool Retained), bool> match, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < timeout)
            {
                foreach (var m in Messages) if (match(m)) return m;
                await Task.Delay(50);
            }
            throw new TimeoutException($"no matching MQTT message in {timeout.TotalSeconds} s; got: {string.Join(" | ", Messages.Select(m => m.Topic + "=" + m.Payload[..Math.Min(80, m.Payload.Length)]))}");
        }

        public async ValueTask DisposeAsync()
        {
            if (_client.IsConnected) await _client.DisconnectAsync();
            _client.Dispose();
        }
    }

    [Fact]
    public void A_contract_the_manifest_does_not_name_is_refused()
    {
        using var dir = new TempDir();
        var m = ManifestLoader.Load(Manifest(dir)).ForCamera("plaza-count-1");
        var e = Assert.Throws<EphemeraException>(() => MqttSink.RequireContract(m, "SOMEONE-ELSE"));
        Assert.StartsWith("PN7/AC7:", e.Message);
        Assert.Contains("MINATO-2026-031", e.Message); // names the recipients it does have
        Assert.Equal("MINATO-2026-031", MqttSink.RequireContract(m, "MINATO-2026-031").ContractId);
    }

    [Fact]
    public async Task Records_retained_state_and_availability_reach_a_subscriber_and_kill_9_brings_the_last_will()
    {
        using var broker = BrokerProcess.Mosquitto();
        using var dir = new TempDir();
        await using var sub = await Subscriber.ConnectAsync(broker.Port);
        File.WriteAllText(dir.File("run.yaml"), Config(dir, broker.Url, "engine-a"));

        // A clean run: records at the stop (the open bins), the retained state, online then offline.
        var run = ChildProcess.Cli("run", "--config", dir.File("run.yaml"), "--max-seconds", "12");
        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Contains("PN7/AC7", run.StdErr); // plaza-count-2's contract is refused, logged; the camera still ran
        var record = await sub.WaitForAsync(m => m.Topic == "ephemera/plaza-count-1/count", TimeSpan.FromSeconds(10));
        using (var doc = JsonDocument.Parse(record.Payload))
        {
            Assert.Equal("plaza-count-1", doc.RootElement.GetProperty("camera").GetString());
            Assert.Equal(900, doc.RootElement.GetProperty("bin_seconds").GetDouble());
            // Released, k-suppressed: no cell below k = 5 ever reaches the broker.
            foreach (var row in doc.RootElement.GetProperty("payload").GetProperty("cells").EnumerateArray())
                foreach (var cell in row.EnumerateArray())
                    Assert.True(cell.ValueKind == JsonValueKind.Null || cell.GetInt32() >= 5 || cell.GetInt32() == 0, $"cell {cell} below k");
        }
        await sub.WaitForAsync(m => m.Topic == "ephemera/engine/engine-a/availability" && m.Payload == "offline", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(sub.Messages, m => m.Topic.StartsWith("ephemera/plaza-count-2/", StringComparison.Ordinal));

        // A new subscriber gets the retained state at once.
        await using (var late = await Subscriber.ConnectAsync(broker.Port))
        {
            var state = await late.WaitForAsync(m => m.Topic == "ephemera/plaza-count-1/state", TimeSpan.FromSeconds(5));
            Assert.True(state.Retained);
            using var doc = JsonDocument.Parse(state.Payload);
            Assert.True(doc.RootElement.GetProperty("totals").TryGetProperty("count", out _), state.Payload);
        }

        // kill -9: the broker publishes the engine's last will.
        File.WriteAllText(dir.File("kill.yaml"), Config(dir, broker.Url, "engine-b").Replace("engine.db", "engine-b.db"));
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { ChildProcess.CliDll, "run", "--config", dir.File("kill.yaml") }) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;
        child.OutputDataReceived += (_, _) => { }; child.ErrorDataReceived += (_, _) => { };
        child.BeginOutputReadLine(); child.BeginErrorReadLine();
        try
        {
            await sub.WaitForAsync(m => m.Topic == "ephemera/engine/engine-b/availability" && m.Payload == "online", TimeSpan.FromSeconds(60));
            child.Kill(); // SIGKILL: no goodbye from the engine
            await sub.WaitForAsync(m => m.Topic == "ephemera/engine/engine-b/availability" && m.Payload == "offline", TimeSpan.FromSeconds(15));
        }
        finally
        {
            if (!child.HasExited) child.Kill(entireProcessTree: true);
        }
    }
}
