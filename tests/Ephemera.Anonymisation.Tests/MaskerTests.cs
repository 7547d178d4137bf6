using Ephemera.Anonymisation;
using Ephemera.Core;

namespace Ephemera.Anonymisation.Tests;

public class MaskerTests
{
    private const int W = 64, H = 48;

    private static (byte[] y, byte[] u, byte[] v) Random(int seed)
    {
        var r = new Random(seed);
        var y = new byte[W * H]; var u = new byte[W * H / 4]; var v = new byte[W * H / 4];
        r.NextBytes(y); r.NextBytes(u); r.NextBytes(v);
        return (y, u, v);
    }

    private static YuvPlanes Planes((byte[] y, byte[] u, byte[] v) f) => new(W, H, f.y, W, f.u, f.v, W / 2);

    [Fact]
    public void Mosaic_cells_are_constant_and_at_least_a_fifth_of_the_short_side()
    {
        var f = Random(1);
        var box = new BoxF(10, 8, 30, 20);
        Masker.Apply(Planes(f), box, new MaskOptions(MaskStyle.Mosaic));
        Assert.True(Masker.MaskRect(box, W, H, 1.3f, out int x0, out int y0, out int x1, out int y1));
        int cell = (((Math.Min(x1 - x0, y1 - y0) + 4) / 5) + 1) & ~1;
        Assert.True(cell * 5 >= Math.Min(x1 - x0, y1 - y0));
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
            {
                int cx = x0 + (x - x0) / cell * cell, cy = y0 + (y - y0) / cell * cell;
                Assert.Equal(f.y[cy * W + cx], f.y[y * W + x]);
            }
    }

    [Fact]
    public void Two_sources_with_equal_cell_means_give_identical_output()
    {
        var a = Random(2);
        var b = (y: (byte[])a.y.Clone(), u: (byte[])a.u.Clone(), v: (byte[])a.v.Clone());
        var box = new BoxF(10, 8, 30, 20);
        Assert.True(Masker.MaskRect(box, W, H, 1.3f, out int x0, out int y0, out int x1, out int y1));
        // Rearrange pixels inside b's region (mirror each row within pairs), keeping every cell's sum.
        for (int y = y0; y < y1; y++)
            for (int x = x0; x + 1 < x1; x += 2)
                (b.y[y * W + x], b.y[y * W + x + 1]) = (b.y[y * W + x + 1], b.y[y * W + x]);
        Assert.NotEqual(a.y, b.y);
        var opts = new MaskOptions(MaskStyle.Mosaic);
        Masker.Apply(Planes(a), box, opts);
        Masker.Apply(Planes(b), box, opts);
        Assert.Equal(a.y, b.y);
        Assert.Equal(a.u, b.u);
        Assert.Equal(a.v, b.v);
    }

    [Fact]
    public void Solid_fill_leaves_nothing_of_the_source_and_covers_the_expanded_box()
    {
        var a = Random(3); var b = Random(4);
        var box = new BoxF(20, 10, 10, 10);
        Masker.Apply(Planes(a), box, new MaskOptions(MaskStyle.SolidFill));
        Masker.Apply(Planes(b), box, new MaskOptions(MaskStyle.SolidFill));
        Assert.True(Masker.MaskRect(box, W, H, 1.3f, out int x0, out int y0, out int x1, out int y1));
        Assert.True(x0 <= 18 && y0 <= 8 && x1 >= 32 && y1 >= 22);
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                Assert.Equal(a.y[y * W + x], b.y[y * W + x]);
    }

    [Fact]
    public void Weak_options_are_refused()
    {
        Assert.Throws<EphemeraException>(() => new MaskOptions(Expand: 1.1f).Validate());
        Assert.Throws<EphemeraException>(() => new MaskOptions(CellsOnShortSide: 8).Validate());
    }
}
