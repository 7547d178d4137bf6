using Ephemera.Core;
using Ephemera.Decode.Interop;

namespace Ephemera.Decode;

/// <summary>
/// Native, 64-byte-aligned, zero-filled memory for pixels outside the decoder (detector input
/// tensors, crops), counted in the same <see cref="PixelLedger"/>. Dispose zeroes and frees it.
/// </summary>
public sealed unsafe class PixelBuffer : IDisposable
{
    private readonly PixelBufferHandle _handle;

    /// <summary>Start of the memory; valid until <see cref="Dispose"/>.</summary>
    public byte* Pointer { get; }
    public nuint Length { get; }

    private PixelBuffer(PixelBufferHandle handle)
    {
        _handle = handle;
        Pointer = NativeMethods.eph_pixbuf_data(handle);
        Length = NativeMethods.eph_pixbuf_size(handle);
    }

    /// <summary>Allocates <paramref name="bytes"/> (> 0) of zeroed native memory.</summary>
    public static PixelBuffer Rent(nuint bytes)
    {
        if (bytes == 0) throw new ArgumentOutOfRangeException(nameof(bytes), "a pixel buffer needs at least one byte");
        var handle = NativeMethods.eph_pixbuf_alloc(bytes);
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw new OutOfMemoryException(NativeMethods.LastError());
        }
        return new PixelBuffer(handle);
    }

    /// <summary>
    /// Scratch its owner wipes after every use (a detector's input tensors): counted like any pixel
    /// buffer, but its final free adds no sample to the pixel-lifetime figures, because its age is not
    /// how long it held pixels (each use is wiped within the run that filled it).
    /// </summary>
    public static PixelBuffer RentReused(nuint bytes)
    {
        var b = Rent(bytes);
        NativeMethods.eph_pixbuf_set_reused(b._handle);
        return b;
    }

    /// <summary>
    /// The memory as a span. DANGEROUS: it must not outlive this buffer; <see cref="Dispose"/> zeroes and frees it.
    /// </summary>
    public Span<byte> DangerousGetSpan()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return new Span<byte>(Pointer, checked((int)Length));
    }

    /// <summary>Zeroes and frees the memory (counted as wiped).</summary>
    public void Dispose() => _handle.Dispose();
}
