using Ephemera.Core;
using Ephemera.Governance;
using Ephemera.TestSupport;

namespace Ephemera.Governance.Tests;

public class GateTests
{
    [Fact]
    public void Refuses_before_the_start_date_and_before_publication_plus_lead_time()
    {
        var m = Bundled.Load("case3-outdoor-counts.yaml");
        var early = ManifestGate.CanStart(m, new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.False(early.Allowed);
        Assert.Contains(early.Reasons, r => r.StartsWith("PN8:"));
        Assert.Contains(early.Reasons, r => r.StartsWith("PN-T1:"));
        Assert.Contains(early.Reasons, r => r.StartsWith("AC:"));
        Assert.Equal(m.StartDate, early.EarliestStart);
        Assert.True(ManifestGate.CanStart(m, m.StartDate).Allowed);
        Assert.False(ManifestGate.CanStart(m, m.StartDate.AddTicks(-1)).Allowed);
    }

    [Fact]
    public void Undeclared_output_is_refused_naming_class_and_camera()
    {
        var m = Bundled.Load("case3-outdoor-counts.yaml");
        ManifestGate.EnsureDeclared(m, DataClass.Count);
        var e = Assert.Throws<UndeclaredOutputException>(() => ManifestGate.EnsureDeclared(m, DataClass.AttributeAggregate));
        Assert.Contains("M2", e.Message);
        Assert.Contains("AttributeAggregate", e.Message);
        Assert.Contains("case3-street-counts", e.Message);
    }

    [Fact]
    public void Refused_purposes_are_found_in_Japanese_and_English()
    {
        Assert.Contains(PurposeCatalog.FindRefusedWords("防犯カメラとして利用します"), w => w.Requirement == "G3");
        Assert.Contains(PurposeCatalog.FindRefusedWords("顔認証で入店を管理します"), w => w.Requirement == "G3");
        Assert.Contains(PurposeCatalog.FindRefusedWords("リピーターの来店頻度を分析します"), w => w.Requirement == "G2");
        Assert.Contains(PurposeCatalog.FindRefusedWords("to identify individuals at the gate"), w => w.Requirement == "G2");
        Assert.Contains(PurposeCatalog.FindRefusedWords("Repeat Visitor analysis"), w => w.Requirement == "G2");
        Assert.Empty(PurposeCatalog.FindRefusedWords("to count visitors per hour by age band"));
        foreach (var f in Bundled.Files)
        {
            var m = Bundled.Load(f);
            Assert.Empty(PurposeCatalog.FindRefusedWords(m.PurposeText.Ja + m.PurposeText.En + m.Benefit.Ja + m.Benefit.En));
        }
    }
}

public class StoreTests
{
    private static readonly DateTimeOffset Now = Bundled.Today;

    [Fact]
    public void M4_a_changed_notice_needs_a_new_version_and_its_own_lead_time()
    {
        using var dir = new TempDir();
        var clock = new FakeClock(Now);
        using var store = EphemeraStore.Open(dir.File("e.db"), clock);
        string text = Bundled.Text("case3-outdoor-counts.yaml");
        var v1 = ManifestLoader.Parse(text, "v1");
        Assert.True(store.AuthorizeStart(v1).Allowed);

        // Same version number, different retention: refused.
        var sneaky = ManifestLoader.Parse(text.Replace("retention: 1y}", "retention: 2y}"), "v1b");
        var refused = store.AuthorizeStart(sneaky);
        Assert.False(refused.Allowed);
        Assert.StartsWith("M4:", refused.Reasons.Single());

        // New version, but its notice is not newer than v1's: refused.
        var stale = ManifestLoader.Parse(text.Replace("retention: 1y}", "retention: 2y}").Replace("version: 1", "version: 2"), "v2-stale");
        Assert.Throws<EphemeraException>(() => store.RegisterManifest(stale));

        // New version with its own notice published today: waits for the lead time (28 days).
        var v2Text = text.Replace("retention: 1y}", "retention: 2y}").Replace("version: 1", "version: 2")
            .Replace("published: 2026-10-16", "published: 2026-11-26").Replace("start_date: 2026-11-20", "start_date: 2026-12-24")
            .Replace("installed_on: 2026-11-13", "installed_on: 2026-12-20");
        var v2 = ManifestLoader.Parse(v2Text, "v2");
        var waiting = store.AuthorizeStart(v2);
        Assert.False(waiting.Allowed);
        Assert.Contains(waiting.Reasons, r => r.StartsWith("PN-T1:"));
        Assert.True(store.AuthorizeStart(v1).Allowed); // v1's notice still holds until v2 is in force
        clock.Now = new DateTimeOffset(2026, 12, 24, 0, 0, 0, TimeSpan.FromHours(9));
        Assert.True(store.AuthorizeStart(v2).Allowed);

        // An older version cannot come back.
        Assert.False(store.AuthorizeStart(v1).Allowed);
        Assert.Contains(store.Audit.Read(), e => e.Kind == "start-refused");
        Assert.True(store.Audit.Verify().Intact);
    }

