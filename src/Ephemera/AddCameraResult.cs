namespace Ephemera;

/// <summary>A camera running in an engine.</summary>
/// <param name="Id">The camera id.</param>
public sealed record CameraHandle(string Id);

/// <summary>Why a camera was not started: the guidebook requirement (BP-a, G2, H3, M2, …) when one applies, and the reason.</summary>
/// <param name="CameraId">The camera that was refused.</param>
/// <param name="RequirementId">The requirement id the refusal rests on (null when the cause is not a requirement, e.g. a duplicate id).</param>
/// <param name="Reason">The full reason, naming the manifest or the key.</param>
public sealed record CameraRefusal(string CameraId, string? RequirementId, string Reason);

/// <summary>The answer of <see cref="EphemeraEngine.AddCameraAsync"/>: a handle, or a refusal. Exactly one is set.</summary>
public sealed record AddCameraResult
{
    private AddCameraResult(CameraHandle? camera, CameraRefusal? refusal) { Camera = camera; Refusal = refusal; }

    /// <summary>The running camera (null when refused).</summary>
    public CameraHandle? Camera { get; }
    /// <summary>Why it was refused (null when added).</summary>
    public CameraRefusal? Refusal { get; }
    /// <summary>True when the camera was added.</summary>
    public bool Added => Camera != null;

    internal static AddCameraResult Ok(string id) => new(new CameraHandle(id), null);
    internal static AddCameraResult Refused(string id, string? requirement, string reason) => new(null, new CameraRefusal(id, requirement, reason));
}
