using Ephemera.Analytics;
using Ephemera.Core;

namespace Ephemera.Cli.Verbs;

/// <summary><c>./ephemera analyze</c>: the purpose analytics applied to a MOTChallenge track file.</summary>
public sealed class AnalyzeVerb : IVerb
{
    public string Name => "analyze";
    public string Summary => "count line crossings and zone occupancy/dwell from a MOTChallenge track file";
    public string Usage => """
        usage: ephemera analyze --tracks FILE --line x1,y1,x2,y2 [--line …] [--zone name:x1,y1,x2,y2,x3,y3,…]
                                [--anchor bottom-center|center|top-center] [--fps F] [--class-default person]
                                [--class-column mot16|coco] [--min-frames N] [--min-distance PX] [--bin-seconds S] [--full]
                                [--floor-calibration "ix,iy,fx,fy;…" --floor-size WxH [--floor-zone name:x1,y1,…] [--grid-cell M]
                                 [--trajectories] [--heatmap FILE.png] [--icons FILE.png]] --json

          --tracks FILE     MOTChallenge rows frame,id,x,y,w,h,conf,class,…  (frames from 1). Every row is a
                            confirmed, observed track; rows with conf 0 (gt ignore rows) are skipped; a track
                            is removed after the frame where it is last seen.
          --line            a directed counting segment in image pixels (repeatable). "in" counts crossings from
                            the LEFT of the segment to its RIGHT, looking from (x1,y1) towards (x2,y2) on screen
                            (y down): for 960,0,960,1080 "in" is right-to-left movement.
          --zone            a polygon zone in image pixels (repeatable): occupancy and dwell histogram
          --anchor          box point that must cross / be inside (default bottom-center)
          --fps             frame rate (default: seqinfo.ini beside the file, else 30)
          --class-default   class of rows whose class column is negative (default person)
          --class-column    how a class column ≥ 0 is read: MOT16 gt classes (default) or COCO ids
          --min-frames      hysteresis: frames on the new side before a crossing counts (default 3)
          --min-distance    hysteresis: pixels from the line the anchor must reach (default 4)
          --bin-seconds     time bin width (default 60)
          --full            also print time bins and data classes
          --floor-calibration  ≥ 4 image→floor point pairs (pixels → metres) for flow lines (case 2) and
                            crowd icons (case 5); needs --floor-size (metres, e.g. 20x10)
          --floor-zone      a named floor zone in metres (repeatable): transitions and crowd levels per zone
          --grid-cell       floor grid cell in metres when there are no floor zones (default 1)
          --trajectories    also output the trimmed, snapped per-visit trajectories (random visit ids)
          --heatmap FILE    write the floor-occupancy heat map PNG
          --icons FILE      write the latest crowd-icon PNG (regenerated every 5 s of video)
          --json            print the result as one JSON object on stdout (the only output format)

        stdout: {"lines":[{"line":[x1,y1,x2,y2],"in":N,"out":M,"by_class":{"person":{"in":N,"out":M},…}},…],"zones":[…]}
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args,
            ["tracks", "line", "zone", "anchor", "fps", "class-default", "class-column", "min-frames", "min-distance", "bin-seconds",
             "floor-calibration", "floor-size", "floor-zone", "grid-cell", "heatmap", "icons"],
            ["json", "full", "trajectories"]);
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'");
        string tracksPath = a.Require("tracks");
        if (a.All("line").Count == 0 && a.All("zone").Count == 0 && a.Get("floor-calibration") == null)
            throw new UsageException("give at least one --line, --zone or --floor-calibration");
        var anchor = a.Get("anchor") is { } an ? Anchors.Parse(an) : AnchorPoint.BottomCenter;
        double fps = a.Get("fps") != null ? a.GetDouble("fps", 30) : MotReplay.FrameRateBeside(tracksPath) ?? 30;
        string clsName = a.Get("class-default") ?? "person";
        int defaultClass = Array.IndexOf(CocoClasses.Names, clsName);
        if (defaultClass < 0) throw new UsageException($"--class-default: '{clsName}' is not a COCO class name (e.g. person, car, bicycle)");
        var classColumn = (a.Get("class-column") ?? "mot16") switch
        {
            "mot16" => MotClassColumn.Mot16,
            "coco" => MotClassColumn.Coco,
            var s => throw new UsageException($"--class-column: expected mot16 or coco, got '{s}'"),
        };
        int minFrames = a.GetInt("min-frames", 3);
        double minDistance = a.GetDouble("min-distance", 4), bin = a.GetDouble("bin-seconds", 60);

        var lines = a.All("line").Select(l =>
        {
            var (s, e) = CountingLineOptions.ParseSegment(l);
            return new CountingLineOptions(s, e, anchor, minFrames, minDistance, bin);
        }).ToArray();
        var zones = a.All("zone").Count > 0
            ? new ZoneAnalyserOptions(a.All("zone").Select(ZoneOptions.Parse), anchor, bin)
            : null;
        FloorFlowOptions? flow = null;
        CrowdIconOptions? crowd = null;
        if (a.Get("floor-calibration") is { } cal)
        {
            var size = (a.Get("floor-size") ?? throw new UsageException("--floor-calibration needs --floor-size WxH (metres)")).Split('x', 'X');
            if (size.Length != 2 || !double.TryParse(size[0], System.Globalization.CultureInfo.InvariantCulture, out double fw)
                || !double.TryParse(size[1], System.Globalization.CultureInfo.InvariantCulture, out double fh))
                throw new UsageException($"--floor-size: expected WxH in metres, got '{a.Get("floor-size")}'");
            var plan = new FloorPlan(fw, fh, a.All("floor-zone").Select(FloorZone.Parse));
            var h = Homography.Parse(cal);
            flow = new FloorFlowOptions(h, plan, anchor, a.GetDouble("grid-cell", 1), timeBinSeconds: bin, emitTrajectories: a.Flag("trajectories"));
            if (a.Get("icons") != null) crowd = new CrowdIconOptions(h, plan, anchor);
        }
        else if (a.Get("heatmap") != null || a.Get("icons") != null) throw new UsageException("--heatmap and --icons need --floor-calibration");
        var analytics = new PurposeAnalytics(new PurposeAnalyticsOptions(lines, zones, flow, crowd));
        var rows = MotChallenge.Read(tracksPath);
        int frames = MotReplay.Run(rows, analytics, fps, defaultClass, classColumn);
        var result = analytics.Snapshot();
        if (a.Get("heatmap") is { } heatPath && result.HeatMap != null)
        {
            File.WriteAllBytes(heatPath, result.HeatMap.RenderPng());
            Console.Error.WriteLine($"  heat map → {heatPath}");
        }
        if (a.Get("icons") is { } iconPath && result.Crowd != null)
        {
            File.WriteAllBytes(iconPath, result.Crowd.Png);
            Console.Error.WriteLine($"  crowd icons at {result.Crowd.TimeSeconds:0.##} s → {iconPath}");
        }
        Console.Error.WriteLine($"analyze: {rows.Count} rows, {frames} frames at {fps} fps from {tracksPath}");
        foreach (var l in result.Lines) Console.Error.WriteLine($"  line {l.Name}: in {l.In}, out {l.Out}");
        Console.WriteLine(result.ToJson(a.Flag("full")));
        return 0;
    }
}
