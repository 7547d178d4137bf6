using System.Net;
using System.Text.Json;
using Ephemera.Server;

namespace Ephemera.Server.Tests;

/// <summary>M3 through the API: an analyst exports only under a contract of the camera's manifest, and each export is audited.</summary>
[Collection("engine")]
public sealed class ExportTests(ServerFixture f)
{
    private const string Contract = "MINATO-2026-031";          // recipients[0] of the case-3 manifest
    private const string Purpose = "urban and transport planning";
    private static string Url(string contract = Contract, string purpose = Purpose, string cls = "count", string range = "&from=2020-01-01&to=2020-01-02") =>
        $"/api/export?camera={ServerFixture.Camera}&contract={Uri.EscapeDataString(contract)}&class={cls}&purpose={Uri.EscapeDataString(purpose)}{range}";

    [Fact]
    public async Task AnExportUnderTheContractIsAnsweredAndAudited()
    {
        var r = await f.GetJson(Url(), ApiRole.Analyst);
        Assert.Equal(Contract, r.GetProperty("contract").GetString());
        Assert.Equal(0, r.GetProperty("rows").GetArrayLength());      // nothing was counted in 2020
        long seq = r.GetProperty("audit_seq").GetInt64();
        Assert.True(seq > 0);
        var audit = await f.GetJson($"/api/audit/{ServerFixture.Camera}?from_seq={seq}&max=1", ApiRole.Operator);
        var entry = Assert.Single(audit.GetProperty("records").EnumerateArray());
        Assert.Equal(seq, entry.GetProperty("seq").GetInt64());
        Assert.Contains(Contract, entry.GetProperty("body").GetRawText());
    }

    [Theory]
    [InlineData("NO-SUCH-CONTRACT", Purpose, "count", "contract")]
    [InlineData(Contract, "marketing", "count", "purpose")]
    [InlineData(Contract, Purpose, "zone_occupancy", "class")]
    public async Task AnExportOutsideTheContractIsRefusedNamingWhy(string contract, string purpose, string cls, string parameter)
    {
        using var res = await f.Http.SendAsync(f.Request(HttpMethod.Get, Url(contract, purpose, cls), ApiRole.Analyst));
        string text = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == HttpStatusCode.Forbidden, text);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal(parameter, doc.RootElement.GetProperty("parameter").GetString());
        Assert.Equal("M3", doc.RootElement.GetProperty("requirement_id").GetString());
    }

    [Fact]
    public async Task RowsFinerThanTheContractsFloorAreNeverExported()
    {
        // The test manifest bins counts per minute; the contract's floor is 1 h. Once a bin is stored, exporting it is refused.
        var until = DateTime.UtcNow.AddSeconds(90);
        while ((await f.GetJson($"/api/records?class=count&camera={ServerFixture.Camera}", ApiRole.Viewer)).GetProperty("rows").GetArrayLength() == 0)
        {
            Assert.True(DateTime.UtcNow < until, "no count bin was stored in 90 s");
            await Task.Delay(1000);
        }
        using var res = await f.Http.SendAsync(f.Request(HttpMethod.Get, Url(range: ""), ApiRole.Analyst));
        string text = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == HttpStatusCode.Forbidden, text);
        Assert.Contains("finer than", text);
    }
}
