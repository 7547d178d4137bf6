using Microsoft.Win32.SafeHandles;

namespace Ephemera.Decode.Interop;

/// <summary>
/// Owns one <c>eph_source*</c>. Releasing it closes the source (decoder stopped, free pool blocks
/// wiped and freed); frames still leased stay valid until their own release.
/// </summary>
internal sealed class SourceHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SourceHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        NativeMethods.eph_source_close(handle);
        return true;
    }
}

/// <summary>Owns one <c>eph_pixbuf*</c>. Releasing it zeroes and frees the memory (counted as wiped).</summary>
internal sealed class PixelBufferHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public PixelBufferHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        NativeMethods.eph_pixbuf_free(handle);
        return true;
    }
}
