using System.Buffers.Binary;
using System.IO.Compression;

namespace Ephemera.Analytics.Tests;

/// <summary>
/// Independent minimal PNG reader for the tests: checks the signature and every chunk's CRC (bitwise
/// CRC-32, no table, so it does not share code with the encoder), inflates IDAT and undoes all five
/// row filters. RGB8 and RGBA8 only.
/// </summary>
internal static class PngDecoder
{
    public sealed record Image(int Width, int Height, byte[] Rgb)
    {
        public (byte R, byte G, byte B) At(int x, int y) { int i = (y * Width + x) * 3; return (Rgb[i], Rgb[i + 1], Rgb[i + 2]); }
        public HashSet<(byte, byte, byte)> Colours()
        {
            var s = new HashSet<(byte, byte, byte)>();
            for (int i = 0; i < Rgb.Length; i += 3) s.Add((Rgb[i], Rgb[i + 1], Rgb[i + 2]));
            return s;
        }
    }

    public static Image Decode(byte[] png)
    {
        byte[] sig = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        Assert.True(png.AsSpan(0, 8).SequenceEqual(sig), "PNG signature");
        int pos = 8, width = 0, height = 0, channels = 0;
        var idat = new MemoryStream();
        bool end = false;
        while (!end)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            Assert.Equal(BitwiseCrc(png.AsSpan(pos + 4, len + 4)), crc);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data); height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    Assert.Equal(8, data[8]);
                    channels = data[9] switch { 2 => 3, 6 => 4, _ => throw new InvalidDataException($"colour type {data[9]}") };
                    Assert.Equal(0, data[12]);
                    break;
                case "IDAT": idat.Write(data); break;
                case "IEND": end = true; break;
            }
            pos += 12 + len;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream(); z.CopyTo(raw);
        var bytes = raw.ToArray();
        int stride = width * channels;
        Assert.Equal(height * (stride + 1), bytes.Length);
        var cur = new byte[stride]; var prev = new byte[stride];
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            int filter = bytes[y * (stride + 1)];
            Array.Copy(bytes, y * (stride + 1) + 1, cur, 0, stride);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? cur[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
                int pred = filter switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, 4 => Paeth(a, b, c), _ => throw new InvalidDataException($"filter {filter}") };
                cur[i] = (byte)(cur[i] + pred);
            }
            for (int x = 0; x < width; x++)
                for (int k = 0; k < 3; k++) rgb[(y * width + x) * 3 + k] = cur[x * channels + k];
            (cur, prev) = (prev, cur);
        }
        return new Image(width, height, rgb);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static uint BitwiseCrc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }
}