    [Fact]
    public void Store_refuses_pixels_features_undeclared_classes_and_fine_bins()
    {
        using var dir = new TempDir();
        using var store = EphemeraStore.Open(dir.File("e.db"), new FakeClock(Now));
        var m = Bundled.Load("case3-outdoor-counts.yaml");
        Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromMinutes(15), "{}")); // not registered
        store.RegisterManifest(m);
        store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromMinutes(15), """{"k":5,"cells":[[12,null],[null,7]],"total":26}""");
        Assert.Contains("H3", Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromMinutes(15), """{"n":12}""")).Message);
        Assert.Contains("below k", Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromMinutes(15), """{"k":5,"cells":[[12,3]]}""")).Message);
        Assert.Contains("k = 2", Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromMinutes(15), """{"k":2,"cells":[[12]]}""")).Message);
        Assert.Contains("H1", Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.RawFrame, Now, TimeSpan.FromMinutes(15), "{}")).Message);
        Assert.Contains("H1", Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.FeatureVector, Now, TimeSpan.FromMinutes(15), "{}")).Message);
        Assert.Throws<UndeclaredOutputException>(() => store.WriteDerived(m.CameraId, DataClass.AttributeAggregate, Now, TimeSpan.FromHours(1), "{}"));
        Assert.Contains("H3", Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromMinutes(1), "{}")).Message);
        Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromMinutes(15), "not json"));
        Assert.Equal(1, store.CountRows(m.CameraId, DataClass.Count));
    }

    [Fact]
    public void Inquiries_are_counted_per_camera()
    {
        using var dir = new TempDir();
        using var store = EphemeraStore.Open(dir.File("e.db"), new FakeClock(Now));
        store.RecordInquiry("cam-a", "question", "phone");
        store.RecordInquiry("cam-a", "question", "web");
        store.RecordInquiry("cam-b", "objection", "desk");
        var counts = store.InquiryCounts();
        Assert.Equal(2, counts[("cam-a", "question")]);
        Assert.Equal(1, counts[("cam-b", "objection")]);
    }

    [Fact]
    public void Count_tables_are_stored_k_suppressed()
    {
        using var dir = new TempDir();
        using var store = EphemeraStore.Open(dir.File("e.db"), new FakeClock(Now));
        var m = Bundled.Load("case3-outdoor-counts.yaml");
        store.RegisterManifest(m);
        var table = store.WriteCountTable(m.CameraId, DataClass.Count, Now, TimeSpan.FromMinutes(15), ["person", "bicycle", "car"], ["east", "west"],
            new[,] { { 40, 31 }, { 2, 9 }, { 12, 20 } });
        Assert.Null(table.Cell(1, 0)); // 2 < k = 5
        var row = store.Query(Role.Analyst).Read(m.CameraId, DataClass.Count, Now, Now.AddHours(1)).Single();
        Assert.Contains("\"k\":5", row.PayloadJson);
        Assert.DoesNotContain(",2,", row.PayloadJson.Replace(" ", ""));
    }

    [Fact]
    public void Latest_only_icon_image_overwrites_the_last()
    {
        using var dir = new TempDir();
        using var store = EphemeraStore.Open(dir.File("e.db"), new FakeClock(Now));
        var m = Bundled.Load("case5-station-crowd.yaml");
        store.RegisterManifest(m);
        store.ReplaceLatest(m.CameraId, DataClass.IconImage, [1, 2, 3], "image/png");
        store.ReplaceLatest(m.CameraId, DataClass.IconImage, [4, 5], "image/png");
        Assert.Equal([4, 5], store.Query(Role.Public).ReadLatest(m.CameraId, DataClass.IconImage)!.Blob);
        Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.IconImage, Now, TimeSpan.FromMinutes(5), "{}"));
        Assert.Throws<EphemeraException>(() => store.ReplaceLatest(m.CameraId, DataClass.CrowdLevel, [1], "x"));
    }

    [Fact]
    public void Trajectories_are_stored_only_when_declared_and_unicity_is_low()
    {
        using var dir = new TempDir();
        using var store = EphemeraStore.Open(dir.File("e.db"), new FakeClock(Now));
        var flow = Bundled.Load("case2-store-flow.yaml"); // store_trajectories: false, no Trajectory output
        store.RegisterManifest(flow);
        var same = Enumerable.Range(0, 20).Select(_ => new Trajectory([new(0, 0, 1), new(1, 0, 1), new(2, 0, 2)])).ToList();
        Assert.Throws<UndeclaredOutputException>(() => store.WriteTrajectories(flow.CameraId, Now, TimeSpan.FromHours(1), same, new Random(1)));

        string optIn = Bundled.Text("case2-store-flow.yaml")
            .Replace("camera_id: case2-store-floor", "camera_id: case2-opt-in")
            .Replace("  store_trajectories: false\n", "  store_trajectories: true\n  trajectory_grid_m: 2\n  trajectory_time_bin: 5m\n  trajectory_trim: 10s\n")
            .Replace("  - {class: AuditRecord", "  - {class: Trajectory, storage: store, location: server, responsible: ops, retention: 30d}\n  - {class: AuditRecord");
        var m = ManifestLoader.Parse(optIn, "opt-in");
        store.RegisterManifest(m);
        var ok = store.WriteTrajectories(m.CameraId, Now, TimeSpan.FromHours(1), same, new Random(1));
        Assert.True(ok.Allowed, ok.Reason);
        Assert.Equal(20, store.CountRows(m.CameraId, DataClass.Trajectory));

        var distinct = Enumerable.Range(0, 20).Select(i => new Trajectory([new(i, 0, 1), new(i, 1, 2), new(i, 2, 3), new(i, 3, 4)])).ToList();
        var refused = store.WriteTrajectories(m.CameraId, Now, TimeSpan.FromHours(1), distinct, new Random(1));
        Assert.False(refused.Allowed);
        Assert.Equal(1.0, refused.Unicity);
        Assert.Equal(20, store.CountRows(m.CameraId, DataClass.Trajectory));
        Assert.Throws<EphemeraException>(() => store.WriteDerived(m.CameraId, DataClass.Trajectory, Now, TimeSpan.FromHours(1), "{}"));
    }
}

