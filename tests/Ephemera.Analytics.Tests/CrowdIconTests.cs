using System.Reflection;
using Ephemera.Analytics;
using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Analytics.Tests;

public class CrowdIconTests
{
    // Floor 10 × 8 m at 20 px/m → 200 × 160 px; a 2 × 2 m gate zone and a 4 × 4 m hall.
    private static CrowdIconOptions Options(double interval = 1) => new(FloorFlowTests.PixelsToMetres,
        new FloorPlan(10, 8, [FloorZone.Parse("gate:1,1,3,1,3,3,1,3"), FloorZone.Parse("hall:5,2,9,2,9,6,5,6")]),
        pixelsPerMetre: 20, intervalSeconds: interval, iconRadiusPx: 6);

    /// <summary>Three people standing in the gate, one walking through the hall at 1 m/s, 10 fps for 3 s.</summary>
    private static CrowdIcons Run(CrowdIconOptions o, Action<CrowdSnapshot>? onRender = null)
    {
        var icons = new CrowdIcons(o);
        if (onRender != null) icons.Rendered += onRender;
        for (int f = 0; f <= 30; f++)
        {
            double t = f * 0.1;
            icons.Update([
                Feed.At(1, 150, 150), Feed.At(2, 250, 150), Feed.At(3, 200, 250),   // (1.5,1.5) (2.5,1.5) (2.0,2.5) m
                Feed.At(4, (5.5 + t) * 100, 400),                                    // moving along y = 4 m
                Feed.At(5, 800, 700, TrackState.Tentative),                          // never drawn
                Feed.At(6, 600, 700, cls: CocoClasses.Car)], [], t);                 // not a person: never drawn
        }
        return icons;
    }

    [Fact]
    public void IconsAppearWherePeopleAreWithMovingStillAndOnlyPaletteColours()
    {
        var o = Options();
        var snap = Run(o).Latest!;
        Preview.Save("crowd-icons.png", snap.Png);
        Assert.Equal(3.0, snap.TimeSeconds, 9);
        var img = PngDecoder.Decode(snap.Png);
        Assert.Equal((200, 160), (img.Width, img.Height));
        Assert.Equal((snap.Width, snap.Height), (img.Width, img.Height));
        var still = (o.StillColour.R, o.StillColour.G, o.StillColour.B);
        var moving = (o.MovingColour.R, o.MovingColour.G, o.MovingColour.B);
        var bg = (o.Background.R, o.Background.G, o.Background.B);
        Assert.Equal(still, img.At(30, 30));   // (1.5, 1.5) m → pixel (30, 30): filled disc
        Assert.Equal(still, img.At(50, 30));
        Assert.Equal(still, img.At(40, 50));
        // Walker at (8.5, 4) m at t = 3 s → (170, 80): a ring, hollow in the middle.
        Assert.Equal(moving, img.At(170 - 5, 80));
        Assert.Equal(bg, img.At(170, 80));
        Assert.Equal(bg, img.At(160, 140));    // the tentative track at (8, 7) m is not drawn
        Assert.Equal(bg, img.At(120, 140));    // nor the car at (6, 7) m
        Assert.Subset(o.PaletteColours.Select(c => (c.R, c.G, c.B)).ToHashSet(), img.Colours());
        // Icons carry only position and state: 4 people → 4 icons, no more.
        Assert.Equal(4, snap.People);
    }

    [Fact]
    public void CrowdLevelsFollowDensityThresholds()
    {
        var o = Options();
        var levels = Run(o).Latest!.Levels;
        var gate = levels.Single(l => l.Zone == "gate");
        Assert.Equal(3, gate.People);
        Assert.Equal(0.75, gate.PeoplePerSquareMetre, 9);   // 3 people on 4 m²
        Assert.Equal("moderate", gate.Level);
        var hall = levels.Single(l => l.Zone == "hall");
        Assert.Equal("free", hall.Level);                  // 1 person on 16 m²
        Assert.All(levels, l => Assert.Equal(DataClass.CrowdLevel, l.DataClass));
        // The gate outline is drawn in its level colour: (1,1) m corner → pixel (20,20).
        var img = PngDecoder.Decode(Run(o).Latest!.Png);
        var moderate = o.Levels.Single(l => l.Name == "moderate").Colour;
        Assert.Equal((moderate.R, moderate.G, moderate.B), img.At(40, 20));
    }

