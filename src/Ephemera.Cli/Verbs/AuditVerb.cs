using System.Text.Json;
using Ephemera.Governance;

namespace Ephemera.Cli;

/// <summary><c>./ephemera audit verify</c>: checks the audit chain against a key and witnesses pinned outside the store.</summary>
public sealed class AuditVerb : IVerb
{
    /// <inheritdoc/>
    public string Name => "audit";
    /// <inheritdoc/>
    public string Summary => "verify the audit chain of the store against a pinned public key and witnessed heads";
    /// <inheritdoc/>
    public string Usage => """
        usage: ephemera audit verify [--db FILE] [--pubkey FILE | --fingerprint HEX] [--witness FILE[,FILE…]]
          --db           the store (default var/ephemera.db)
          --pubkey       the signing public key (PEM, e.g. <db>.key.pub copied off the host), pinned outside the store
          --fingerprint  sha256 hex of the public key, as printed on stderr when the key was created
          --witness      append-only JSON-lines file(s) of signed heads kept outside the store
        A key is never taken from the store being checked. Without --pubkey/--fingerprint only the hash chain
        is checked, and the result says signatures were not checked.
        Exit 0 intact with signatures checked against the pinned key; 3 chain intact but signatures not
        checked (no pinned key); 1 broken, naming the first bad record (altered, deleted, renumbered,
        rewritten, truncated, or a replaced key); 2 bad input (missing store, not a database, malformed key or witness).
        stdout: {"intact":…,"signatures_checked":…,"records":…,"first_bad_seq":…,"message":…}
        """;

    /// <inheritdoc/>
    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["db", "pubkey", "fingerprint", "witness"], []);
        if (a.Positional is not ["verify"]) throw new UsageException("expected the sub-command 'verify'");
        if (a.Get("pubkey") is not null && a.Get("fingerprint") is not null) throw new UsageException("give --pubkey or --fingerprint, not both");
        string db = a.Get("db") ?? EphemeraStore.DefaultPath;
        var witnesses = a.Get("witness")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var r = AuditChain.VerifyFile(db, a.Get("pubkey"), a.Get("fingerprint"), witnesses);
        Console.WriteLine(JsonSerializer.Serialize(new { intact = r.Intact, signatures_checked = r.SignaturesChecked, witnessed_heads = r.WitnessedHeads, records = r.Records, first_bad_seq = r.FirstBadSeq, checkpoints = r.CheckpointsChecked, message = r.Message, db }));
        Console.Error.WriteLine(r.Intact ? $"audit verify: {r.Message} ({db})" : $"audit verify: BROKEN at record {r.FirstBadSeq?.ToString() ?? "?"}: {r.Message} ({db})");
        return !r.Intact ? 1 : r.SignaturesChecked ? 0 : 3;
    }
}
