using System.Diagnostics;

namespace Ephemera.Runtime;

/// <summary>
/// Shares a saturated detector fairly between cameras when the batcher runs out of banks (more cameras
/// than its 64-bank cap; with one bank per camera the FIFO banks are fair by themselves). While the
/// batcher has refused a frame within the last second, a camera whose recent detection rate, divided
/// by its priority, is above the lowest such rate among running cameras defers its due detection,
/// so the slot goes to the cameras that are behind. Without it, cameras whose frames happen to
/// arrive just after a slot frees win every time and others starve. When the detector keeps up,
/// every due detection goes ahead. Rates are exponentially decayed once a second by the engine.
/// </summary>
public sealed class DetectionFairness
{
    private static readonly long s_saturatedWindow = Stopwatch.Frequency; // one second
    private CameraWorker[] _cameras = [];
    private long _lastBusy = long.MinValue / 2;

    public void SetCameras(IEnumerable<CameraWorker> cameras) => _cameras = cameras.ToArray();

    /// <summary>Called by a camera whose frame the batcher refused (every bank taken).</summary>
    public void ReportBusy() => Volatile.Write(ref _lastBusy, Stopwatch.GetTimestamp());

    public bool Saturated => Stopwatch.GetTimestamp() - Volatile.Read(ref _lastBusy) < s_saturatedWindow;

    /// <summary>True when <paramref name="camera"/> may submit its due detection now.</summary>
    public bool MayDetect(CameraWorker camera)
    {
        if (!Saturated) return true;
        double mine = camera.ServedRate / Math.Max(1, camera.Config.Priority);
        double min = double.MaxValue;
        foreach (var c in _cameras)
        {
            if (c.State != CameraState.Running) continue;
            double r = c.ServedRate / Math.Max(1, c.Config.Priority);
            if (r < min) min = r;
        }
        return mine <= min * 1.1 + 0.5; // a little slack, so a deferral rarely leaves the detector idle
    }

    /// <summary>Once a second: decays each camera's recent rate toward the last second's detections.</summary>
    public void Tick()
    {
        foreach (var c in _cameras) c.UpdateRecentRate();
    }
}
