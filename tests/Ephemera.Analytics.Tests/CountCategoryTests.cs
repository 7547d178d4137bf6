using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Analytics.Tests;

/// <summary>Case-3 count categories and the evidence rule for classes a detector confuses with vehicles.</summary>
public class CountCategoryTests
{
    private const int Airplane = 4, Boat = 8;

    // Horizontal line at y = 100 from x = 0 to 1000; moving down is "in".
    private static LineCounter Line() => new(new CountingLineOptions(new Point2(0, 100), new Point2(1000, 100)));

    /// <summary>One track of class <paramref name="cls"/>, a <paramref name="w"/>×<paramref name="h"/> box whose bottom-centre walks down through <paramref name="ys"/> at x.</summary>
    private static void Drive(LineCounter c, int id, int cls, float w, float h, double x, params double[] ys)
    {
        double t = id * 10;
        foreach (double y in ys)
        {
            c.Update([new TrackedObject(id, cls, new BoxF((float)x - w / 2, (float)y - h, w, h), 0.8f, TrackState.Confirmed, true)], [], t);
            t += 0.1;
        }
        c.Update([], [id], t);
    }

    private static readonly double[] LongDrive = [0, 20, 40, 60, 80, 95, 110, 125, 140, 160, 180];

    [Fact]
    public void DetectorClassesAreReportedAsCategories()
    {
        var c = Line();
        Drive(c, 1, CocoClasses.Car, 60, 40, 100, LongDrive);
        Drive(c, 2, CocoClasses.Truck, 80, 50, 300, LongDrive);
        Drive(c, 3, CocoClasses.Bus, 90, 60, 500, LongDrive);
        Drive(c, 4, CocoClasses.Motorcycle, 20, 30, 700, LongDrive);
        Drive(c, 5, 15 /* cat */, 20, 20, 900, LongDrive);
        var s = c.Snapshot();
        Assert.Equal(CountCategories.Names, s.ByClass.Keys.ToArray());
        Assert.Equal(new DirectionCounts(3, 0), s.ByClass["vehicle"]);
        Assert.Equal(new DirectionCounts(1, 0), s.ByClass["motorbike"]);
        Assert.Equal(4, s.In);
    }

    [Fact]
    public void ConfusedClassCountsAsVehicleWhenItDrivesLikeOne()
    {
        var c = Line();
        Drive(c, 1, Airplane, 60, 40, 100, LongDrive);
        Drive(c, 2, Boat, 60, 40, 300, LongDrive);
        Assert.Equal(new DirectionCounts(2, 0), c.Snapshot().ByClass["vehicle"]);
    }

    [Fact]
    public void ConfusedClassThatBarelyMovesIsNotCounted()
    {
        // A 60-px box first seen 5 px above the line, ending 10 px below: it crossed, with the
        // hysteresis met, but travelled 15 px < half its length. A direct car doing the same counts.
        var c = Line();
        Drive(c, 1, Airplane, 60, 40, 100, 95, 103, 106, 108, 110);
        Assert.Equal(0, c.In);
        Drive(c, 2, CocoClasses.Car, 60, 40, 300, 95, 103, 106, 108, 110);
        Assert.Equal(1, c.In);
    }

    [Fact]
    public void ConfusedClassThatWandersIsNotCounted()
    {
        // Net travel 40 px but a path of 200+ px: not a road user's straight drive.
        var c = Line();
        Drive(c, 1, Airplane, 30, 30, 100, 70, 130, 60, 140, 70, 130, 110, 115, 120);
        Assert.Equal(0, c.In);
    }

    [Fact]
    public void ConfusedClassMustBeTheSizeOfTheVehiclesCountedHere()
    {
        var c = Line();
        Drive(c, 1, CocoClasses.Car, 60, 40, 100, LongDrive);               // reference: √area ≈ 49
        Drive(c, 2, Airplane, 12, 8, 300, LongDrive);                        // 5× smaller: no
        Drive(c, 3, Airplane, 70, 45, 500, LongDrive);                       // same size: yes
        Assert.Equal(new DirectionCounts(2, 0), c.Snapshot().ByClass["vehicle"]);
    }

    [Fact]
    public void ConfusedClassSmallerThanThePeopleHereIsNotAVehicle()
    {
        var c = Line();
        Drive(c, 1, CocoClasses.Person, 30, 80, 100, LongDrive);             // √area ≈ 49
        Drive(c, 2, Boat, 20, 20, 300, LongDrive);                           // smaller than a person: no
        Drive(c, 3, Boat, 90, 60, 500, LongDrive);                           // larger: yes
        var s = c.Snapshot();
        Assert.Equal(new DirectionCounts(1, 0), s.ByClass["vehicle"]);
        Assert.Equal(new DirectionCounts(1, 0), s.ByClass["person"]);
    }

    [Fact]
    public void MapsAreValidatedAgainstTheDetectorsClasses()
    {
        string[] classes = ["person", "car", "kite"];
        var ok = new CountCategories(classes,
            new Dictionary<string, IReadOnlyList<string>> { ["person"] = ["person"], ["vehicle"] = ["car"] },
            new Dictionary<string, IReadOnlyList<string>> { ["vehicle"] = ["kite"] }, "test");
        Assert.Equal((0, 3, 3, -1), (ok.CategoryOf(0), ok.CategoryOf(1), ok.CategoryOf(2), ok.CategoryOf(7)));
        Assert.True(ok.NeedsEvidence(2));
        Assert.True(ok.IsDirectVehicle(1));
        Assert.False(ok.IsDirectVehicle(2));
        var e1 = Assert.Throws<EphemeraException>(() => new CountCategories(classes,
            new Dictionary<string, IReadOnlyList<string>> { ["lorry"] = ["car"] }, null, "m.yaml"));
        Assert.Contains("'lorry'", e1.Message);
        var e2 = Assert.Throws<EphemeraException>(() => new CountCategories(classes,
            new Dictionary<string, IReadOnlyList<string>> { ["vehicle"] = ["tram"] }, null, "m.yaml"));
        Assert.Contains("'tram'", e2.Message);
        var e3 = Assert.Throws<EphemeraException>(() => new CountCategories(classes,
            new Dictionary<string, IReadOnlyList<string>> { ["vehicle"] = ["car"] },
            new Dictionary<string, IReadOnlyList<string>> { ["vehicle"] = ["car"] }, "m.yaml"));
        Assert.Contains("twice", e3.Message);
    }
}
