using System.Runtime.InteropServices;

namespace Ephemera.Cli;

/// <summary>
/// SIGTERM, SIGINT and SIGQUIT turn into one cancellation, so a verb drains (closes its bins, writes
/// its last audit and summary) instead of the runtime ending the process mid-bin. A second signal
/// while draining is left to the default handler, so a stuck drain can still be killed.
/// </summary>
public static class StopSignals
{
    public static IDisposable Register(CancellationTokenSource cts)
    {
        var regs = new List<PosixSignalRegistration>();
        foreach (var sig in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
            regs.Add(PosixSignalRegistration.Create(sig, ctx =>
            {
                if (cts.IsCancellationRequested) return; // second signal: default action (terminate)
                ctx.Cancel = true;
                Console.Error.WriteLine($"ephemera: {ctx.Signal}: stopping (closing bins, final audit); send it again to end at once");
                cts.Cancel();
            }));
        return new Registrations(regs);
    }

    private sealed class Registrations(List<PosixSignalRegistration> regs) : IDisposable
    {
        public void Dispose() { foreach (var r in regs) r.Dispose(); }
    }
}
