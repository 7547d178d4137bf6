using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Decode.Tests;

public sealed class NetworkSourceTests : LedgerGuard
{
    [Fact]
    public void Http_file_decodes_every_frame_then_ends()
    {
        using var dir = new TempDir();
        Clips.Make(dir, "clip.ts", "-c:v libx264 -pix_fmt yuv420p -f mpegts");
        int port = RtspTestServer.FreePort();
        var psi = new ProcessStartInfo("/usr/bin/python3") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-m", "http.server", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--directory", dir.Path })
            psi.ArgumentList.Add(a);
        using var server = Process.Start(psi)!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            WaitForPort(port, TimeSpan.FromSeconds(20));
            using var source = VideoSource.Open($"http://127.0.0.1:{port}/clip.ts", new SourceOptions { ReadTimeoutMs = 5000 });
            Assert.Equal(50, Clips.DecodeAll(source, f => Assert.Equal((320, 240), (f.Width, f.Height)), limit: 1000));
        }
        finally
        {
            try { server.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            server.WaitForExit(10_000);
        }
    }

    [Fact]
    public void A_server_that_accepts_and_never_answers_times_out_instead_of_hanging()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var clock = Stopwatch.StartNew();
            var e = Assert.ThrowsAny<EphemeraException>(() =>
                VideoSource.Open($"rtsp://user:secret@127.0.0.1:{port}/stalled", new SourceOptions { ReadTimeoutMs = 700 }));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"open took {clock.Elapsed.TotalSeconds:F1} s");
            Assert.Contains($"rtsp://127.0.0.1:{port}/stalled", e.Message);
            Assert.DoesNotContain("secret", e.Message); // credentials never reach messages
            Assert.Contains("timed out", e.Message);
        }
        finally { listener.Stop(); }
    }

    private static void WaitForPort(int port, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (clock.Elapsed < limit) { Thread.Sleep(100); }
        }
    }
}
