using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ephemera.TestSupport;

/// <summary>
/// A real RTSP server (Debian's gst-rtsp-server through python3-gi, <c>rtsp_server.py</c>) on
/// 127.0.0.1 serving a live 320×240 25 fps H.264 stream at <see cref="Url"/>. Tests kill and
/// restart it on the same port to drop connections under a reading source.
/// </summary>
public sealed class RtspTestServer : IDisposable
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(30);
    private Process? _process;

    public int Port { get; }
    public string Url => $"rtsp://127.0.0.1:{Port}/test";
    public bool Running => _process is { HasExited: false };

    private RtspTestServer(int port) => Port = port;

    public static RtspTestServer Start(int? port = null)
    {
        var s = new RtspTestServer(port ?? FreePort());
        s.Restart();
        return s;
    }

    /// <summary>(Re)starts the server on the same port; returns once it prints READY.</summary>
    public void Restart()
    {
        if (Running) return;
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rtsp_server.py"));
        psi.ArgumentList.Add(Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the RTSP server");
        p.ErrorDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        var ready = p.StandardOutput.ReadLineAsync();
        if (!ready.Wait(StartLimit) || ready.Result != "READY")
        {
            Stop(p);
            throw new InvalidOperationException($"RTSP server on port {Port} did not start: {(ready.IsCompleted ? ready.Result : "timeout")}");
        }
        _process = p;
    }

    /// <summary>Kills the server (every client connection drops at once).</summary>
    public void Kill()
    {
        if (_process != null) Stop(_process);
        _process = null;
    }

    public void Dispose() => Kill();

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static void Stop(Process p)
    {
        try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        p.WaitForExit(10_000);
        p.Dispose();
    }
}
