using System.Text.Json;
using Ephemera.Governance;

namespace Ephemera.Cli;

/// <summary><c>./ephemera audit verify [--db FILE]</c>: checks the audit chain (exit 0 intact, 1 broken, 2 bad input).</summary>
public sealed class AuditVerb : IVerb
{
    public string Name => "audit";
    public string Summary => "verify the audit chain of the store (hash chain, signed head and checkpoints)";
    public string Usage => """
        usage: ephemera audit verify [--db FILE]
          --db   the store (default var/ephemera.db)
        Exit 0 when the chain is intact; 1 naming the first bad record when a record was altered, deleted,
        inserted, reordered or the chain truncated; 2 when the store cannot be read.
        stdout: {"intact":…,"records":…,"first_bad_seq":…,"message":…}
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["db"], []);
        if (a.Positional is not ["verify"]) throw new UsageException("expected the sub-command 'verify'");
        string db = a.Get("db") ?? EphemeraStore.DefaultPath;
        var r = AuditChain.VerifyFile(db);
        Console.WriteLine(JsonSerializer.Serialize(new { intact = r.Intact, records = r.Records, first_bad_seq = r.FirstBadSeq, checkpoints = r.CheckpointsChecked, message = r.Message, db }));
        Console.Error.WriteLine(r.Intact ? $"audit verify: {r.Message} ({db})" : $"audit verify: BROKEN at record {r.FirstBadSeq?.ToString() ?? "?"}: {r.Message} ({db})");
        return r.Intact ? 0 : 1;
    }
}
