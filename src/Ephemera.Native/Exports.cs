using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ephemera.Core;

namespace Ephemera.Native;

/// <summary>
/// The entry points of native/include/ephemera_engine.h. Every one catches everything: no managed
/// exception crosses the boundary; a failure is a negative code with its text in
/// <c>eph_engine_last_error()</c> (thread-local).
/// </summary>
public static unsafe class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "eph_engine_last_error")]
    public static byte* LastErrorText() => LastError.Pointer;

    [UnmanagedCallersOnly(EntryPoint = "eph_engine_create")]
    public static int Create(byte* jsonOptions, nint* outEngine)
    {
        try
        {
            if (outEngine == null) return LastError.Set(Status.InvalidArg, "eph_engine_create: out is NULL");
            *outEngine = 0;
            var options = JsonConfig.Options(LastError.Utf8(jsonOptions));
            var state = new EngineState(new EphemeraEngine(options));
            *outEngine = GCHandle.ToIntPtr(GCHandle.Alloc(state));
            return Status.Ok;
        }
        catch (Exception e) { return LastError.From(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "eph_engine_add_camera")]
    public static int AddCamera(nint engine, byte* jsonCamera)
    {
        try
        {
            if (State(engine) is not { } s) return NullHandle("eph_engine_add_camera");
            var (camera, manifest) = JsonConfig.Camera(LastError.Utf8(jsonCamera));
            var r = s.Engine.AddCameraAsync(camera, manifest).GetAwaiter().GetResult();
            if (r.Added) return Status.Ok;
            var f = r.Refusal!;
            return LastError.Set(Status.Refused, $"camera '{f.CameraId}' refused [{f.RequirementId ?? "-"}]: {f.Reason}");
        }
        catch (EphemeraException e) when (e.Message.Contains("was stopped", StringComparison.Ordinal)) { return LastError.Set(Status.Stopped, e.Message); }
        catch (Exception e) { return LastError.From(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "eph_engine_remove_camera")]
    public static int RemoveCamera(nint engine, byte* id)
    {
        try
        {
            if (State(engine) is not { } s) return NullHandle("eph_engine_remove_camera");
            string? cam = LastError.Utf8(id);
            if (string.IsNullOrEmpty(cam)) return LastError.Set(Status.InvalidArg, "eph_engine_remove_camera: id is NULL or empty");
            return s.Engine.RemoveCameraAsync(cam).GetAwaiter().GetResult() ? Status.Ok
                : LastError.Set(Status.NotFound, $"no running camera '{cam}'");
        }
        catch (Exception e) { return LastError.From(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "eph_engine_start")]
    public static int Start(nint engine)
    {
        try
        {
            if (State(engine) is not { } s) return NullHandle("eph_engine_start");
            s.Engine.StartAsync().GetAwaiter().GetResult();
            return Status.Ok;
        }
        catch (EphemeraException e) when (e.Message.Contains("was stopped", StringComparison.Ordinal)) { return LastError.Set(Status.Stopped, e.Message); }
        catch (Exception e) { return LastError.From(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "eph_engine_stop")]
    public static int Stop(nint engine)
    {
        try
        {
            if (State(engine) is not { } s) return NullHandle("eph_engine_stop");
            s.Engine.StopAsync().GetAwaiter().GetResult();
            return Status.Ok;
        }
        catch (Exception e) { return LastError.From(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "eph_engine_next_record")]
    public static int NextRecord(nint engine, byte* buf, nuint len, int timeoutMs)
    {
        try
        {
            if (State(engine) is not { } s) return NullHandle("eph_engine_next_record");
            if (buf == null && len > 0) return LastError.Set(Status.InvalidArg, "eph_engine_next_record: buf is NULL");
            int n = (int)Math.Min(len, (nuint)int.MaxValue);
            return s.Next(new Span<byte>(buf, n), timeoutMs);
        }
        catch (Exception e) { return LastError.From(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "eph_engine_stats")]
    public static int Stats(nint engine, byte* buf, nuint len)
    {
        try
        {
            if (State(engine) is not { } s) return NullHandle("eph_engine_stats");
            if (buf == null && len > 0) return LastError.Set(Status.InvalidArg, "eph_engine_stats: buf is NULL");
            var json = s.StatsJson();
            if (len < (nuint)json.Length + 1)
                return LastError.Set(Status.BufferTooSmall, $"buffer too small: the statistics need {json.Length + 1} bytes (JSON and the NUL)");
            var dest = new Span<byte>(buf, json.Length + 1);
            json.CopyTo(dest);
            dest[json.Length] = 0;
            return json.Length;
        }
        catch (Exception e) { return LastError.From(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "eph_engine_destroy")]
    public static void Destroy(nint engine)
    {
        if (engine == 0) return;
        try
        {
            var h = GCHandle.FromIntPtr(engine);
            var s = (EngineState?)h.Target;
            h.Free();
            s?.Destroy();
        }
        catch (Exception e) { LastError.From(e); }
    }

    private static EngineState? State(nint engine) => engine == 0 ? null : (EngineState?)GCHandle.FromIntPtr(engine).Target;

    private static int NullHandle(string fn) => LastError.Set(Status.InvalidArg, $"{fn}: engine is NULL");
}
