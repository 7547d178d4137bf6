using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Inference;
using Ephemera.Runtime;
using Ephemera.TestSupport;
using Ephemera.Tracking;

namespace Ephemera.Runtime.Tests;

/// <summary>The engine's tracker options on its own detector output (YOLOX-Nano on vtest.avi).</summary>
[Collection("engine")]
public class LiveTrackingTests
{
    [Fact]
    public void LiveOptionsTrackPeopleFromYoloxScores()
    {
        using var detector = ObjectDetector.Open(new DetectorOptions { Decode = new Inference.Postprocess.DecodeOptions(0.1f) });
        using var source = VideoSource.Open(TestPaths.Video("vtest.avi"));
        var live = new MultiObjectTracker(TrackerOptions.Live);
        var mot15 = new MultiObjectTracker(TrackerOptions.ByteOcSort);
        var adaptive = new MultiObjectTracker(TrackerOptions.Default);
        var liveIds = new HashSet<int>();
        var adaptiveIds = new HashSet<int>();
        var mot15Ids = new HashSet<int>();
        var dets = new Detections();
        // 300 frames (30 s of the plaza), detecting every 2nd frame as the demo's 5 fps does.
        while (source.Read(out var frame) == ReadStatus.Frame)
        {
            using (frame)
            {
                if (frame!.Index >= 300) break;
                if (frame.Index % 2 != 0) continue;
                detector.Detect(frame.View, dets);
            }
            var people = new bool[dets.Count];
            for (int i = 0; i < dets.Count; i++) people[i] = dets.ClassIds[i] == CocoClasses.Person;
            dets.Filter(people);
            foreach (var t in live.Update(dets, frame.Index)) if (t.State == TrackState.Confirmed) liveIds.Add(t.TrackId);
            foreach (var t in mot15.Update(dets, frame.Index)) if (t.State == TrackState.Confirmed) mot15Ids.Add(t.TrackId);
            foreach (var t in adaptive.Update(dets, frame.Index)) if (t.State == TrackState.Confirmed) adaptiveIds.Add(t.TrackId);
        }
        // About a dozen people cross the plaza in 30 s; the live options must follow them.
        Assert.InRange(liveIds.Count, 8, 80);
        // The fixed MOT15-tuned thresholds start tracks only from near-certain boxes, which YOLOX
        // rarely gives; the adaptive default (what the engine uses) follows YOLOX's scale instead.
        Assert.True(liveIds.Count > mot15Ids.Count, $"live {liveIds.Count} vs MOT15 thresholds {mot15Ids.Count}");
        Assert.InRange(adaptiveIds.Count, 8, 80);
        Assert.True(adaptiveIds.Count > mot15Ids.Count, $"adaptive {adaptiveIds.Count} vs MOT15 thresholds {mot15Ids.Count}");
        Assert.InRange(adaptive.EffectiveNewTrackScore, 0.3f, 0.85f);
    }
}
