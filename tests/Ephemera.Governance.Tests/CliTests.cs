using System.Text.Json;
using Ephemera.Governance;
using Ephemera.TestSupport;
using Microsoft.Data.Sqlite;

namespace Ephemera.Governance.Tests;

/// <summary>The verbs end to end, through the built CLI (dotnet Ephemera.Cli.dll …).</summary>
public class CliTests
{
    [Fact]
    public void Notice_json_has_every_item_for_every_bundled_manifest_in_both_languages()
    {
        foreach (var file in Bundled.Files)
            foreach (var (kind, ids) in new[] { ("pre", NoticeRenderer.RequiredIds(NoticeKind.Pre)), ("capture", NoticeRenderer.RequiredIds(NoticeKind.Capture)) })
                foreach (var lang in new[] { "ja", "en" })
                {
                    var r = ChildProcess.Cli("notice", "--manifest", Bundled.PathOf(file), "--kind", kind, "--lang", lang, "--format", "json");
                    Assert.True(r.ExitCode == 0, $"{file} {kind} {lang}: exit {r.ExitCode}\n{r.StdErr}");
                    var json = JsonDocument.Parse(r.StdOut).RootElement;
                    foreach (var id in ids)
                        Assert.True(json.TryGetProperty(id, out var v) && v.GetString() is { Length: > 0 }, $"{file} {kind} {lang}: {id} missing");
                }
    }

    [Fact]
    public void Notice_html_and_markdown_and_staff_brief_render()
    {
        var html = ChildProcess.Cli("notice", "--manifest", Bundled.PathOf("case5-station-crowd.yaml"), "--kind", "capture", "--lang", "ja", "--format", "html");
        Assert.Equal(0, html.ExitCode);
        Assert.Contains("カメラ作動中", html.StdOut);
        var staff = ChildProcess.Cli("notice", "--manifest", Bundled.PathOf("case1-store-attributes.yaml"), "--kind", "staff", "--lang", "en");
        Assert.Equal(0, staff.ExitCode);
        Assert.Contains("Staff brief", staff.StdOut);
        var bad = ChildProcess.Cli("notice", "--manifest", Bundled.PathOf("case1-store-attributes.yaml"), "--lang", "fr");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--lang", bad.StdErr);
    }

    [Fact]
    public void Bad_manifest_exits_2_naming_the_field()
    {
        string bad = Path.Combine(AppContext.BaseDirectory, "bad-manifest.yaml");
        var r = ChildProcess.Cli("manifest", "check", Bundled.PathOf("case3-outdoor-counts.yaml"), bad);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("G3: ", r.StdErr);
        Assert.Contains("(purpose.kind)", r.StdErr);
        Assert.Contains("AC5: retention missing for data class Count (outputs[1].retention)", r.StdErr);
        var json = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.False(json.GetProperty("valid").GetBoolean());
        Assert.True(json.GetProperty("manifests")[0].GetProperty("valid").GetBoolean());
        Assert.Contains(json.GetProperty("manifests")[1].GetProperty("problems").EnumerateArray(), p => p.GetProperty("path").GetString() == "purpose.kind");

        var notice = ChildProcess.Cli("notice", "--manifest", bad);
        Assert.Equal(2, notice.ExitCode);
        Assert.Contains("purpose.kind", notice.StdErr);

        var ok = ChildProcess.Cli(["manifest", "check", .. Bundled.Files.Select(Bundled.PathOf)]);
        Assert.True(ok.ExitCode == 0, ok.StdErr);
    }

    [Fact]
    public void Audit_verify_exit_codes()
    {
        using var dir = new TempDir();
        string db = AuditChainTests.MakeStore(dir);
        var chainOnly = ChildProcess.Cli("audit", "verify", "--db", db);
        Assert.True(chainOnly.ExitCode == 3, chainOnly.StdErr); // no pinned key: chain-only, said so
        Assert.Contains("NOT checked", chainOnly.StdErr);
        var good = ChildProcess.Cli("audit", "verify", "--db", db, "--pubkey", AuditChain.KeyPath(db) + ".pub");
        Assert.True(good.ExitCode == 0, good.StdErr);
        Assert.True(JsonDocument.Parse(good.StdOut).RootElement.GetProperty("intact").GetBoolean());

        using (var c = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE audit SET body = replace(body, '125', '126') WHERE seq = 3";
            cmd.ExecuteNonQuery();
        }
        var bad = ChildProcess.Cli("audit", "verify", "--db", db);
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal(3, JsonDocument.Parse(bad.StdOut).RootElement.GetProperty("first_bad_seq").GetInt64());
        Assert.Contains("record 3", bad.StdErr);

        Assert.Equal(2, ChildProcess.Cli("audit", "verify", "--db", dir.File("missing.db")).ExitCode);
        Assert.Equal(2, ChildProcess.Cli("audit", "check").ExitCode);

        // Malformed pinned key and a file that is not a database: exit 2 with a message, no crash.
        File.WriteAllText(dir.File("bad.pub"), "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n");
        var badKey = ChildProcess.Cli("audit", "verify", "--db", db, "--pubkey", dir.File("bad.pub"));
        Assert.Equal(2, badKey.ExitCode);
        Assert.Contains("bad.pub", badKey.StdErr);
        File.WriteAllText(dir.File("not.db"), "this is not a database, just text long enough to fill a header of sqlite....................................");
        var notDb = ChildProcess.Cli("audit", "verify", "--db", dir.File("not.db"));
        Assert.Equal(2, notDb.ExitCode);
        Assert.Contains("not a readable Ephemera store", notDb.StdErr);
    }

    [Theory]
    [InlineData("--max-frames must be >= 1", "detect", "--input", "x.mp4", "--max-frames", "-1", "--json")]
    [InlineData("--streams must be 1", "bench", "--source", "x.mp4", "--streams", "257", "--seconds", "1", "--json", "out.json")]
    [InlineData("unexpected argument '--bogus'", "version", "--bogus")]
    public void Bad_cli_arguments_exit_2_naming_the_cause(string cause, params string[] args)
    {
        var r = ChildProcess.Cli(args);
        Assert.True(r.ExitCode == 2, $"rc {r.ExitCode}: {r.StdErr}");
        Assert.Contains(cause, r.StdErr);
    }

    [Fact]
    public void Risk_report_prints_text_and_json()
    {
        var r = ChildProcess.Cli("risk-report", "--manifest", Bundled.PathOf("case1-store-attributes.yaml"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("Gates applied", r.StdErr);
        var json = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal(10, json.GetProperty("k").GetInt32());
        Assert.Equal(3600, json.GetProperty("time_bin_s").GetInt64());
        Assert.Contains(json.GetProperty("data_classes").EnumerateArray(), c => c.GetProperty("class").GetString() == "AttributeAggregate");
        Assert.Empty(json.GetProperty("data_classes").EnumerateArray().First(c => c.GetProperty("class").GetString() == "RawFrame").GetProperty("readable_by").EnumerateArray());
    }
}
