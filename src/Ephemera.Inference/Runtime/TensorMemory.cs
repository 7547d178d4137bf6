using System.Runtime.InteropServices;
using Ephemera.Decode;

namespace Ephemera.Inference.Runtime;

/// <summary>
/// Native, 64-byte aligned memory for a batch input tensor. It holds resized pixels, so it is a
/// pixel buffer (<see cref="PixelBuffer"/>, counted in the engine-wide <see cref="PixelLedger"/>):
/// zeroed by <see cref="Wipe"/> after every inference and on <see cref="Dispose"/>, and also
/// counted per kind in <see cref="TensorLedger"/>. The one place that allocates tensor memory.
/// </summary>
internal sealed unsafe class TensorMemory : IDisposable
{
    private PixelBuffer? _buffer;
    private byte* _ptr;
    public nuint Length { get; }

    public TensorMemory(nuint bytes)
    {
        _buffer = PixelBuffer.RentReused(bytes); // aligned, zeroed, counted as allocated; wiped after every run, so its age is no pixel lifetime
        _ptr = _buffer.Pointer;
        Length = bytes;
        TensorLedger.OnAllocated(bytes);
    }

    /// <summary>DANGEROUS: valid until <see cref="Dispose"/>; the owner (the detector) frees it.</summary>
    public byte* Pointer => _ptr != null ? _ptr : throw new ObjectDisposedException(nameof(TensorMemory));

    public Span<float> Floats(long offsetFloats, int count) =>
        new((float*)Pointer + offsetFloats, count);

    /// <summary>Zeroes the first <paramref name="bytes"/> (the part the last batch used).</summary>
    public void Wipe(nuint bytes) => NativeMemory.Clear(Pointer, Math.Min(bytes, Length));

    public void Dispose()
    {
        if (_buffer == null) return;
        _ptr = null;
        _buffer.Dispose(); // zeroes and frees, counted as wiped
        _buffer = null;
        TensorLedger.OnWipedAndFreed(Length);
    }
}

/// <summary>Counts batch tensor buffers: allocated vs wiped-and-freed (balanced when every detector is disposed).</summary>
public static class TensorLedger
{
    private static long s_allocated, s_freed, s_bytesLive;

    internal static void OnAllocated(nuint bytes) { Interlocked.Increment(ref s_allocated); Interlocked.Add(ref s_bytesLive, (long)bytes); }
    internal static void OnWipedAndFreed(nuint bytes) { Interlocked.Increment(ref s_freed); Interlocked.Add(ref s_bytesLive, -(long)bytes); }

    public readonly record struct Snapshot(long Allocated, long Wiped, long BytesLive)
    {
        public long Live => Allocated - Wiped;
    }

    public static Snapshot Take() => new(Interlocked.Read(ref s_allocated), Interlocked.Read(ref s_freed), Interlocked.Read(ref s_bytesLive));
}
