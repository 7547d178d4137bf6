using System.Buffers.Binary;
using System.Text;

namespace Ephemera.Inference.Onnx;

/// <summary>
/// A minimal, lossless protobuf message: an ordered list of fields, each kept in its wire form.
/// Length-delimited fields can be opened as a nested <see cref="ProtoMessage"/>, edited, and are
/// re-encoded on <see cref="WriteTo"/>; every field nobody opened is written back byte for byte
/// (so packed arrays, unknown fields and large initializers survive untouched). Enough for the
/// few ONNX edits the engine makes; not a general protobuf library.
/// </summary>
internal sealed class ProtoMessage
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;

    public List<ProtoField> Fields { get; } = new();

    public static ProtoMessage Parse(ReadOnlyMemory<byte> data)
    {
        var msg = new ProtoMessage();
        var span = data.Span;
        int pos = 0;
        while (pos < span.Length)
        {
            ulong key = ReadVarint(span, ref pos);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            if (number <= 0) throw new FormatException($"invalid protobuf field number {number} at byte {pos}");
            switch (wire)
            {
                case WireVarint:
                    msg.Fields.Add(new ProtoField(number, wire) { Varint = ReadVarint(span, ref pos) });
                    break;
                case WireFixed64:
                    Need(span, pos, 8);
                    msg.Fields.Add(new ProtoField(number, wire) { Varint = BinaryPrimitives.ReadUInt64LittleEndian(span[pos..]) });
                    pos += 8;
                    break;
                case WireFixed32:
                    Need(span, pos, 4);
                    msg.Fields.Add(new ProtoField(number, wire) { Varint = BinaryPrimitives.ReadUInt32LittleEndian(span[pos..]) });
                    pos += 4;
                    break;
                case WireLengthDelimited:
                    ulong len = ReadVarint(span, ref pos);
                    if (len > (ulong)(span.Length - pos)) throw new FormatException($"protobuf field {number} claims {len} bytes, {span.Length - pos} left");
                    msg.Fields.Add(new ProtoField(number, wire) { Bytes = data.Slice(pos, (int)len) });
                    pos += (int)len;
                    break;
                default:
                    throw new FormatException($"unsupported protobuf wire type {wire} (field {number}) at byte {pos}");
            }
        }
        return msg;
    }

    public IEnumerable<ProtoField> All(int number) => Fields.Where(f => f.Number == number);
    public ProtoField? First(int number) => Fields.FirstOrDefault(f => f.Number == number);
    public string? String(int number) => First(number) is { } f ? Encoding.UTF8.GetString(f.Bytes.Span) : null;
    public long? Int64(int number) => First(number) is { } f ? (long)f.Varint : null;

    /// <summary>Sets a length-delimited field to a string, replacing every previous occurrence.</summary>
    public void SetString(int number, string value)
    {
        Fields.RemoveAll(f => f.Number == number);
        Fields.Add(new ProtoField(number, WireLengthDelimited) { Bytes = Encoding.UTF8.GetBytes(value) });
    }

    /// <summary>Appends a varint field (for building messages).</summary>
    public ProtoMessage Add(int number, long value)
    {
        Fields.Add(new ProtoField(number, WireVarint) { Varint = (ulong)value });
        return this;
    }

    /// <summary>Appends a fixed32 field holding a float.</summary>
    public ProtoMessage Add(int number, float value)
    {
        Fields.Add(new ProtoField(number, WireFixed32) { Varint = BitConverter.SingleToUInt32Bits(value) });
        return this;
    }

    /// <summary>Appends a length-delimited field holding a UTF-8 string.</summary>
    public ProtoMessage Add(int number, string value) => Add(number, Encoding.UTF8.GetBytes(value));

    /// <summary>Appends a length-delimited field holding raw bytes.</summary>
    public ProtoMessage Add(int number, byte[] value)
    {
        Fields.Add(new ProtoField(number, WireLengthDelimited) { Bytes = value });
        return this;
    }

    /// <summary>Appends a nested message (encoded now; later edits to <paramref name="child"/> are not seen).</summary>
    public ProtoMessage Add(int number, ProtoMessage child) => Add(number, child.ToArray());

    public byte[] ToArray()
    {
        using var ms = new MemoryStream();
        WriteTo(ms);
        return ms.ToArray();
    }

    public void WriteTo(Stream s)
    {
        Span<byte> tmp = stackalloc byte[10];
        foreach (var f in Fields)
        {
            WriteVarint(s, ((ulong)f.Number << 3) | (uint)f.Wire, tmp);
            switch (f.Wire)
            {
                case WireVarint: WriteVarint(s, f.Varint, tmp); break;
                case WireFixed64: BinaryPrimitives.WriteUInt64LittleEndian(tmp, f.Varint); s.Write(tmp[..8]); break;
                case WireFixed32: BinaryPrimitives.WriteUInt32LittleEndian(tmp, (uint)f.Varint); s.Write(tmp[..4]); break;
                case WireLengthDelimited:
                    if (f.Child is { } child)
                    {
                        var body = child.ToArray();
                        WriteVarint(s, (ulong)body.Length, tmp);
                        s.Write(body);
                    }
                    else
                    {
                        WriteVarint(s, (ulong)f.Bytes.Length, tmp);
                        s.Write(f.Bytes.Span);
                    }
                    break;
            }
        }
    }

    internal static ulong ReadVarint(ReadOnlySpan<byte> span, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= span.Length) throw new FormatException("truncated protobuf varint");
            byte b = span[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new FormatException("protobuf varint longer than 10 bytes");
    }

    internal static void WriteVarint(Stream s, ulong v, Span<byte> tmp)
    {
        int n = 0;
        while (v >= 0x80) { tmp[n++] = (byte)(v | 0x80); v >>= 7; }
        tmp[n++] = (byte)v;
        s.Write(tmp[..n]);
    }

    private static void Need(ReadOnlySpan<byte> span, int pos, int n)
    {
        if (span.Length - pos < n) throw new FormatException("truncated protobuf fixed-width field");
    }
}

/// <summary>One field occurrence. For length-delimited fields, <see cref="Open"/> parses the body once.</summary>
internal sealed class ProtoField(int number, int wire)
{
    public int Number { get; } = number;
    public int Wire { get; } = wire;
    public ulong Varint { get; set; }
    public ReadOnlyMemory<byte> Bytes { get; set; }
    /// <summary>The parsed body, when opened; written instead of <see cref="Bytes"/>.</summary>
    public ProtoMessage? Child { get; private set; }

    public ProtoMessage Open()
    {
        if (Wire != ProtoMessage.WireLengthDelimited) throw new FormatException($"field {Number} is not a message");
        return Child ??= ProtoMessage.Parse(Bytes);
    }
}
