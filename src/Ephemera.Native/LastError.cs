using System.Runtime.InteropServices;
using System.Text;

namespace Ephemera.Native;

/// <summary>
/// The calling thread's last error text for <c>eph_engine_last_error()</c>: a NUL-terminated UTF-8
/// copy in native memory that stays valid until the next failing eph_engine_* call on the same thread.
/// </summary>
internal static unsafe class LastError
{
    [ThreadStatic] private static byte* t_text;
    private static readonly byte* s_empty = (byte*)NativeMemory.AllocZeroed(1);

    public static byte* Pointer => t_text != null ? t_text : s_empty;

    public static int Set(int code, string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var p = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
        bytes.AsSpan().CopyTo(new Span<byte>(p, bytes.Length));
        p[bytes.Length] = 0;
        var old = t_text;
        t_text = p;
        if (old != null) NativeMemory.Free(old);
        return code;
    }

    /// <summary>Maps an exception that escaped an entry point onto a code (never lets it cross the boundary).</summary>
    public static int From(Exception e) => e switch
    {
        Core.EphemeraException => Set(Status.Config, e.Message + Causes(e)),
        ArgumentException => Set(Status.InvalidArg, e.Message + Causes(e)),
        ObjectDisposedException => Set(Status.Stopped, "the engine was destroyed"),
        _ => Set(Status.Internal, $"{e.GetType().Name}: {e.Message}{Causes(e)}"),
    };

    // The inner exceptions' messages (a wrapped library failure names its real cause there).
    private static string Causes(Exception e)
    {
        var sb = new StringBuilder();
        for (var i = e.InnerException; i != null; i = i.InnerException) sb.Append(" <- ").Append(i.GetType().Name).Append(": ").Append(i.Message);
        return sb.ToString();
    }

    public static string? Utf8(byte* s) => s == null ? null : Marshal.PtrToStringUTF8((nint)s);
}