public class RetentionTests
{
    [Fact]
    public void Expired_partitions_are_deleted_at_the_declared_retention_and_audited()
    {
        using var dir = new TempDir();
        var start = new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);
        var clock = new FakeClock(start);
        using var store = EphemeraStore.Open(dir.File("e.db"), clock);
        var m = Bundled.Load("case5-station-crowd.yaml"); // CrowdLevel 1y, IconImage latest 10m
        store.RegisterManifest(m);
        var bin = TimeSpan.FromMinutes(5);
        for (int day = 0; day < 3; day++)
            for (int i = 0; i < 4; i++)
                store.WriteDerived(m.CameraId, DataClass.CrowdLevel, start.AddDays(day) + i * bin, bin, $$"""{"level":{{i}}}""");
        store.ReplaceLatest(m.CameraId, DataClass.IconImage, [9], "image/png");
        var keep = m.DataClasses[DataClass.CrowdLevel].Retention;
        Assert.Equal(TimeSpan.FromDays(365), keep);

        // One millisecond before the first bin expires: nothing of CrowdLevel goes; the 10-minute icon does.
        clock.Now = start + bin + keep - TimeSpan.FromMilliseconds(1);
        var r0 = store.ApplyRetention();
        Assert.Equal(12, store.CountRows(m.CameraId, DataClass.CrowdLevel));
        Assert.Single(r0.Deletions, d => d.Class == DataClass.IconImage);
        Assert.Null(store.Query(Role.Operator).ReadLatest(m.CameraId, DataClass.IconImage));

        // Exactly at expiry of the first bin: that row goes, alone.
        clock.Now = start + bin + keep;
        var r1 = store.ApplyRetention();
        Assert.Equal(1, r1.RowsDeleted);
        Assert.Equal(11, store.CountRows(m.CameraId, DataClass.CrowdLevel));

        // A day later the rest of day 0 and all of day 1 have expired: two partitions, two audit records.
        clock.Now = start.AddDays(2) + keep;
        var r2 = store.ApplyRetention();
        Assert.Equal(7, r2.RowsDeleted);
        Assert.Equal(["CrowdLevel/2026-11-26", "CrowdLevel/2026-11-27"], r2.Deletions.Select(d => d.Partition).ToArray());
        Assert.Equal(4, store.CountRows(m.CameraId, DataClass.CrowdLevel));
        var audit = store.Audit.Read().Where(e => e.Kind == "retention").ToList();
        Assert.Equal(4, audit.Count);
        Assert.Contains("\"RowsDeleted\":3", audit[^2].BodyJson);
        Assert.True(store.Audit.Verify().Intact);

