using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ephemera.Decode;

public enum DecodeLogLevel { Info = 0, Warning = 1, Error = 2 }

/// <summary>
/// Where the decode core's state changes go (hardware fallback, connection lost, reconnected,
/// leaked leases): one line each. Defaults to stderr; a host may redirect it.
/// </summary>
public static class DecodeLog
{
    /// <summary>Receives every line. Must not throw; called from decoder and finalizer threads.</summary>
    public static Action<DecodeLogLevel, string> Sink { get; set; } = WriteToStderr;

    public static void WriteToStderr(DecodeLogLevel level, string message) =>
        Console.Error.WriteLine($"ephemera: {(level == DecodeLogLevel.Info ? "" : level.ToString().ToLowerInvariant() + ": ")}{message}");

    internal static void Write(DecodeLogLevel level, string message)
    {
        try { Sink(level, message); }
        catch (Exception) { /* a broken sink must not take the decoder down */ }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    internal static unsafe void FromNative(int level, byte* message, void* userData) =>
        Write((DecodeLogLevel)level, Marshal.PtrToStringUTF8((nint)message) ?? "");
}
