using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Ephemera.Core;
using Ephemera.Tracking;

namespace Ephemera.Bench;

/// <summary>
/// Association throughput of the tracker over all eleven MOT15 detection files (the ten
/// <c>det/det.txt</c> plus ADL-Rundle-6's <c>det_frcnn.txt</c>), on one core (affinity = CPU 0).
/// Detections are parsed and laid out per frame before timing; one operation tracks every frame
/// of every file. The <c>FramesPerSecond</c> column divides the total frames by the mean time.
/// Run: <c>dotnet run -c Release --project bench/Ephemera.Bench -- --filter '*TrackerBenchmarks*'</c>
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Config))]
public class TrackerBenchmarks
{
    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithAffinity(1).WithWarmupCount(3).WithIterationCount(10));
            AddColumn(new FramesPerSecondColumn());
        }
    }

    /// <summary>Every detection file, one <see cref="Detections"/> per frame (index = frame, from 1).</summary>
    private static readonly Lazy<Detections[][]> s_sequences = new(Load);
    public static int TotalFrames => s_sequences.Value.Sum(s => s.Length - 1);

    [Params(TrackerMode.ByteOcSort, TrackerMode.Sort)]
    public TrackerMode Mode { get; set; }

    private MultiObjectTracker _tracker = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tracker = new MultiObjectTracker(Mode == TrackerMode.Sort ? TrackerOptions.SortDefault : TrackerOptions.Default);
        TrackAll(); // grow every buffer once
    }

    [Benchmark(Description = "track all MOT15 det files")]
    public int TrackAll()
    {
        int reported = 0;
        foreach (var frames in s_sequences.Value)
        {
            _tracker.Reset();
            for (int f = 1; f < frames.Length; f++) reported += _tracker.Update(frames[f], f).Length;
        }
        return reported;
    }

    private static Detections[][] Load()
    {
        var mot15 = RepoPaths.Data("mot15");
        var files = Directory.GetDirectories(mot15).OrderBy(d => d, StringComparer.Ordinal)
            .Select(d => Path.Combine(d, "det", "det.txt")).Where(File.Exists)
            .Append(Path.Combine(mot15, "ADL-Rundle-6", "det", "det_frcnn.txt")).ToList();
        if (files.Count != 11) throw new InvalidOperationException($"expected 11 detection files under {mot15}, found {files.Count}");
        return files.Select(file =>
        {
            var rows = MotChallenge.Read(file);
            var normalizer = ScoreNormalizer.Fit(rows.Select(r => r.Confidence).ToArray());
            var frames = new Detections[rows.Max(r => r.Frame) + 1];
            for (int i = 0; i < frames.Length; i++) frames[i] = new Detections(64);
            foreach (var r in rows) frames[r.Frame].Add(r.Box, normalizer.Normalize(r.Confidence), 0);
            return frames;
        }).ToArray();
    }

    private sealed class FramesPerSecondColumn : IColumn
    {
        public string Id => nameof(FramesPerSecondColumn);
        public string ColumnName => "FramesPerSecond";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "frames tracked per second (all eleven files) = total frames / mean time";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            return stats == null ? "n/a" : $"{TotalFrames / (stats.Mean / 1e9):N0}";
        }
    }
}
