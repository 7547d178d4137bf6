using Ephemera.Core;

namespace Ephemera.Decode.Interop;

/// <summary>
/// The one funnel for native failures: every status returned by the native core passes through
/// <see cref="ThrowIfFailed"/>, which reads the thread-local native message (it already names the
/// source and the cause) and throws the matching typed exception.
/// </summary>
internal static class NativeErrors
{
    internal static void ThrowIfFailed(int status)
    {
        if (status >= 0) return;
        throw Create((NativeStatus)status, NativeMethods.LastError());
    }

    internal static Exception Create(NativeStatus status, string message)
    {
        if (message.Length == 0) message = $"native call failed with {status}";
        return status switch
        {
            NativeStatus.OutOfMemory => new OutOfMemoryException(message),
            _ => new VideoSourceException(status.ToString(), message),
        };
    }
}
