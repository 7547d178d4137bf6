using Ephemera.Decode;

// Every test here shares the process-wide native ledger: run them one at a time so the balance
// checked after each test is that test's own.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Ephemera.Decode.Tests;

/// <summary>
/// Base class for decode tests: after every test, with garbage collected and finalizers run,
/// every pixel block handed out was wiped, none is in use, and no lease leaked (beyond what the
/// test declared in <see cref="ExpectedLeaks"/>).
/// </summary>
public abstract class LedgerGuard : IDisposable
{
    private readonly LedgerSnapshot _before;

    /// <summary>Leaks the test provokes on purpose.</summary>
    protected int ExpectedLeaks { get; set; }

    protected LedgerGuard()
    {
        Settle();
        _before = PixelLedger.Snapshot();
    }

    /// <summary>Collects garbage and runs finalizers so undisposed leases are released and counted.</summary>
    public static void Settle()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    public static void AssertBalanced(LedgerSnapshot s, long expectedLeaked, string when)
    {
        Assert.True(s.Allocated == s.Wiped, $"{when}: allocated {s.Allocated} != wiped {s.Wiped}");
        Assert.True(s.InUse == 0, $"{when}: {s.InUse} pixel blocks still in use");
        Assert.True(s.Leaked == expectedLeaked, $"{when}: leaked {s.Leaked}, expected {expectedLeaked}");
    }

    public virtual void Dispose()
    {
        Settle();
        AssertBalanced(PixelLedger.Snapshot(), _before.Leaked + ExpectedLeaks, $"after {GetType().Name}");
        GC.SuppressFinalize(this);
    }
}
