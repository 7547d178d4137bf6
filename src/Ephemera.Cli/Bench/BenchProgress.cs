using Ephemera.Runtime;
using Spectre.Console;

namespace Ephemera.Cli.Bench;

/// <summary>
/// A progress bar on stderr for the trials as they run (stdout stays the machine JSON): trial
/// number, stream count, a bar of the trial's seconds, and the frames, detections and late frames so
/// far. On a terminal one line redraws in place every tick; redirected (CI, a log file) a line is
/// written every 5 s so the log does not fill with redraws.
/// </summary>
public sealed class BenchProgress(IAnsiConsole err)
{
    private const int BarWidth = 30;
    private readonly bool _inPlace = !Console.IsErrorRedirected;
    private int _trial, _streams, _ticks;
    private double _seconds;
    private bool _drawn;

    /// <summary>Trials started so far.</summary>
    public int Trials => _trial;

    public void Start(int streams, double seconds)
    {
        _trial++; _streams = streams; _seconds = seconds; _ticks = 0; _drawn = false;
    }

    public void Tick(EngineHost host)
    {
        _ticks++;
        _host = host;
        if (!_inPlace && _ticks % 5 != 0) return;
        Draw(host);
    }

    private EngineHost? _host;

    private void Draw(EngineHost host)
    {
        double t = Math.Min(host.Elapsed.TotalSeconds, _seconds);
        int filled = _seconds > 0 ? (int)Math.Round(t / _seconds * BarWidth) : BarWidth;
        string bar = new string('█', filled) + new string('░', BarWidth - filled);
        string line = $"trial {_trial} · {_streams} streams [{bar}] {t:0}/{_seconds:0} s · {host.Cameras.Sum(c => c.FramesDecoded)} frames, " +
                      $"{host.Cameras.Sum(c => c.DetectionsDone)} detections, {host.Cameras.Sum(c => c.DetectionsSkipped)} skipped, {host.Cameras.Sum(c => c.LateFrames)} late";
        if (_inPlace) { Console.Error.Write("\r" + line + "\u001b[K"); _drawn = true; }
        else err.WriteLine(line);
    }

    /// <summary>Draws the trial's final state and ends its line before the result table is printed under it.</summary>
    public void End()
    {
        if (_host != null) Draw(_host);
        if (_inPlace && _drawn) Console.Error.WriteLine();
        _host = null;
    }
}
