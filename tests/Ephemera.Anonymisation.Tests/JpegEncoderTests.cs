using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.TestSupport;

namespace Ephemera.Anonymisation.Tests;

/// <summary>The native JPEG encoder on a synthetic picture: decodes back, keeps its size and colour, refuses bad layouts.</summary>
public class JpegEncoderTests
{
    [Fact]
    public void A_pixel_buffer_picture_encodes_and_decodes_back_to_the_same_size_and_levels()
    {
        const int W = 320, H = 240;
        using var buf = PixelBuffer.Rent(W * H * 3 / 2);
        var s = buf.DangerousGetSpan();
        // Left half dark, right half bright luma; neutral chroma.
        for (int y = 0; y < H; y++) for (int x = 0; x < W; x++) s[y * W + x] = (byte)(x < W / 2 ? 40 : 200);
        s[(W * H)..].Fill(128);
        var jpeg = JpegEncoder.Encode(buf, W, H, 0, W, W * H, W * H * 5 / 4, W / 2, fullRange: true, qscale: 2);
        Assert.Equal(0xFF, jpeg[0]); Assert.Equal(0xD8, jpeg[1]);
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("a.jpg"), jpeg);
        Assert.Equal((W, H), Inputs.Probe(tmp.File("a.jpg")));
        var r = ChildProcess.Run("ffmpeg", ["-v", "error", "-i", tmp.File("a.jpg"), "-f", "rawvideo", "-pix_fmt", "gray", tmp.File("a.gray")]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        var g = File.ReadAllBytes(tmp.File("a.gray"));
        Assert.InRange(g[H / 2 * W + 20], 36, 44);
        Assert.InRange(g[H / 2 * W + W - 20], 196, 204);
    }

    [Fact]
    public void Bad_layouts_are_refused_before_the_native_call()
    {
        using var buf = PixelBuffer.Rent(64 * 48 * 3 / 2);
        Assert.Throws<EphemeraException>(() => JpegEncoder.Encode(buf, 63, 48, 0, 64, 64 * 48, 64 * 48 * 5 / 4, 32, true));
        Assert.Throws<EphemeraException>(() => JpegEncoder.Encode(buf, 64, 48, 0, 64, 64 * 48, 64 * 48 * 5 / 4 + 1, 32, true)); // V plane runs past the end
        Assert.Throws<ArgumentOutOfRangeException>(() => JpegEncoder.Encode(buf, 64, 48, 0, 64, 64 * 48, 64 * 48 * 5 / 4, 32, true, qscale: 1));
        // Limited range encodes too (tagged limited).
        var jpeg = JpegEncoder.Encode(buf, 64, 48, 0, 64, 64 * 48, 64 * 48 * 5 / 4, 32, fullRange: false);
        Assert.True(jpeg.Length > 100);
    }
}
