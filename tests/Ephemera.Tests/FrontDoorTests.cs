using System.Reflection;
using Ephemera.Core;
using Ephemera.Governance.Records;
using Ephemera.Hosting;
using Ephemera.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Ephemera.Tests;

/// <summary>The front door's contract: validated options, typed refusals, readers and sinks that get records only.</summary>
[Collection("engine")]
public sealed class FrontDoorTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Theory]
    [InlineData("detect_fps")]
    [InlineData("provider")]
    [InlineData("store")]
    [InlineData("max_cameras")]
    [InlineData("reader_capacity")]
    public void InvalidOptionsThrowNamingTheKey(string key)
    {
        var e = Assert.Throws<EphemeraException>(() => key switch
        {
            "detect_fps" => new EphemeraOptions { DetectFps = 0 },
            "provider" => new EphemeraOptions { Provider = "gpu-please" },
            "store" => new EphemeraOptions { StorePath = " " },
            "max_cameras" => new EphemeraOptions { MaxCameras = 0 },
            _ => new EphemeraOptions { ReaderCapacity = -1 },
        });
        Assert.StartsWith(key + ":", e.Message);
    }

    [Fact]
    public void InvalidCameraSpecThrowsNamingTheKey()
    {
        Assert.StartsWith("id:", Assert.Throws<EphemeraException>(() => new CameraSpec("a camera", "x.mp4")).Message);
        Assert.StartsWith("source:", Assert.Throws<EphemeraException>(() => new CameraSpec("cam", "")).Message);
        Assert.StartsWith("detect_fps:", Assert.Throws<EphemeraException>(() => Samples.Counting("cam") with { DetectFps = double.NaN }).Message);
    }

    [Fact]
    public async Task RefusalsAreTypedAndNameTheRequirement()
    {
        await using var engine = new EphemeraEngine(Samples.Options(_dir));
        var missing = await engine.AddCameraAsync(Samples.Counting("plaza-count-1"), ManifestSource.File(_dir.File("nope.yaml")));
        Assert.False(missing.Added);
        Assert.Null(missing.Camera);
        Assert.Contains("nope.yaml", missing.Refusal!.Reason);
        Assert.Equal("BP-a", missing.Refusal.RequirementId);

        var malformed = await engine.AddCameraAsync(Samples.Counting("plaza-count-1"), ManifestSource.Yaml("camera_id: [unclosed", "inline.yaml"));
        Assert.False(malformed.Added);
        Assert.Contains("inline.yaml", malformed.Refusal!.Reason);

        // The manifest covers plaza-count-*; another id is refused with the manifest's reason.
        var uncovered = await engine.AddCameraAsync(Samples.Counting("someone-else"), Samples.Counts);
        Assert.False(uncovered.Added);
        Assert.Contains("someone-else", uncovered.Refusal!.Reason);

        var yaml = File.ReadAllText(Samples.Manifest("case3-outdoor-counts.yaml"));
        var fromText = await engine.AddCameraAsync(Samples.Counting("plaza-count-1"), ManifestSource.Yaml(yaml));
        Assert.True(fromText.Added, fromText.Refusal?.Reason);
        var duplicate = await engine.AddCameraAsync(Samples.Counting("plaza-count-1"), Samples.Counts);
        Assert.False(duplicate.Added);
        Assert.Contains("already running", duplicate.Refusal!.Reason);

        var stats = engine.GetStatistics();
        Assert.Equal("starting", stats.Cameras.Single(c => c.Id == "plaza-count-1").State);
        Assert.Equal(0, stats.Cameras.Where(c => c.State == "refused").Sum(c => c.FramesDecoded)); // a refused camera never decodes
    }

    [Fact]
    public async Task ReadersAndSinksGetReleasedRecords_ASlowReaderDropsByPolicy_AFailingSinkDoesNotStopTheOthers()
    {
        var options = Samples.Options(_dir) with { ReaderCapacity = 1, ReaderDropPolicy = Runtime.RecordDropPolicy.DropNewest };
        var engine = new EphemeraEngine(options);
        var sink = new ListSink();
        engine.AddSink(new ThrowingSink());
        engine.AddSink(sink);
        var never = engine.ReadAsync(); // subscribed, never read: holds one record, drops the rest
        var second = engine.ReadAsync(new RecordFilter { Cameras = new HashSet<string> { "plaza-count-2" } });
        Assert.True((await engine.AddCameraAsync(Samples.Counting("plaza-count-1"), Samples.Counts)).Added);
        Assert.True((await engine.AddCameraAsync(Samples.Counting("plaza-count-2"), Samples.Counts)).Added);
        await engine.StartAsync();
        await Task.Delay(TimeSpan.FromSeconds(4));
        await engine.StopAsync();

        Assert.Contains(sink.Records, r => r is CountTableRecord { Class: DataClass.Count, CameraId: "plaza-count-1" });
        Assert.Contains(sink.Records, r => r is CountTableRecord { Class: DataClass.Count, CameraId: "plaza-count-2" });
        var stats = engine.GetStatistics();
        Assert.Equal(sink.Records.Count, stats.SinkFailures); // the throwing sink failed once per record, and the list sink still got each
        Assert.Equal(sink.Records.Count, stats.RecordsPublished);
        int ofSecond = sink.Records.Count(r => r.CameraId == "plaza-count-2");
        Assert.Equal(sink.Records.Count - 1 + ofSecond - 1, stats.ReaderDrops); // capacity 1, drop newest: each reader keeps its first

        var got = new List<DerivedRecord>();
        await foreach (var r in second) got.Add(r);
        Assert.Single(got);
        Assert.Equal("plaza-count-2", got[0].CameraId);
        // Every record a reader gets is a released one: suppressed cells are null, never a count below k.
        var table = (CountTableRecord)got[0];
        Assert.True(table.K >= 2);
        for (int r = 0; r < table.RowLabels.Count; r++)
            for (int c = 0; c < table.ColumnLabels.Count; c++)
                Assert.True(table.Cell(r, c) is null or 0 || table.Cell(r, c) >= table.K);
        Assert.Contains("\"payload\"", got[0].ToJson());
        await using (var e = never.GetAsyncEnumerator()) { Assert.True(await e.MoveNextAsync()); Assert.False(await e.MoveNextAsync()); }
        engine.Dispose();
    }

    [Fact]
    public async Task AddEphemeraStartsTheEngineWithTheHostAndDrainsItOnStop()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddEphemera(Samples.Options(_dir));
        using var host = builder.Build();
        var engine = host.Services.GetRequiredService<EphemeraEngine>();
        Assert.True((await engine.AddCameraAsync(Samples.Counting("plaza-count-1"), Samples.Counts)).Added);
        await host.StartAsync();
        Assert.True(engine.GetStatistics().Running);
        await Task.Delay(TimeSpan.FromSeconds(2));
        await host.StopAsync();
        var stats = engine.GetStatistics();
        Assert.False(stats.Running);
        var cam = stats.Cameras.Single();
        Assert.Equal("stopped", cam.State);
        Assert.True(cam.FramesDecoded > 0);
        Assert.Equal(cam.FramesDecoded, cam.FramesDestroyed);
        await Assert.ThrowsAsync<EphemeraException>(async () => await engine.AddCameraAsync(Samples.Counting("plaza-count-2"), Samples.Counts));
    }

    /// <summary>
    /// No type that can carry pixels is reachable from the front door: walks every public member of
    /// the Ephemera assembly's types, and of the engine types they expose, recursively.
    /// </summary>
    [Fact]
    public void NoPixelCarryingTypeIsReachableFromThePublicApi()
    {
        string[] banned = ["FrameLease", "FrameView", "PixelBuffer", "VideoSource", "IPixelStage", "TensorBank", "DetectionRequest", "CrossStreamBatcher", "EngineHost", "CameraWorker"];
        var seen = new HashSet<Type>();
        var paths = new Dictionary<Type, string>();
        var queue = new Queue<Type>();
        foreach (var t in typeof(EphemeraEngine).Assembly.GetExportedTypes()) { queue.Enqueue(t); paths[t] = t.Name; }
        // A host can cast a record to any of its public subclasses: those are reachable too.
        foreach (var t in typeof(DerivedRecord).Assembly.GetExportedTypes().Where(t => t.IsSubclassOf(typeof(DerivedRecord)))) { queue.Enqueue(t); paths[t] = "DerivedRecord→" + t.Name; }
        var bytesCarriers = new List<string>();
        while (queue.Count > 0)
        {
            var t = queue.Dequeue();
            if (!seen.Add(t)) continue;
            Assert.False(banned.Contains(t.Name), $"{t.Name} is reachable from the public API via {paths[t]}");
            foreach (var (member, type) in Members(t))
            {
                foreach (var u in Flatten(type))
                {
                    if (IsBytes(u) && t != typeof(IconImageRecord) && t != typeof(HeatMapRecord) && t != typeof(AnonymisedImageRecord)) bytesCarriers.Add($"{t.Name}.{member}");
                    if (u.Assembly.GetName().Name!.StartsWith("Ephemera", StringComparison.Ordinal) && !paths.ContainsKey(u))
                    {
                        paths[u] = $"{paths[t]}.{member}";
                        queue.Enqueue(u);
                    }
                }
            }
        }
        Assert.Empty(bytesCarriers); // raw bytes only where the gate built them (the icon image, drawn from positions; the heat map, drawn from the k-gated grid; the anonymised image, masked and output-checked, built only by the anonymiser)
        Assert.Contains(typeof(IconImageRecord), seen);
        Assert.Contains(typeof(HeatMapRecord), seen);
    }

    private static IEnumerable<(string, Type)> Members(Type t)
    {
        const BindingFlags flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        if (t.BaseType is { } b) yield return ("(base)", b);
        foreach (var i in t.GetInterfaces()) yield return ("(interface)", i);
        foreach (var p in t.GetProperties(flags)) yield return (p.Name, p.PropertyType);
        foreach (var f in t.GetFields(flags)) yield return (f.Name, f.FieldType);
        foreach (var e in t.GetEvents(flags)) yield return (e.Name, e.EventHandlerType!);
        foreach (var m in t.GetMethods(flags).Where(m => !m.IsSpecialName))
        {
            yield return (m.Name, m.ReturnType);
            foreach (var p in m.GetParameters()) yield return ($"{m.Name}({p.Name})", p.ParameterType);
        }
        foreach (var c in t.GetConstructors(flags))
            foreach (var p in c.GetParameters()) yield return ($"ctor({p.Name})", p.ParameterType);
    }

    private static IEnumerable<Type> Flatten(Type t)
    {
        if (t.IsByRef || t.IsArray || t.IsPointer) { foreach (var u in Flatten(t.GetElementType()!)) yield return u; if (t.IsArray) yield return t; yield break; }
        yield return t;
        if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) foreach (var u in Flatten(a)) yield return u;
    }

    private static bool IsBytes(Type t) =>
        t == typeof(byte[]) || t == typeof(Span<byte>) || t == typeof(ReadOnlySpan<byte>) || t == typeof(Memory<byte>) || t == typeof(ReadOnlyMemory<byte>);

    private sealed class ListSink : IOutputSink
    {
        public readonly List<DerivedRecord> Records = new();
        public void Write(DerivedRecord record) { lock (Records) Records.Add(record); }
    }

    private sealed class ThrowingSink : IOutputSink
    {
        public void Write(DerivedRecord record) => throw new IOException("the host's bus is down");
    }

    public void Dispose() => _dir.Dispose();
}