    [Fact]
    public void RegeneratedAtTheIntervalAndTheWriterKeepsOnlyTheLatestFile()
    {
        using var dir = new TempDir();
        var writer = new IconImageWriter(dir.Path);
        var times = new List<double>();
        Run(Options(interval: 1), s => { times.Add(s.TimeSeconds); writer.Write(s); });
        Assert.Equal([0.0, 1.0, 2.0, 3.0], times.Select(t => Math.Round(t, 6)));
        var files = Directory.GetFiles(dir.Path);
        Assert.Equal([writer.CurrentPath!], files);
        Assert.Equal(writer.LatestPng, File.ReadAllBytes(files[0]));
    }

    [Fact]
    public void NoSourcePixelCanReachTheImage()
    {
        // The renderers have no API that takes pixels: no public member of the image-producing types
        // accepts bytes, spans, memory, streams or frame views.
        Type[] imageTypes = [typeof(CrowdIcons), typeof(IconCanvas), typeof(FloorHeatMap), typeof(CrowdIconOptions), typeof(IconImageWriter)];
        foreach (var t in imageTypes)
            foreach (var m in t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static).Cast<MethodBase>().Concat(t.GetConstructors()))
                foreach (var p in m.GetParameters())
                {
                    var pt = p.ParameterType.IsByRef ? p.ParameterType.GetElementType()! : p.ParameterType;
                    bool pixelish = pt == typeof(byte[]) || pt == typeof(Stream) || pt == typeof(FrameView)
                        || (pt.IsGenericType && pt.GetGenericArguments().Contains(typeof(byte)));
                    Assert.False(pixelish, $"{t.Name}.{m.Name}({p.Name}: {pt.Name}) could take pixels");
                }

        // And a synthetic camera frame with a unique colour pattern never shows up in the output: the
        // analytics see only the tracks derived from it.
        const int W = 640, H = 480;
        var frame = new byte[W * H * 3];
        var sourceColours = new HashSet<(byte, byte, byte)>();
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                int i = (y * W + x) * 3;
                frame[i] = (byte)(x * 7 + 3); frame[i + 1] = (byte)(y * 11 + 5); frame[i + 2] = (byte)((x ^ y) | 1);
                sourceColours.Add((frame[i], frame[i + 1], frame[i + 2]));
            }
        var o = Options();
        var img = PngDecoder.Decode(Run(o).Latest!.Png);
        var palette = o.PaletteColours.Select(c => (c.R, c.G, c.B)).ToHashSet();
        sourceColours.ExceptWith(palette);
        Assert.Empty(img.Colours().Intersect(sourceColours));
        // No 2×2 block of the output equals a 2×2 block of the frame.
        var blocks = new HashSet<long>();
        for (int y = 0; y + 1 < H; y += 1) for (int x = 0; x + 1 < W; x += 1) blocks.Add(Block(frame, W, x, y));
        for (int y = 0; y + 1 < img.Height; y++) for (int x = 0; x + 1 < img.Width; x++) Assert.DoesNotContain(Block(img.Rgb, img.Width, x, y), blocks);
    }

    private static long Block(byte[] rgb, int w, int x, int y)
    {
        long h = 17;
        for (int dy = 0; dy < 2; dy++) for (int dx = 0; dx < 2; dx++) for (int k = 0; k < 3; k++) h = h * 31 + rgb[((y + dy) * w + x + dx) * 3 + k];
        return h;
    }

    [Fact]
    public void OptionsAreValidated()
    {
        var plan = new FloorPlan(10, 8);
        Assert.Throws<EphemeraException>(() => new CrowdIconOptions(FloorFlowTests.PixelsToMetres, plan, intervalSeconds: 0));
        Assert.Throws<EphemeraException>(() => new CrowdIconOptions(FloorFlowTests.PixelsToMetres, plan, pixelsPerMetre: 5000));
        Assert.Throws<EphemeraException>(() => new CrowdIconOptions(FloorFlowTests.PixelsToMetres, plan,
            levels: [new CrowdLevel("a", 0, default), new CrowdLevel("b", 1, default), new CrowdLevel("c", 0.5, default)]));
        Assert.Throws<EphemeraException>(() => new CrowdIconOptions(FloorFlowTests.PixelsToMetres, plan, levels: [new CrowdLevel("a", 0.1, default)]));
        Assert.Throws<EphemeraException>(() => Rgb.Parse("#12345"));
    }
}
