using Ephemera.Core;
using Ephemera.TestSupport;

namespace Ephemera.Decode.Tests;

public sealed class ErrorTests : LedgerGuard
{
    [Fact]
    public void Truncated_file_and_random_bytes_fail_with_the_file_and_cause_while_another_source_decodes()
    {
        using var dir = new TempDir();
        string truncated = dir.File("vtest_trunc.avi");
        using (var src = File.OpenRead(TestPaths.Video("vtest.avi")))
        {
            var head = new byte[2000];
            src.ReadExactly(head);
            File.WriteAllBytes(truncated, head);
        }
        string random = dir.File("random.mp4");
        var noise = new byte[256 * 1024];
        new Random(12345).NextBytes(noise);
        File.WriteAllBytes(random, noise);

        // A healthy camera decoding at the same time must not notice.
        int healthyFrames = -1;
        Exception? healthyError = null;
        var healthy = new Thread(() =>
        {
            try
            {
                using var ok = VideoSource.Open(TestPaths.Video("vtest.avi"));
                healthyFrames = Clips.DecodeAll(ok);
            }
            catch (Exception e) { healthyError = e; }
        });
        healthy.Start();

        var e1 = Assert.ThrowsAny<EphemeraException>(() => VideoSource.Open(truncated));
        Assert.Contains("vtest_trunc.avi", e1.Message);
        Assert.Contains("Invalid data found when processing input", e1.Message);

        var e2 = Assert.ThrowsAny<EphemeraException>(() =>
        {
            using var s = VideoSource.Open(random);
            Clips.DecodeAll(s);
        });
        Assert.Contains("random.mp4", e2.Message);
        Assert.Matches("Invalid data|no video stream|cannot read stream info", e2.Message);

        var e3 = Assert.ThrowsAny<EphemeraException>(() => VideoSource.Open(dir.File("missing.mp4")));
        Assert.Contains("missing.mp4", e3.Message);
        Assert.Contains("No such file or directory", e3.Message);

        Assert.True(healthy.Join(TimeSpan.FromMinutes(1)), "healthy source did not finish");
        Assert.Null(healthyError);
        Assert.Equal(795, healthyFrames);
    }

    [Fact]
    public void Bad_options_are_rejected_by_name()
    {
        var e = Assert.Throws<EphemeraException>(() => VideoSource.Open(TestPaths.Video("vtest.avi"), new SourceOptions { PoolBuffers = 2 }));
        Assert.Contains("PoolBuffers", e.Message);
        e = Assert.Throws<EphemeraException>(() => VideoSource.Open(TestPaths.Video("vtest.avi"), new SourceOptions { ReconnectInitialMs = 900, ReconnectMaxMs = 100 }));
        Assert.Contains("ReconnectMaxMs", e.Message);
    }
}
