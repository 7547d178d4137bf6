using Ephemera.Core;
using Ephemera.Decode;
using Xunit.Abstractions;

namespace Ephemera.Inference.Tests;

/// <summary>
/// The cheaper decode options change pixels, not what the detector finds: person recall and
/// precision on ADL-Rundle-6 (1080p H.264, every 5th frame, the engine's 416×256 input, IoU 0.5
/// against MOT15 ground truth) with the engine's default decode stay within 0.005 of a bit-exact decode.
/// </summary>
public class DecodeOptionParityTests(ITestOutputHelper log)
{
    /// <summary>Frames through the engine's own decoder (native core), decoded the way a camera decodes them.</summary>
    private static GroundTruthTests.FrameSource Native(SourceOptions options) => (video, every, onFrame) =>
    {
        using var source = VideoSource.Open(video, options);
        var wanted = WantedFrames.EveryNth(every);
        while (true)
        {
            var status = source.Read(out var lease, wanted);
            if (status == ReadStatus.EndOfStream) break;
            if (lease == null) continue;
            using (lease) if (wanted.Contains(lease.Index)) onFrame((int)lease.Index, lease.View);
        }
    };

    [Fact]
    public void TheDefaultDecodeFindsThePeopleABitExactDecodeFinds()
    {
        var full = SourceOptions.Default with { LoopFilter = LoopFilter.Full, FastDecode = false, DecoderThreads = 1 };
        var engine = full.Cheaper();
        Assert.NotEqual(full, engine); // the engine's default is the cheaper decode, else this test proves nothing
        var exact = GroundTruthTests.Evaluate(416, 0.3f, every: 5, inputHeight: 256, frames: Native(full));
        var cheap = GroundTruthTests.Evaluate(416, 0.3f, every: 5, inputHeight: 256, frames: Native(engine));
        log.WriteLine($"bit-exact: recall {exact.Recall:F4} precision {exact.Precision:F4}; {engine.LoopFilter}, fast={engine.FastDecode}: recall {cheap.Recall:F4} precision {cheap.Precision:F4}");
        Assert.InRange(cheap.Recall, exact.Recall - 0.005, exact.Recall + 0.005);
        Assert.InRange(cheap.Precision, exact.Precision - 0.005, exact.Precision + 0.005);
    }
}
