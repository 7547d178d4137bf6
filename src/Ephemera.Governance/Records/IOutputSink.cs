namespace Ephemera.Governance.Records;

/// <summary>
/// A host's own output for released records (a message bus, a dashboard, a file). The engine's
/// SQLite store is the default sink. A sink receives <see cref="DerivedRecord"/>s only: every one
/// already passed the gates of its camera's manifest, and none can carry camera pixels.
/// </summary>
/// <remarks>
/// Threading: the engine calls <see cref="Write"/> from its publishing path, one call at a time
/// (never concurrently, never on a detector thread). Keep it short: buffer and hand off slow I/O.
/// An exception is logged and counted against the sink; it does not stop the cameras or the
/// other sinks.
/// </remarks>
public interface IOutputSink
{
    /// <summary>Receives one released record.</summary>
    void Write(DerivedRecord record);
}
