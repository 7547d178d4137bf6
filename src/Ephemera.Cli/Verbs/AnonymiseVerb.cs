using System.Globalization;
using System.Text.Json;
using Ephemera.Anonymisation;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Inference;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Runtime;

namespace Ephemera.Cli.Verbs;

/// <summary><c>./ephemera anonymise</c>: case 4 on a file — masked, checked, JPEG street images into a folder.</summary>
public sealed class AnonymiseVerb : IVerb
{
    public string Name => "anonymise";
    public string Summary => "case 4 on a video file: faces, plates and nameplates masked, output checked, JPEGs into a folder";
    public string Usage => """
        usage: ephemera anonymise --input VIDEO --output DIR [--every N] [--manifest FILE] [--max-frames N]

        Runs the street anonymiser on every N-th frame of a video file (default 25): YOLOX for people
        and vehicles as context, YuNet on overlapping tiles and UltraFace for faces, the PP-OCR text
        detector on the frame and on each vehicle, masks by the manifest's anonymise rules (faces and
        plates always), then runs the detectors again on the masked image. A frame where a face or a
        plate survives is withheld: never encoded, never written. Released frames are written as
        DIR/frame-NNNNNN.jpg. One JSON line per anonymised frame on stdout (what was masked, counts
        only), then a summary line with the pixel ledger.

          --manifest FILE   a case-4 manifest (default configs/manifests/case4-vehicle-streetscape.yaml);
                            it must declare AnonymisedImage (M2)
          --every N         anonymise frames 0, N, 2N, … (default 25)
          --max-frames N    stop after N decoded frames
        """;

    public int Run(string[] args)
    {
        var a = new CliArgs(args, ["input", "output", "every", "manifest", "max-frames"], []);
        string input = a.Require("input"), output = a.Require("output");
        int every = a.GetInt("every", 25);
        if (every < 1) throw new UsageException($"--every must be >= 1, got {every}");
        long maxFrames = a.GetInt("max-frames", int.MaxValue);
        if (maxFrames < 1) throw new UsageException($"--max-frames must be >= 1, got {maxFrames}");
        if (input.Contains("://", StringComparison.Ordinal))
            throw new UsageException("anonymise takes a video file; a live camera runs under the engine (./ephemera run) with its manifest");
        if (!File.Exists(input)) throw new EphemeraException($"input video not found: {input}");
        var manifest = ManifestLoader.Load(a.Get("manifest") ?? Path.Combine(RepoPaths.Root, "configs", "manifests", "case4-vehicle-streetscape.yaml"));
        try { Directory.CreateDirectory(output); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new EphemeraException($"{output}: cannot create the output folder: {e.Message}"); }

        var before = PixelLedger.Snapshot();
        long decoded = 0, anonymised = 0, released = 0, withheld = 0;
        using (var anonymiser = new StreetAnonymiser(manifest, null, new InferenceOptions("cpu", 0, parallelRuns: 1)))
        using (var context = ObjectDetector.Open(new DetectorOptions
               {
                   Inference = new InferenceOptions("cpu", 0, parallelRuns: 1), MaxBatch = 1, Decode = new DecodeOptions(0.3f, 0.45f),
               }))
        using (var source = VideoSource.Open(input))
        {
            var objects = new Detections();
            using var cts = new CancellationTokenSource();
            using var signals = StopSignals.Register(cts);
            while (decoded < maxFrames && !cts.IsCancellationRequested)
            {
                var status = source.Read(out var lease);
                if (status == ReadStatus.EndOfStream) break;
                if (status != ReadStatus.Frame) continue;
                long frame = decoded++;
                AnonymiseResult r;
                using (lease!)
                {
                    if (frame % every != 0) continue;
                    context.Detect(lease!.View, objects);
                    r = anonymiser.Anonymise(lease.View, objects, DateTimeOffset.UtcNow, frameIndex: frame);
                }
                anonymised++;
                string? file = null;
                if (r.Record is { } rec)
                {
                    released++;
                    file = Path.Combine(output, string.Create(CultureInfo.InvariantCulture, $"frame-{frame:D6}.jpg"));
                    using (var f = File.Create(file)) f.Write(rec.Jpeg.Span);
                }
                else withheld++;
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    frame, released = r.Record != null, file,
                    faces = r.Masked.Faces, plates = r.Masked.Plates, text = r.Masked.Text, head_bands = r.Masked.HeadBands,
                    kept_text = r.Masked.KeptText, remasked = r.Masked.Remasked, carried = r.Carried, output_check = r.OutputCheck,
                    ms = Math.Round(r.Timings.TotalMs, 1),
                }));
            }
        }
        var after = PixelLedger.Snapshot();
        Console.Error.WriteLine($"ephemera anonymise: {anonymised} of {decoded} frames anonymised, {released} written to {output}, {withheld} withheld by the output check");
        Console.Out.WriteLine(JsonSerializer.Serialize(new
        {
            frames_decoded = decoded, anonymised, released, withheld,
            pixel_buffers_allocated = after.Allocated - before.Allocated, pixel_buffers_wiped = after.Wiped - before.Wiped,
            pixel_buffers_leaked = after.Leaked - before.Leaked,
        }));
        return 0;
    }
}
