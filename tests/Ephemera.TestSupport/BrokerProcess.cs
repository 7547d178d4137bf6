using System.Diagnostics;
using System.Net.Sockets;

namespace Ephemera.TestSupport;

/// <summary>
/// A real message broker for a test, on 127.0.0.1 and a free port: <c>nats-server -js</c> (JetStream
/// in a temporary store directory) or <c>mosquitto</c> (a temporary config file). Killed on dispose,
/// so a failing test never leaves one behind; <see cref="Stop"/> and <see cref="Start"/> let a test
/// take the server away and bring it back on the same port and store.
/// </summary>
public sealed class BrokerProcess : IDisposable
{
    private readonly string _file;
    private readonly string[] _args;
    private Process? _process;
    private readonly TempDir _dir;

    private BrokerProcess(string file, string[] args, int port, TempDir dir)
    {
        _file = file; _args = args; Port = port; _dir = dir;
    }

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }
    /// <summary>nats://127.0.0.1:PORT or mqtt host:port.</summary>
    public string Url => _file.EndsWith("nats-server", StringComparison.Ordinal) ? $"nats://127.0.0.1:{Port}" : $"127.0.0.1:{Port}";

    /// <summary>nats-server with JetStream on a free port, its store in a temporary directory.</summary>
    public static BrokerProcess Nats()
    {
        var dir = new TempDir();
        int port = RtspTestServer.FreePort();
        var b = new BrokerProcess(Which("nats-server"), ["-js", "-a", "127.0.0.1", "-p", port.ToString(), "-sd", dir.File("js")], port, dir);
        b.Start();
        return b;
    }

    /// <summary>mosquitto on a free port, from a temporary config (no persistence, anonymous on loopback only).</summary>
    public static BrokerProcess Mosquitto()
    {
        var dir = new TempDir();
        int port = RtspTestServer.FreePort();
        File.WriteAllText(dir.File("mosquitto.conf"), $"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n");
        var b = new BrokerProcess(Which("mosquitto"), ["-c", dir.File("mosquitto.conf")], port, dir);
        b.Start();
        return b;
    }

    private static string Which(string name)
    {
        foreach (var d in new[] { "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin" })
            if (File.Exists(Path.Combine(d, name))) return Path.Combine(d, name);
        throw new FileNotFoundException($"{name} is not installed (./ephemera installs it: apt-get install {(name == "nats-server" ? "nats-server" : "mosquitto")})");
    }

    /// <summary>Starts the server (again) and waits until its port accepts connections.</summary>
    public void Start()
    {
        var psi = new ProcessStartInfo(_file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in _args) psi.ArgumentList.Add(a);
        _process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {_file}");
        _process.OutputDataReceived += (_, _) => { }; _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine(); _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{_file} exited with {_process.ExitCode} at start");
            try { using var c = new TcpClient(); c.Connect("127.0.0.1", Port); return; }
            catch (SocketException) { Thread.Sleep(50); }
        }
        throw new TimeoutException($"{_file} did not listen on {Port}");
    }

    /// <summary>Kills the server (SIGKILL) and waits for it.</summary>
    public void Stop()
    {
        if (_process is { HasExited: false } p) { p.Kill(entireProcessTree: true); p.WaitForExit(5000); }
        _process?.Dispose();
        _process = null;
    }

    public void Dispose()
    {
        Stop();
        _dir.Dispose();
    }
}
