using Ephemera.Config;

namespace Ephemera;

/// <summary>
/// One camera for <see cref="EphemeraEngine.AddCameraAsync"/>: where its frames come from and what
/// its purpose analytics measure. Validated when set (<see cref="Core.EphemeraException"/> naming the key).
/// </summary>
public sealed record CameraSpec
{
    /// <summary>Creates a camera spec; <paramref name="id"/> must match the manifest's camera (or one of its covered cameras).</summary>
    public CameraSpec(string id, string source)
    {
        Id = id; Source = source;
    }

    /// <summary>The camera id: letters, digits, '-', '_' or '.'.</summary>
    public string Id
    {
        get;
        init => field = !string.IsNullOrEmpty(value) && value.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.')
            ? value : throw EphemeraOptions.Invalid("id", $"'{value}' is not a camera id (letters, digits, '-', '_', '.')");
    }

    /// <summary>A file path, or an rtsp://, http:// or https:// URL.</summary>
    public string Source { get; init => field = EphemeraOptions.NotEmpty("source", value); }

    /// <summary>File sources: start again at the end.</summary>
    public bool Loop { get; init; }

    /// <summary>File sources: deliver frames at their own rate, like a live camera (network streams pace themselves).</summary>
    public bool Paced { get; init; } = true;

    /// <summary>Detections per second (null = the engine's default).</summary>
    public double? DetectFps { get; init => field = value is { } v ? EphemeraOptions.Range("detect_fps", v, 0.01, 120) : null; }

    /// <summary>Higher priority keeps its detection rate longer when the machine falls behind.</summary>
    public int Priority { get; init => field = EphemeraOptions.Range("priority", value, 1, 100); } = 1;

    /// <summary>Counting lines, zones and floor calibration (what the purpose measures).</summary>
    public AnalyticsConfig Analytics { get; init => field = value ?? throw EphemeraOptions.Invalid("analytics", "must not be null"); } = new();

    internal CameraConfig ToConfig() => new()
    {
        Id = Id, Source = Source, Loop = Loop, Paced = Paced, DetectFps = DetectFps, Priority = Priority, Analytics = Analytics,
    };
}
