using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>Whether a camera may start now, and every reason it may not (each with its requirement id).</summary>
public sealed record GateDecision(bool Allowed, IReadOnlyList<string> Reasons, DateTimeOffset? EarliestStart)
{
    public static GateDecision Allow(DateTimeOffset earliest) => new(true, [], earliest);
    public override string ToString() => Allowed ? "allowed" : "refused: " + string.Join("; ", Reasons);
}

/// <summary>Thrown when a pipeline produces a data class its manifest does not declare (M2).</summary>
public sealed class UndeclaredOutputException(string message) : EphemeraException(message);

/// <summary>
/// The checks that stand between a manifest and a running camera. The loader already refuses malformed
/// manifests; these gates also run on manifests built in code, and add the clock: no capture before the
/// start date, nor before the pre-notice has been public for its lead time (PN-T1), nor before the
/// at-capture sign is attested (AC). Version changes (M4) are checked by <see cref="EphemeraStore.AuthorizeStart"/>,
/// which remembers what was notified.
/// </summary>
public static class ManifestGate
{
    public static GateDecision CanStart(CameraManifest m, DateTimeOffset now)
    {
        var reasons = new List<string>();
        if (!Enum.IsDefined(m.Kind)) reasons.Add($"G2: purpose kind {(int)m.Kind} is not one of the five cases");
        foreach (var text in new[] { m.PurposeText, m.Benefit, m.Captured })
            foreach (var t in new[] { text.Ja, text.En })
                foreach (var (req, reason, word) in PurposeCatalog.FindRefusedWords(t))
                    reasons.Add($"{req}: purpose refused ('{word}' indicates {reason})");
        if (m.DerivedData.Identifiable) reasons.Add("H3: derived data declared identifiable");
        foreach (var req in PurposeCatalog.Required(m.Kind).Where(c => !m.Declares(c)))
            reasons.Add($"M2: {m.Kind} pipeline produces {req}, which the manifest does not declare");

        var earliest = Max(m.StartDate, m.PreNotice.Published + m.PreNotice.LeadTime, m.AtCapture.InstalledOn);
        if (now < m.StartDate) reasons.Add($"PN8: start date {m.StartDate:yyyy-MM-dd HH:mm zzz} has not come yet");
        if (now < m.PreNotice.Published + m.PreNotice.LeadTime)
            reasons.Add($"PN-T1: pre-notice published {m.PreNotice.Published:yyyy-MM-dd} needs a lead time of {Durations.Short(m.PreNotice.LeadTime)} (until {m.PreNotice.Published + m.PreNotice.LeadTime:yyyy-MM-dd HH:mm zzz})");
        if (now < m.AtCapture.InstalledOn) reasons.Add($"AC: at-capture sign is attested only from {m.AtCapture.InstalledOn:yyyy-MM-dd}");
        return reasons.Count == 0 ? GateDecision.Allow(earliest) : new GateDecision(false, reasons, earliest);
    }

    /// <summary>M2: throws, naming class and camera, when <paramref name="output"/> is not declared.</summary>
    public static void EnsureDeclared(CameraManifest m, DataClass output)
    {
        if (!m.Declares(output))
            throw new UndeclaredOutputException(
                $"M2: camera {m.CameraId} produced {output}, which its manifest ({m.SourcePath}, v{m.Version}) does not declare; " +
                $"declared: {string.Join(", ", m.Outputs.Select(o => o.Class))}");
    }

    private static DateTimeOffset Max(params DateTimeOffset[] xs) => xs.Max();
}

/// <summary>The time source for gates and retention; tests pass a fake one.</summary>
public interface IClock { DateTimeOffset Now { get; } }

/// <summary>The wall clock.</summary>
public sealed class SystemClock : IClock
{
    public static readonly SystemClock Instance = new();
    public DateTimeOffset Now => DateTimeOffset.UtcNow;
}
