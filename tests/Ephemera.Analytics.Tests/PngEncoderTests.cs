using System.Globalization;
using Ephemera.Analytics;
using Ephemera.TestSupport;

namespace Ephemera.Analytics.Tests;

public class PngEncoderTests
{
    [Fact]
    public void Crc32MatchesTheStandardCheckValue() =>
        Assert.Equal(0xCBF43926u, PngEncoder.Crc32.Compute("123456789"u8));

    [Fact]
    public void CanvasRoundTripsThroughTheTestDecoder()
    {
        var c = new IconCanvas(37, 21, new Rgb(10, 20, 30));
        c.FillRect(3, 4, 9, 8, new Rgb(200, 0, 0));
        c.SetPixel(36, 20, new Rgb(1, 2, 3));
        var img = PngDecoder.Decode(c.EncodePng());
        Assert.Equal((37, 21), (img.Width, img.Height));
        for (int y = 0; y < 21; y++)
            for (int x = 0; x < 37; x++)
            {
                var want = c[x, y];
                Assert.Equal((want.R, want.G, want.B), img.At(x, y));
            }
        Assert.Equal((200, 0, 0), img.At(3, 4));
        Assert.Equal((10, 20, 30), img.At(9, 8));
        Assert.Equal((1, 2, 3), img.At(36, 20));
    }

    [Fact]
    public void OpenCvReadsTheSameImage()
    {
        // An independent decoder (libpng via Debian's python3-opencv) agrees on shape and pixels.
        var c = new IconCanvas(64, 48, new Rgb(240, 240, 240));
        c.FillCircle(20, 20, 8, new Rgb(31, 95, 191));
        c.DrawLine(0, 47, 63, 0, 2, new Rgb(200, 20, 20));
        using var dir = new TempDir();
        var file = dir.File("c.png");
        File.WriteAllBytes(file, c.EncodePng());
        var r = ChildProcess.Run("/usr/bin/python3", ["-c",
            "import cv2,sys\nim=cv2.imread(sys.argv[1],cv2.IMREAD_UNCHANGED)\nprint(im.shape[1],im.shape[0],im.shape[2])\n" +
            "for (x,y) in [(20,20),(0,0),(63,0),(40,30)]:\n b,g,r=im[y,x]\n print(r,g,b)", file]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        var lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("64 48 3", lines[0]);
        (int X, int Y)[] probes = [(20, 20), (0, 0), (63, 0), (40, 30)];
        for (int i = 0; i < probes.Length; i++)
        {
            var p = c[probes[i].X, probes[i].Y];
            Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{p.R} {p.G} {p.B}"), lines[i + 1]);
        }
        Assert.Equal(new Rgb(31, 95, 191), c[20, 20]);
    }
}