        // The notice shows the retention the job enforced.
        string ac5 = NoticeRenderer.Render(m, NoticeKind.Capture, NoticeLanguage.En)["AC5"];
        Assert.Contains(Durations.Format(keep, NoticeLanguage.En), ac5);
        Assert.Contains("1 year", ac5);
        Assert.Contains("1年間", NoticeRenderer.Render(m, NoticeKind.Capture, NoticeLanguage.Ja)["AC5"]);
    }
}

public class AccessTests
{
    private static readonly DateTimeOffset Now = Bundled.Today;

    [Fact]
    public void Roles_read_only_their_classes_and_no_one_reads_pixels()
    {
        foreach (var role in Enum.GetValues<Role>())
        {
            Assert.False(AccessPolicy.CanRead(role, DataClass.RawFrame));
            Assert.False(AccessPolicy.CanRead(role, DataClass.FeatureVector));
            Assert.False(AccessPolicy.CanRead(role, DataClass.Track));
        }
        using var dir = new TempDir();
        using var store = EphemeraStore.Open(dir.File("e.db"), new FakeClock(Now));
        var m = Bundled.Load("case3-outdoor-counts.yaml");
        store.RegisterManifest(m);
        store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromHours(1), """{"k":5,"cells":[[10]]}""");
        Assert.Single(store.Query(Role.Analyst).Read(m.CameraId, DataClass.Count, Now, Now.AddHours(1)));
        Assert.Single(store.Query(Role.Operator).Read(m.CameraId, DataClass.Count, Now, Now.AddHours(1)));
        Assert.Throws<AccessDeniedException>(() => store.Query(Role.Public).Read(m.CameraId, DataClass.Count, Now, Now.AddHours(1)));
        Assert.Throws<AccessDeniedException>(() => store.Query(Role.Auditor).Read(m.CameraId, DataClass.Count, Now, Now.AddHours(1)));
        Assert.Throws<AccessDeniedException>(() => store.Query(Role.ExportOfficer).Read(m.CameraId, DataClass.Count, Now, Now.AddHours(1)));
        Assert.Throws<AccessDeniedException>(() => store.Query(Role.Analyst).ReadAudit());
        Assert.NotEmpty(store.Query(Role.Auditor).ReadAudit());
        Assert.Throws<AccessDeniedException>(() => store.Query(Role.Operator).Read(m.CameraId, DataClass.RawFrame, Now, Now.AddHours(1)));
    }

    [Fact]
    public void Exports_follow_the_contract_and_are_audited()
    {
        using var dir = new TempDir();
        using var store = EphemeraStore.Open(dir.File("e.db"), new FakeClock(Now));
        var m = Bundled.Load("case3-outdoor-counts.yaml"); // contract MINATO-2026-031: Count, floor 1h
        store.RegisterManifest(m);
        store.WriteDerived(m.CameraId, DataClass.Count, Now, TimeSpan.FromHours(1), """{"k":5,"cells":[[10]],"total":10,"secret":"x"}""");
        var officer = store.Query(Role.ExportOfficer);
        const string purpose = "都市計画・交通計画の検討";
        var export = officer.Export(m.CameraId, "MINATO-2026-031", DataClass.Count, Now, Now.AddHours(1), purpose);
        Assert.Equal("""{"cells":[[10]],"total":10,"k":5}""", export.Rows.Single().PayloadJson);
        Assert.Equal("export", store.Audit.Read(export.AuditSeq, 1).Single().Kind);

        Assert.Throws<AccessDeniedException>(() => store.Query(Role.Operator).Export(m.CameraId, "MINATO-2026-031", DataClass.Count, Now, Now.AddHours(1), purpose));
        Assert.Throws<AccessDeniedException>(() => officer.Export(m.CameraId, "NO-SUCH", DataClass.Count, Now, Now.AddHours(1), purpose));
        Assert.Throws<AccessDeniedException>(() => officer.Export(m.CameraId, "MINATO-2026-031", DataClass.Count, Now, Now.AddHours(1), "marketing"));
        Assert.Single(officer.Export(m.CameraId, "MINATO-2026-031", DataClass.Count, Now, Now.AddHours(1), "urban and transport planning").Rows);
        Assert.Throws<AccessDeniedException>(() => officer.Export(m.CameraId, "MINATO-2026-031", DataClass.AuditRecord, Now, Now.AddHours(1), purpose));
        // 15-minute rows are finer than the contract's 1h floor.
        store.WriteDerived(m.CameraId, DataClass.Count, Now.AddHours(2), TimeSpan.FromMinutes(15), """{"k":5,"cells":[[7]],"total":7}""");
        Assert.Contains("floor", Assert.Throws<AccessDeniedException>(() => officer.Export(m.CameraId, "MINATO-2026-031", DataClass.Count, Now, Now.AddHours(3), purpose)).Message);
    }
}
