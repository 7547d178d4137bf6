namespace Ephemera.Native;

/// <summary>Return codes of the engine ABI; mirrors <c>eph_engine_status</c> in native/include/ephemera_engine.h.</summary>
internal static class Status
{
    public const int Ok = 0;              // EPH_OK
    public const int InvalidArg = -1;     // EPH_ERR_INVALID_ARG (shared with ephemera.h)
    public const int Config = -20;        // EPH_ERR_CONFIG: bad JSON, unknown key, or a value out of range
    public const int Refused = -21;       // EPH_ERR_REFUSED: the camera was refused (requirement id + reason)
    public const int BufferTooSmall = -22;// EPH_ERR_BUFFER_TOO_SMALL: needed size in eph_engine_last_error
    public const int Stopped = -23;       // EPH_ERR_STOPPED: the engine stopped and no record remains / was stopped
    public const int NotFound = -24;      // EPH_ERR_NOT_FOUND: no such camera
    public const int Internal = -25;      // EPH_ERR_INTERNAL: an unexpected failure (message in last error)
}
