using System.Diagnostics;
using Ephemera.Core;
using Ephemera.Decode;
using Ephemera.Governance;
using Ephemera.Governance.Records;
using Ephemera.Inference;
using Ephemera.Inference.Postprocess;
using Ephemera.Inference.Runtime;
using Ephemera.Tracking;

namespace Ephemera.Anonymisation;

/// <summary>Milliseconds spent per stage on one frame.</summary>
public sealed record AnonymiseTimings(double CopyMs, double FacesMs, double TextMs, double MaskMs, double CheckMs, double EncodeMs)
{
    /// <summary>YOLOX on native-resolution tiles (<see cref="AnonymiseOptions.VehicleTiles"/>): vehicles the caller's detections missed.</summary>
    public double VehiclesMs { get; init; }
    /// <summary>All stages together.</summary>
    public double TotalMs => CopyMs + VehiclesMs + FacesMs + TextMs + MaskMs + CheckMs + EncodeMs;
}

/// <summary>
/// The outcome of one frame: a released <see cref="AnonymisedImageRecord"/>, or withheld (the output
/// check still found a face or plate outside the masks after one re-mask; nothing was encoded).
/// </summary>
public sealed class AnonymiseResult
{
    internal AnonymiseResult(AnonymisedImageRecord? record, AnonymisedCounts masked, string outputCheck, int survivors, AnonymiseTimings timings,
        IReadOnlyList<(int X0, int Y0, int X1, int Y1)> maskRects, IReadOnlyList<BoxF> survivorBoxes)
    {
        SurvivorBoxes = survivorBoxes;
        Record = record; Masked = masked; OutputCheck = outputCheck; Survivors = survivors; Timings = timings; MaskRects = maskRects;
    }

    /// <summary>The released image, or null when withheld.</summary>
    public AnonymisedImageRecord? Record { get; }
    /// <summary>True when the frame failed the output check and was never encoded.</summary>
    public bool Withheld => Record == null;
    /// <summary>What was masked (counts only).</summary>
    public AnonymisedCounts Masked { get; }
    /// <summary>"passed", "passed-after-remask", "withheld" or "not-checked" (output check off).</summary>
    public string OutputCheck { get; }
    /// <summary>Faces/plates the last output check still found outside the masks (0 unless withheld).</summary>
    public int Survivors { get; }
    /// <summary>Time per stage.</summary>
    public AnonymiseTimings Timings { get; }
    /// <summary>The masked rectangles (expanded, clipped, even-snapped), in frame pixels. Geometry only, for tests and audits.</summary>
    internal IReadOnlyList<(int X0, int Y0, int X1, int Y1)> MaskRects { get; }
    /// <summary>What the last output check still found outside the masks (empty unless withheld).</summary>
    internal IReadOnlyList<BoxF> SurvivorBoxes { get; }
    /// <summary>Face and plate tracks the detectors missed on this frame, masked at their predicted position (<see cref="AnonymiseOptions.CarryFrames"/>).</summary>
    public int Carried { get; internal init; }
    /// <summary>Vehicles found only by YOLOX on native-resolution tiles (<see cref="AnonymiseOptions.VehicleTiles"/>), searched for plates like the caller's.</summary>
    public int TileVehicles { get; internal init; }
    /// <summary>Plate candidates of the stroke finder (<see cref="AnonymiseOptions.PlateStrokeSearch"/>), masked wherever they are, vehicle box or not.</summary>
    public int StrokePlates { get; internal init; }
    /// <summary>Plate zones masked by the fallback: readable-sized vehicles where no plate candidate was found (<see cref="AnonymiseOptions.PlateZoneFallback"/>).</summary>
    public int PlateZones { get; internal init; }
}

/// <summary>
/// Case 4: makes faces, number plates and nameplates of one street frame irreversibly unreadable and
/// checks its own output before anything leaves. The frame is copied once into a <see cref="PixelBuffer"/>
/// (native, counted, wiped on every path), faces are found with YuNet on overlapping native-resolution
/// tiles (plus a whole-frame pass) unioned with UltraFace, text with the PP-OCR DB detector on the whole
/// frame and on every vehicle crop, and masks are applied by the rules of <see cref="AnonymiseOptions"/>.
/// Then the detectors run again on the masked buffer; any face or plate left outside the masks is masked
/// and checked once more, and a frame that still fails is withheld (counted, never encoded). A frame that
/// passes is encoded as JPEG by the native core straight from the buffer.
/// Thread-safe (calls are serialised); one instance per camera or shared.
/// </summary>
public sealed class StreetAnonymiser : IDisposable
{
    private readonly CameraManifest _manifest;
    private readonly AnonymiseOptions _o;
    private readonly ModelSession _yunetSession, _ultraSession, _textSession;
    private readonly ModelSession? _yoloxSession;
    private readonly ObjectDetector _yunet, _ultra;
    private readonly ObjectDetector? _yolox;
    private readonly Dictionary<int, ObjectDetector> _textCrop = new();
    private readonly Dictionary<(int W, int H), ObjectDetector> _textWhole = new();
    private readonly object _lock = new();
    private readonly Detections _scratch = new(512);
    private readonly string[] _models;
    private byte[] _coverage = [];
    private long _released, _withheld;

    /// <summary>
    /// Opens the three detectors; <paramref name="options"/> null = the manifest's <c>anonymise:</c> rules
    /// (<see cref="AnonymiseOptions.FromManifest"/>). Refuses (M2) a camera whose manifest does not declare AnonymisedImage
    /// with storage store: such a camera may not have images made at all.
    /// </summary>
    public StreetAnonymiser(CameraManifest manifest, AnonymiseOptions? options = null, InferenceOptions? inference = null, string? modelsDirectory = null)
    {
        _manifest = ReleaseGate.EnsureAnonymisedImages(manifest);
        _o = options ?? AnonymiseOptions.FromManifest(_manifest);
        _o.Validate();
        inference ??= new InferenceOptions();
        try
        {
            _yunetSession = ModelSession.Open("face_detection_yunet_2026may", inference, dynamicBatch: _o.FaceTileSize != 640, modelsDirectory);
            _ultraSession = ModelSession.Open("ultraface_version-RFB-320", inference, dynamicBatch: false, modelsDirectory);
            _textSession = ModelSession.Open("ch_PP-OCRv4_det_infer", inference, dynamicBatch: false, modelsDirectory);
            _yunet = new ObjectDetector(_yunetSession, Opts(_o.FaceTileSize, _o.FaceTileSize, _o.YuNetScore, 0.3f, 1000));
            _ultra = new ObjectDetector(_ultraSession, Opts(0, 0, _o.UltraFaceScore, 0.3f, 500));
            if (_o.VehicleTiles)
            {
                _yoloxSession = ModelSession.Open(VehicleModel, inference, dynamicBatch: false, modelsDirectory);
                _yolox = new ObjectDetector(_yoloxSession, Opts(0, 0, MathF.Min(_o.VehicleScore, _o.EdgeVehicleScore), 0.45f, 300));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        _models = _yolox is null ? [_yunet.Model.Name, _ultra.Model.Name, _textSession.Entry.Name]
            : [_yunet.Model.Name, _ultra.Model.Name, _textSession.Entry.Name, _yolox.Model.Name];
    }

    /// <summary>The vehicle detector of <see cref="AnonymiseOptions.VehicleTiles"/>: the engine's default YOLOX, at its own input size (416) per tile.</summary>
    private const string VehicleModel = "yolox_nano_coco_416";

    private static DetectorOptions Opts(int w, int h, float score, float nms, int max) =>
        new() { InputWidth = w, InputHeight = h, MaxBatch = 1, Decode = new DecodeOptions(score, nms, max) };

    /// <summary>Frames released as records so far.</summary>
    public long Released => Interlocked.Read(ref _released);
    /// <summary>Frames withheld by the output check so far (never encoded).</summary>
    public long Withheld => Interlocked.Read(ref _withheld);
    /// <summary>Catalogue names of the detectors in use.</summary>
    public IReadOnlyList<string> DetectorModels => _models;
    /// <summary>The manifest the images are made under.</summary>
    public CameraManifest Manifest => _manifest;
    /// <summary>The options in force.</summary>
    public AnonymiseOptions Options => _o;

    /// <summary>
    /// Anonymises one YUV420P frame. <paramref name="objects"/> are the frame's YOLOX detections (COCO
    /// class ids, frame pixels): persons and vehicles give context. The frame is only read during the call.
    /// An odd width or height loses its last column or row.
    /// </summary>
    /// <param name="frameIndex">The frame's index in its stream, for masks carried across frames (null = a still: nothing carried).</param>
    public AnonymiseResult Anonymise(in FrameView frame, Detections objects, DateTimeOffset at, TimeSpan? binLength = null, long? frameIndex = null)
    {
        if (frame.Format != PixelFormat.Yuv420P) throw new EphemeraException($"the anonymiser takes YUV420P frames, got {frame.Format}");
        ArgumentNullException.ThrowIfNull(objects);
        lock (_lock)
        {
            int w = frame.Width & ~1, h = frame.Height & ~1;
            if (w < 16 || h < 16) throw new EphemeraException($"frame {frame.Width}x{frame.Height} is too small to anonymise");
            int cw = w / 2, ch = h / 2;
            long ySize = (long)w * h, cSize = (long)cw * ch;
            var t = new long[7];
            long t0 = Stopwatch.GetTimestamp();
            using var buffer = PixelBuffer.Rent((nuint)(ySize + 2 * cSize));
            var all = buffer.DangerousGetSpan();
            var bufY = all[..(int)ySize]; var bufU = all.Slice((int)ySize, (int)cSize); var bufV = all.Slice((int)(ySize + cSize), (int)cSize);
            for (int r = 0; r < h; r++) frame.Plane0.Slice(r * frame.Stride0, w).CopyTo(bufY.Slice(r * w, w));
            for (int r = 0; r < ch; r++)
            {
                frame.Plane1.Slice(r * frame.Stride1, cw).CopyTo(bufU.Slice(r * cw, cw));
                frame.Plane2.Slice(r * frame.Stride2, cw).CopyTo(bufV.Slice(r * cw, cw));
            }
            var img = new Image(w, h, frame.FullRange, buffer, ySize, cSize);
            Lap(t, 0, ref t0);

            var persons = new List<BoxF>(); var vehicles = new List<BoxF>();
            for (int i = 0; i < objects.Count; i++)
            {
                int c = objects.ClassIds[i]; float s = objects.Scores[i];
                if (c == CocoClasses.Person && s >= _o.PersonScore) persons.Add(objects.Boxes[i]);
                else if (CarriesPlate(c, s, objects.Boxes[i])) vehicles.Add(objects.Boxes[i]);
            }
            int tileVehicles = 0;
            // Weak vehicles (tile boxes at the frame's edge under VehicleScore) are searched for plates, but get no plate zone.
            var weak = new HashSet<BoxF>();
            if (_yolox != null) tileVehicles = FindTileVehicles(img, vehicles, weak);
            Lap(t, 6, ref t0);

            // ---- detect ----
            var faces = FindFaces(img);
            Lap(t, 1, ref t0);
            var (plates, small, large) = FindText(img, vehicles);
            // The stroke finder's candidates are masked as plates wherever they are, but do not stand in for a
            // vehicle's plate in the zone rule (a grille's strokes must not cancel its plate zone).
            var strokes = _o.PlateStrokeSearch ? FindStrokes(img, vehicles, large, onOutput: false) : [];
            Lap(t, 2, ref t0);

            // ---- mask by the rules ----
            if (_coverage.Length < w * h) _coverage = new byte[w * h];
            Array.Clear(_coverage, 0, w * h);
            var rects = new List<(int, int, int, int)>();
            BoxF? skipped = null;
            int skipIndex = _o.SkipOnlyOnFrame is { } only && frameIndex != only ? -1 : _o.SkipFaceIndex;
            if (skipIndex < 0 && _o.SkipFaceContaining is { } pt && !(_o.SkipOnlyOnFrame is { } on && frameIndex != on))
                skipIndex = faces.FindIndex(f => Inside(f, pt.X, pt.Y));
            for (int i = 0; i < faces.Count; i++)
            {
                if (i == skipIndex) { skipped = faces[i]; continue; }
                MaskBox(img, faces[i], rects);
            }
            // (A test hook leaves the plates to the output check: a first pass that missed them all.)
            if (!_o.SkipPlatesInFirstPass) foreach (var b in plates.Concat(strokes)) MaskBox(img, b, rects);
            int zones = 0;
            if (_o.PlateZoneFallback && !_o.SkipPlatesInFirstPass)
                foreach (var v in vehicles)
                    if (!weak.Contains(v) && PlateSearch.Readable(v, _o) && !HasPlateCandidate(v, plates))
                    {
                        MaskBox(img, PlateSearch.Zone(v, _o), rects);
                        zones++;
                    }
            int carried = Track(img, rects, frameIndex, faces, skipIndex, _o.SkipPlatesInFirstPass ? [] : [.. plates, .. strokes]);
            if (_o.MaskSmallText) foreach (var b in small) MaskBox(img, b, rects);
            if (_o.MaskLargeText) foreach (var b in large) MaskBox(img, b, rects);
            int headBands = 0;
            if (_o.MaskHeadBands)
                foreach (var p in persons)
                {
                    // A face anywhere in the person's top third means the head was found.
                    var head = new BoxF(p.X, p.Y, p.W, p.H * MathF.Max(0.3f, _o.HeadBandFraction));
                    if (faces.Any(f => Inside(head, f.CenterX, f.CenterY))) continue;
                    MaskBox(img, new BoxF(p.X, p.Y, p.W, p.H * _o.HeadBandFraction), rects);
                    headBands++;
                }
            Lap(t, 3, ref t0);

            // ---- output check: detectors again on the masked buffer ----
            string check = "not-checked";
            int survivors = 0, remasked = 0;
            List<BoxF> survivorBoxes = [];
            if (_o.OutputCheck)
            {
                // First-pass detections still unmasked (only a test hook's skipped face or plates): the check must look there too.
                var unmasked = faces.Concat(plates).Concat(strokes).Where(d => Covered(img, d) < _o.CoveredFraction).ToList();
                var left = Survivors(img, vehicles, weak, rects, unmasked, large);
                if (left.Count == 0) check = "passed";
                else
                {
                    foreach (var b in left)
                    {
                        if (_o.SkipFaceOnRemask && skipped is { } s && Overlap(s, b) > 0.3f) continue;
                        MaskBox(img, b, rects);
                        remasked++;
                    }
                    left = Survivors(img, vehicles, weak, rects, unmasked, large);
                    survivors = left.Count;
                    survivorBoxes = left;
                    check = survivors == 0 ? "passed-after-remask" : "withheld";
                }
            }
            Lap(t, 4, ref t0);

            var counts = new AnonymisedCounts(faces.Count - (skipped != null ? 1 : 0), plates.Count + strokes.Count + zones, _o.MaskSmallText ? small.Count : 0, headBands,
                _o.MaskLargeText ? 0 : large.Count, remasked);
            AnonymisedImageRecord? record = null;
            if (check == "withheld") Interlocked.Increment(ref _withheld);
            else
            {
                // Only a frame that passed is encoded: from the pixel buffer, in place.
                var jpeg = JpegEncoder.Encode(buffer, w, h, 0, w, ySize, ySize + cSize, cw, frame.FullRange, _o.JpegQScale);
                record = new AnonymisedImageRecord(_manifest, at, binLength ?? TimeSpan.FromSeconds(1), jpeg, w, h, counts, _models, check);
                Interlocked.Increment(ref _released);
            }
            Lap(t, 5, ref t0);
            double f = 1000.0 / Stopwatch.Frequency;
            return new AnonymiseResult(record, counts, check, survivors,
                new AnonymiseTimings(t[0] * f, t[1] * f, t[2] * f, t[3] * f, t[4] * f, t[5] * f) { VehiclesMs = t[6] * f }, rects, survivorBoxes)
            {
                Carried = carried,
                PlateZones = zones,
                TileVehicles = tileVehicles,
                StrokePlates = strokes.Count,
            };
        }
    }

    // Across frames: one tracker over the faces (class 0) and plates (class 1) this anonymiser masked,
    // and per track its last sighting (box, frame). See Track().
    private const int FaceClass = 0, PlateClass = 1;
    private MultiObjectTracker? _tracker;
    private readonly Detections _trackInput = new(256);
    private readonly Dictionary<int, (BoxF Box, long Frame, BoxF Previous, long PreviousFrame)> _lastSeen = new();
    private long? _lastTrackFrame;

    /// <summary>
    /// The tracker options for masks: every detection counts (recall first: they all score 1), a track
    /// starts confirmed, lives <see cref="AnonymiseOptions.CarryFrames"/> frames after its last sighting,
    /// and a loose IoU gate keeps small fast faces on their track.
    /// </summary>
    internal static TrackerOptions MaskTracking(int carryFrames) => TrackerOptions.Default with
    {
        AdaptiveScores = false, HighScore = 0.5f, NewTrackScore = 0.5f, MinHits = 1, MatchIouFirst = 0.1, MaxLostFrames = Math.Max(1, carryFrames),
        ReportObservedBox = true,
    };

    /// <summary>
    /// Feeds this frame's faces and plates to the mask tracker (the engine's ByteTrack/OC-SORT tracker on
    /// their boxes) and masks every track the detectors missed on this frame, for up to
    /// <see cref="AnonymiseOptions.CarryFrames"/> frames after its last sighting: the hull of its last
    /// sighting, its Kalman-predicted box and its straight-line extrapolation from the last two sightings,
    /// grown by <see cref="AnonymiseOptions.CarryMargin"/> per frame of age. The hull covers the path
    /// whether the filter's velocity lags (a young track) or overshoots. Causal on purpose: a frame is never held back to interpolate from a later
    /// one (that would lengthen every frame's pixel lifetime), so the prediction stands in for it.
    /// A stream that jumped back (a loop, a reconnect) starts afresh. Returns the tracks masked.
    /// </summary>
    private int Track(Image img, List<(int, int, int, int)> rects, long? frameIndex, List<BoxF> faces, int skipIndex, List<BoxF> plates)
    {
        if (frameIndex is not { } n || _o.CarryFrames == 0) { ResetTracks(); return 0; }
        if (_lastTrackFrame is { } last && n <= last) ResetTracks();
        _lastTrackFrame = n;
        _tracker ??= new MultiObjectTracker(MaskTracking(_o.CarryFrames));
        _trackInput.Clear();
        for (int i = 0; i < faces.Count; i++) if (i != skipIndex) _trackInput.Add(faces[i], 1f, FaceClass);
        foreach (var p in plates) _trackInput.Add(p, 1f, PlateClass);
        var tracks = _tracker.Update(_trackInput, n);
        foreach (int id in _tracker.RemovedIds) _lastSeen.Remove(id);
        int carried = 0;
        foreach (var t in tracks)
        {
            if (t.Observed)
            {
                _lastSeen[t.TrackId] = _lastSeen.TryGetValue(t.TrackId, out var before) ? (t.Box, n, before.Box, before.Frame) : (t.Box, n, t.Box, n);
                continue;
            }
            if (!_lastSeen.TryGetValue(t.TrackId, out var seen) || n - seen.Frame > _o.CarryFrames) continue;
            // Three guesses of where it is now, hulled: the last sighting, the Kalman prediction (lags
            // when a track is young), and the straight line through the last two sightings (does not).
            var p = t.Box; var o = seen.Box;
            float k = seen.Frame > seen.PreviousFrame ? (float)(n - seen.Frame) / (seen.Frame - seen.PreviousFrame) : 0;
            var l = new BoxF(o.X + k * (o.X - seen.Previous.X), o.Y + k * (o.Y - seen.Previous.Y), o.W, o.H);
            var hull = BoxF.FromCorners(MathF.Min(MathF.Min(p.X, o.X), l.X), MathF.Min(MathF.Min(p.Y, o.Y), l.Y),
                MathF.Max(MathF.Max(p.Right, o.Right), l.Right), MathF.Max(MathF.Max(p.Bottom, o.Bottom), l.Bottom));
            float grow = _o.CarryMargin * (n - seen.Frame);
            MaskBox(img, new BoxF(hull.X - o.W * grow, hull.Y - o.H * grow, hull.W + 2 * o.W * grow, hull.H + 2 * o.H * grow), rects);
            carried++;
        }
        return carried;
    }

    private void ResetTracks()
    {
        _tracker?.Reset();
        _lastSeen.Clear();
        _lastTrackFrame = null;
    }

    private static void Lap(long[] t, int i, ref long t0)
    {
        long now = Stopwatch.GetTimestamp();
        t[i] += now - t0;
        t0 = now;
    }

    /// <summary>The masked buffer's planes and geometry (one per call).</summary>
    private readonly struct Image(int w, int h, bool fullRange, PixelBuffer buffer, long ySize, long cSize)
    {
        public readonly int W = w, H = h;
        public readonly bool FullRange = fullRange;
        private readonly PixelBuffer _buffer = buffer;
        private readonly int _y = (int)ySize, _c = (int)cSize;

        public YuvPlanes Planes()
        {
            var all = _buffer.DangerousGetSpan();
            return new YuvPlanes(W, H, all[.._y], W, all.Slice(_y, _c), all.Slice(_y + _c, _c), W / 2);
        }

        /// <summary>A view of the region [x0, x0+w) × [y0, y0+h) (even origin), no copy.</summary>
        public FrameView View(int x0, int y0, int w, int h)
        {
            ReadOnlySpan<byte> all = _buffer.DangerousGetSpan();
            int cw = W / 2;
            return new FrameView(w, h, PixelFormat.Yuv420P,
                all.Slice(y0 * W + x0, _y - (y0 * W + x0)), W,
                all.Slice(_y + y0 / 2 * cw + x0 / 2, _c - (y0 / 2 * cw + x0 / 2)), cw,
                all.Slice(_y + _c + y0 / 2 * cw + x0 / 2, _c - (y0 / 2 * cw + x0 / 2)), cw, FullRange);
        }
    }

    // ------------------------------ detection ------------------------------

    /// <param name="changed">On the output check (<see cref="AnonymiseOptions.CheckChangedRegionsOnly"/>): the regions that differ
    /// from the first pass's input, or hold a detection left unmasked. A tile touching none of them is the same bytes the first pass
    /// saw, so the same detector gives the same faces, all already masked: it is not run again. Null = every tile.</param>
    private List<BoxF> FindFaces(in Image img, List<(int X0, int Y0, int X1, int Y1)>? changed = null)
    {
        var found = new List<BoxF>();
        // Native-scale tiles, then (FaceSmallTiles) tiles of half the size that the detector's letterbox upscales 2×.
        int tile = _o.FaceTileSize;
        for (int up = 1; up <= (_o.FaceSmallTiles ? 2 : 1); up++)
        {
            int t = _o.FaceTileSize / up & ~1, step = t - _o.FaceTileOverlap;
            foreach (int y0 in Starts(img.H, t, step))
                foreach (int x0 in Starts(img.W, t, step))
                {
                    int tw = Math.Min(t, img.W - x0), th = Math.Min(t, img.H - y0);
                    if (changed != null && !Touches(changed, x0, y0, x0 + tw, y0 + th)) continue;
                    _yunet.Detect(img.View(x0, y0, tw, th), _scratch);
                    CollectTileFaces(_scratch, x0, y0, tw, th, tw < img.W || th < img.H, found);
                }
        }
        bool tiled = img.W > tile || img.H > tile;
        if (_o.FaceWholeFramePass && tiled)
        {
            _yunet.Detect(img.View(0, 0, img.W, img.H), _scratch);
            Collect(_scratch, 0, 0, found);
        }
        _ultra.Detect(img.View(0, 0, img.W, img.H), _scratch);
        Collect(_scratch, 0, 0, found);
        return Merge(found);
    }

    /// <summary>
    /// Whether a YOLOX detection is searched for a plate: a car, bus, truck or motorcycle, or
    /// (<see cref="AnonymiseOptions.PlateSearchAnyObject"/>) any box that is not a person or street furniture:
    /// YOLOX-Nano names cars seen from above cell phones or suitcases (recall first).
    /// </summary>
    private bool CarriesPlate(int c, float s, in BoxF b)
    {
        if (c == CocoClasses.Person || s < _o.VehicleScore) return false;
        if (IsVehicleClass(c)) return true;
        return _o.PlateSearchAnyObject && !IsStreetFixture(c) && MathF.Min(b.W, b.H) >= _o.PlateSearchMinSide;
    }

    /// <summary>
    /// <see cref="AnonymiseOptions.VehicleTiles"/>: YOLOX at native resolution on overlapping tiles of its own
    /// input size, so a car the caller's whole-frame (downscaled) pass did not box still gets its plate searched:
    /// a car half out of the frame (car-detection.mp4 frame 320: no box whole-frame, a box on the tile) or one
    /// too small at the downscaled size. Boxes already in <paramref name="vehicles"/> (most of the smaller one
    /// shared) are not added twice. Returns how many were added. A frame no larger than one tile is skipped:
    /// the caller's pass already saw it at native scale. Boxes at the frame's edge count from
    /// <see cref="AnonymiseOptions.EdgeVehicleScore"/>; those under <see cref="AnonymiseOptions.VehicleScore"/> are added to <paramref name="weak"/> too.
    /// </summary>
    private int FindTileVehicles(in Image img, List<BoxF> vehicles, HashSet<BoxF> weak)
    {
        int t = _yolox!.InputWidth, step = t - _o.VehicleTileOverlap;
        if (img.W <= t && img.H <= t) return 0;
        var found = new List<BoxF>(); var weakFound = new List<BoxF>();
        foreach (int y0 in Starts(img.H, t, step))
            foreach (int x0 in Starts(img.W, t, step))
            {
                int tw = Math.Min(t, img.W - x0), th = Math.Min(t, img.H - y0);
                _yolox.Detect(img.View(x0, y0, tw, th), _scratch);
                for (int i = 0; i < _scratch.Count; i++)
                {
                    var b = _scratch.Boxes[i];
                    float s = _scratch.Scores[i];
                    // A car cut off by the frame's edge scores low (frame 190: "cell phone" 0.14 on its tile): scored as if it were whole.
                    bool edge = TouchesEdge(new BoxF(b.X + x0, b.Y + y0, b.W, b.H), img.W, img.H);
                    if (edge && s < _o.VehicleScore && s >= _o.EdgeVehicleScore) s = _o.VehicleScore;
                    else if (s < _o.VehicleScore) continue;
                    if (b.W <= 0 || b.H <= 0 || !CarriesPlate(_scratch.ClassIds[i], s, b)) continue;
                    // A box filling its tile is the tile read as one object (a shop front as a "bus" on ADL-Rundle-6):
                    // a vehicle that large is seen whole by the caller's downscaled pass.
                    if (MathF.Max(b.W, b.H) >= TileFill * t) continue;
                    var f = new BoxF(b.X + x0, b.Y + y0, b.W, b.H);
                    // Misnamed objects (cell phone, suitcase, ...) only where a cut-off car would be: at the frame's edge.
                    // Inside the frame the tiles add handbags, backpacks and chairs of passers-by, not cars.
                    if (!IsVehicleClass(_scratch.ClassIds[i]) && !edge) continue;
                    found.Add(f);
                    if (_scratch.Scores[i] < _o.VehicleScore) weakFound.Add(f);
                }
            }
        int before = vehicles.Count;
        var strong = found.Where(f => !weakFound.Contains(f)).ToList();
        foreach (var b in Merge(found))
            if (!vehicles.Take(before).Any(v => Overlap(v, b) > 0.6f))
            {
                vehicles.Add(b);
                // Weak unless a box at VehicleScore went into it.
                if (!strong.Any(f => Overlap(f, b) > 0.6f)) weak.Add(b);
            }
        return vehicles.Count - before;
    }

    /// <summary>Share of the tile side from which a tile's box is taken for the tile read as one object.</summary>
    private const float TileFill = 0.9f;

    private static bool IsVehicleClass(int c) => c is CocoClasses.Car or CocoClasses.Motorcycle or CocoClasses.Bus or CocoClasses.Truck;

    /// <summary>Whether a box reaches within 2 px of the frame's edge (a vehicle cut off by it).</summary>
    private static bool TouchesEdge(in BoxF b, int w, int h) => b.X <= 2 || b.Y <= 2 || b.Right >= w - 2 || b.Bottom >= h - 2;

    /// <summary>Tile origins along one axis: every <paramref name="step"/>, the last flush with the edge; all even.</summary>
    private static IEnumerable<int> Starts(int length, int tile, int step)
    {
        if (length <= tile) { yield return 0; yield break; }
        int last = (length - tile) & ~1;
        for (int s = 0; s < last; s += step) yield return s & ~1;
        yield return last;
    }

    /// <summary>
    /// A face tile's detections, less any box (clipped by the decoder to the tile) that reaches two opposite edges of a
    /// tile smaller than the frame: the detector regressed a box larger than its input, which is not a face the tile saw.
    /// On the output check a mosaic's blocks read that way (car-detection.mp4 frame 226: a 495×432 "face" from the 640×432
    /// tiles, re-masked to 84 % of the frame). A face that large is the whole-frame passes' (YuNet, UltraFace) to find.
    /// </summary>
    private static void CollectTileFaces(Detections d, int dx, int dy, int tw, int th, bool partOfFrame, List<BoxF> into)
    {
        for (int i = 0; i < d.Count; i++)
        {
            var b = d.Boxes[i];
            if (b.W <= 0 || b.H <= 0) continue;
            if (partOfFrame && (SpansTile(b.X, b.Right, tw) || SpansTile(b.Y, b.Bottom, th))) continue;
            into.Add(new BoxF(b.X + dx, b.Y + dy, b.W, b.H));
        }
    }

    /// <summary>Whether [lo, hi] reaches both ends of [0, side] (within a pixel).</summary>
    private static bool SpansTile(float lo, float hi, int side) => lo <= 1 && hi >= side - 1;

    private static void Collect(Detections d, int dx, int dy, List<BoxF> into)
    {
        for (int i = 0; i < d.Count; i++)
        {
            var b = d.Boxes[i];
            if (b.W > 0 && b.H > 0) into.Add(new BoxF(b.X + dx, b.Y + dy, b.W, b.H));
        }
    }

    /// <summary>Union of overlapping boxes (tile seams, the two face detectors): boxes sharing most of the smaller one merge into their hull.</summary>
    private static List<BoxF> Merge(List<BoxF> boxes)
    {
        boxes.Sort((a, b) => b.Area.CompareTo(a.Area));
        var merged = new List<BoxF>(boxes.Count);
        foreach (var b in boxes)
        {
            int hit = -1;
            for (int i = 0; i < merged.Count && hit < 0; i++)
                if (Overlap(merged[i], b) > 0.6f) hit = i;
            if (hit < 0) { merged.Add(b); continue; }
            var m = merged[hit];
            merged[hit] = BoxF.FromCorners(MathF.Min(m.X, b.X), MathF.Min(m.Y, b.Y), MathF.Max(m.Right, b.Right), MathF.Max(m.Bottom, b.Bottom));
        }
        return merged;
    }

    /// <summary>Intersection over the smaller box's area.</summary>
    private static float Overlap(in BoxF a, in BoxF b)
    {
        float ix = MathF.Min(a.Right, b.Right) - MathF.Max(a.X, b.X), iy = MathF.Min(a.Bottom, b.Bottom) - MathF.Max(a.Y, b.Y);
        if (ix <= 0 || iy <= 0) return 0;
        float small = MathF.Min(a.Area, b.Area);
        return small > 0 ? ix * iy / small : 0;
    }

    /// <summary>Street furniture whose text is the map's purpose, never searched as a vehicle (COCO: traffic light, fire hydrant, stop sign, parking meter, bench).</summary>
    private static bool IsStreetFixture(int c) => c is >= 9 and <= 13;

    private static bool Inside(in BoxF b, float x, float y) => x >= b.X && x <= b.Right && y >= b.Y && y <= b.Bottom;

    /// <summary>The vehicle's region where text is a plate: its box and a band below it.</summary>
    private BoxF PlateRegion(in BoxF v) => new(v.X, v.Y, v.W, v.H * (1 + _o.UnderVehicleFraction));

    private (List<BoxF> Plates, List<BoxF> Small, List<BoxF> Large) FindText(in Image img, List<BoxF> vehicles, bool onOutput = false, List<(int X0, int Y0, int X1, int Y1)>? changed = null)
    {
        var plates = new List<BoxF>(); var small = new List<BoxF>(); var large = new List<BoxF>();
        foreach (var v in vehicles)
        {
            var r = PlateRegion(v);
            int x0 = Math.Max(0, (int)r.X) & ~1, y0 = Math.Max(0, (int)r.Y) & ~1;
            int x1 = Math.Min(img.W, (int)MathF.Ceiling(r.Right)), y1 = Math.Min(img.H, (int)MathF.Ceiling(r.Bottom));
            int cw = (x1 - x0) & ~1, chh = (y1 - y0) & ~1;
            if (cw < 16 || chh < 16) continue;
            // An unchanged crop gives the first pass's candidates again, all masked (see FindFaces).
            if (changed != null && !Touches(changed, x0, y0, x0 + cw, y0 + chh)) continue;
            int first = plates.Count;
            TextCropFor(cw, chh).Detect(img.View(x0, y0, cw, chh), _scratch);
            Collect(_scratch, x0, y0, plates);
            if (_o.PlateContrastSearch) ContrastSearch(img, x0, y0, cw, chh, plates, onOutput);
            for (int i = first; i < plates.Count; i++) plates[i] = PlateSearch.AtLeastPlateSize(plates[i], v);
            // On the output only plate-sized text is a plate that survived: a region wider than
            // MaxPlateShare of the vehicle is its body read as text (masked in the first pass anyway when
            // found there), and re-masking it would black out the car and the street around it.
            if (onOutput)
                for (int i = plates.Count - 1; i >= first; i--)
                    if (plates[i].W > MaxPlateShare * v.W) plates.RemoveAt(i);
        }
        if (_o.WholeFrameText)
        {
            var whole = new List<BoxF>();
            if (changed == null)
            {
                TextWholeFor(img.W, img.H).Detect(img.View(0, 0, img.W, img.H), _scratch);
                Collect(_scratch, 0, 0, whole);
            }
            else TextAround(img, changed, whole);
            float smallMax = _o.SmallTextMaxHeight * img.H;
            foreach (var b in whole)
            {
                if (vehicles.Any(v => Inside(PlateRegion(v), b.CenterX, b.CenterY)))
                {
                    // On the output, as on the crops: only plate-sized text is a plate that survived.
                    if (!onOutput || vehicles.Any(v => Inside(PlateRegion(v), b.CenterX, b.CenterY) && b.W <= MaxPlateShare * v.W)) plates.Add(b);
                }
                else if (b.H <= smallMax) small.Add(b);
                else large.Add(b);
            }
        }
        return (Merge(plates), Merge(small), Merge(large));
    }

    /// <summary>Whether the region [x0, x1) × [y0, y1) overlaps any of <paramref name="rects"/>.</summary>
    private static bool Touches(List<(int X0, int Y0, int X1, int Y1)> rects, int x0, int y0, int x1, int y1)
    {
        foreach (var r in rects)
            if (r.X0 < x1 && r.X1 > x0 && r.Y0 < y1 && r.Y1 > y0) return true;
        return false;
    }

    /// <summary>
    /// The whole-frame text pass of the output check, restricted to windows around the changed regions:
    /// each grown by its own size (at least <see cref="CheckTextMargin"/> px) on every side, overlapping windows
    /// merged, each searched at the whole-frame pass's scale. Away from the masks the output is the input,
    /// whose text the first pass has already ruled on (masked, or kept as a sign by the rules); the margin
    /// covers text a mask cuts through, and what the detector sees of its neighbourhood.
    /// </summary>
    private void TextAround(in Image img, List<(int X0, int Y0, int X1, int Y1)> changed, List<BoxF> into)
    {
        var windows = new List<(int X0, int Y0, int X1, int Y1)>(changed.Count);
        foreach (var r in changed)
        {
            int m = Math.Max(CheckTextMargin, Math.Max(r.X1 - r.X0, r.Y1 - r.Y0));
            windows.Add((Math.Max(0, r.X0 - m) & ~1, Math.Max(0, r.Y0 - m) & ~1, Math.Min(img.W, r.X1 + m) & ~1, Math.Min(img.H, r.Y1 + m) & ~1));
        }
        for (bool merged = true; merged;)
        {
            merged = false;
            for (int i = 0; i < windows.Count && !merged; i++)
                for (int j = i + 1; j < windows.Count && !merged; j++)
                {
                    var a = windows[i]; var b = windows[j];
                    if (a.X0 >= b.X1 || b.X0 >= a.X1 || a.Y0 >= b.Y1 || b.Y0 >= a.Y1) continue;
                    windows[i] = (Math.Min(a.X0, b.X0), Math.Min(a.Y0, b.Y0), Math.Max(a.X1, b.X1), Math.Max(a.Y1, b.Y1));
                    windows.RemoveAt(j);
                    merged = true;
                }
        }
        float scale = MathF.Min(1f, (float)_o.TextMaxSide / Math.Max(img.W, img.H));
        foreach (var (x0, y0, x1, y1) in windows)
        {
            int w = x1 - x0, h = y1 - y0;
            if (w < 16 || h < 16) continue;
            // Tensor sides in steps of 128 (a bounded set of detectors), at least the whole-frame pass's scale.
            int tw = Math.Max(128, (int)MathF.Ceiling(w * scale / 128f) * 128), th = Math.Max(128, (int)MathF.Ceiling(h * scale / 128f) * 128);
            if (!_textWhole.TryGetValue((tw, th), out var d))
                _textWhole[(tw, th)] = d = new ObjectDetector(_textSession, Opts(tw, th, _o.TextScore, 0.3f, 500));
            d.Detect(img.View(x0, y0, w, h), _scratch);
            Collect(_scratch, x0, y0, into);
        }
    }

    /// <summary>
    /// The stroke finder (<see cref="PlateStrokes"/>): plate candidates centred in a vehicle's plate region (its box and the
    /// band below), or anywhere with <see cref="AnonymiseOptions.PlateStrokeWholeFrame"/>. Candidates centred in a kept
    /// large-text region (a sign, when <see cref="AnonymiseOptions.MaskLargeText"/> is off) are its letters and are left to
    /// the sign rule. The stroke map's integral image is a pixel buffer, wiped on return.
    /// </summary>
    private List<BoxF> FindStrokes(in Image img, List<BoxF> vehicles, List<BoxF> large, bool onOutput)
    {
        if (!_o.PlateStrokeWholeFrame && vehicles.Count == 0) return [];
        using var scratch = PixelBuffer.Rent((nuint)PlateStrokes.ScratchBytes(img.W, img.H));
        var found = new List<BoxF>();
        PlateStrokes.Find(img.Planes().Y, img.W, img.W, img.H, scratch.DangerousGetSpan(), found, onOutput ? _coverage.AsSpan(0, img.W * img.H) : default);
        if (!_o.PlateStrokeWholeFrame) found.RemoveAll(b => !vehicles.Any(v => Inside(PlateRegion(v), b.CenterX, b.CenterY)));
        if (!_o.MaskLargeText) found.RemoveAll(b => large.Any(l => Inside(l, b.CenterX, b.CenterY)));
        return found;
    }

    /// <summary>Smallest margin (px) around a changed region that the output check's text pass searches.</summary>
    private const int CheckTextMargin = 48;

    /// <summary>
    /// The text detector on a locally contrast-normalised grey copy of the vehicle crop (<see cref="AnonymiseOptions.PlateContrastSearch"/>).
    /// The copy is a pixel buffer: counted and wiped when the search returns. On the output, masked pixels are left out (<see cref="PlateSearch.Normalise"/>).
    /// </summary>
    private void ContrastSearch(in Image img, int x0, int y0, int w, int h, List<BoxF> plates, bool onOutput)
    {
        using var scratch = PixelBuffer.Rent((nuint)PlateSearch.ScratchBytes(w, h));
        var s = scratch.DangerousGetSpan();
        int radius = Math.Max(2, (int)(Math.Min(w, h) * _o.PlateContrastRadius));
        PlateSearch.Normalise(img.Planes().Y, img.W, x0, y0, w, h, radius, MinContrastSpread, s, onOutput ? _coverage.AsSpan(0, img.W * img.H) : default);
        int ySize = w * h, cSize = ySize / 4;
        var view = new FrameView(w, h, PixelFormat.Yuv420P, s[..ySize], w, s.Slice(ySize, cSize), w / 2, s.Slice(ySize + cSize, cSize), w / 2, img.FullRange);
        TextCropFor(w, h).Detect(view, _scratch);
        Collect(_scratch, x0, y0, plates);
    }

    /// <summary>Widest plate candidate, as a share of its vehicle's width (a plate is 0.17–0.2 of it; close-ups and skew double that).</summary>
    private const float MaxPlateShare = 0.6f;

    /// <summary>Grey levels of spread below which a neighbourhood counts as flat paint (sensor noise is not amplified into text).</summary>
    private const float MinContrastSpread = 6f;

    /// <summary>
    /// Whether a plate-shaped candidate (wider than tall, 0.05–0.6 of the vehicle's width) has its centre in
    /// the vehicle's plate zone. Anything else there (a headlight, the whole bumper) does not stand in for the plate.
    /// </summary>
    private bool HasPlateCandidate(in BoxF v, List<BoxF> plates)
    {
        var zone = PlateSearch.Zone(v, _o);
        foreach (var p in plates)
            if (Inside(zone, p.CenterX, p.CenterY) && p.W >= p.H && p.W >= 0.05f * v.W && p.W <= MaxPlateShare * v.W) return true;
        return false;
    }

    /// <summary>
    /// The text detector for a vehicle crop: a square tensor about 3× the crop's long side (plates of
    /// 20–30 px only separate from the car body when upscaled; measured on car-detection.mp4), in steps
    /// of 64, at most <see cref="AnonymiseOptions.VehicleCropSize"/>.
    /// </summary>
    private ObjectDetector TextCropFor(int w, int h)
    {
        int side = Math.Clamp((3 * Math.Max(w, h) + 63) / 64 * 64, 128, _o.VehicleCropSize & ~63);
        if (!_textCrop.TryGetValue(side, out var d))
            _textCrop[side] = d = new ObjectDetector(_textSession, Opts(side, side, _o.TextScore, 0.3f, 200));
        return d;
    }

    private ObjectDetector TextWholeFor(int w, int h)
    {
        float scale = MathF.Min(1f, (float)_o.TextMaxSide / Math.Max(w, h));
        int tw = Math.Max(32, (int)MathF.Ceiling(w * scale / 32f) * 32), th = Math.Max(32, (int)MathF.Ceiling(h * scale / 32f) * 32);
        if (!_textWhole.TryGetValue((tw, th), out var d))
            _textWhole[(tw, th)] = d = new ObjectDetector(_textSession, Opts(tw, th, _o.TextScore, 0.3f, 500));
        return d;
    }

    // ------------------------------ masks and the output check ------------------------------

    private void MaskBox(in Image img, in BoxF box, List<(int, int, int, int)> rects)
    {
        Masker.Apply(img.Planes(), box, _o.Mask);
        if (!Masker.MaskRect(box, img.W, img.H, _o.Mask.Expand, out int x0, out int y0, out int x1, out int y1)) return;
        rects.Add((x0, y0, x1, y1));
        for (int y = y0; y < y1; y++) _coverage.AsSpan(y * img.W + x0, x1 - x0).Fill(1);
    }

    /// <summary>Fraction of <paramref name="b"/> (clipped to the frame) under masks.</summary>
    private float Covered(in Image img, in BoxF b)
    {
        int x0 = Math.Clamp((int)b.X, 0, img.W), y0 = Math.Clamp((int)b.Y, 0, img.H);
        int x1 = Math.Clamp((int)MathF.Ceiling(b.Right), 0, img.W), y1 = Math.Clamp((int)MathF.Ceiling(b.Bottom), 0, img.H);
        if (x1 <= x0 || y1 <= y0) return 1;
        long n = 0;
        for (int y = y0; y < y1; y++)
            foreach (byte c in _coverage.AsSpan(y * img.W + x0, x1 - x0)) n += c;
        return (float)n / ((long)(x1 - x0) * (y1 - y0));
    }

    /// <summary>Faces, plates and (by the rules) small text the detectors still find outside the masks.</summary>
    /// <param name="unmasked">First-pass detections left unmasked (a test's deliberately skipped face): they count as changed regions.</param>
    /// <param name="signs">The input's large text (signs): stroke candidates inside a kept sign are its letters, not a plate.</param>
    /// <param name="weak">Vehicles from <see cref="AnonymiseOptions.EdgeVehicleScore"/>: no plate zone to hold a mask.</param>
    private List<BoxF> Survivors(in Image img, List<BoxF> vehicles, HashSet<BoxF> weak, List<(int X0, int Y0, int X1, int Y1)> rects, List<BoxF> unmasked, List<BoxF> signs)
    {
        List<(int X0, int Y0, int X1, int Y1)>? changed = null;
        if (_o.CheckChangedRegionsOnly)
        {
            changed = new List<(int, int, int, int)>(rects);
            foreach (var b in unmasked)
                changed.Add(((int)MathF.Floor(b.X), (int)MathF.Floor(b.Y), (int)MathF.Ceiling(b.Right), (int)MathF.Ceiling(b.Bottom)));
        }
        var left = new List<BoxF>();
        foreach (var f in FindFaces(img, changed)) if (Covered(img, f) < _o.CoveredFraction) left.Add(f);
        var (plates, small, large) = FindText(img, vehicles, onOutput: true, changed);
        foreach (var b in plates) if (Covered(img, b) < _o.CoveredFraction) left.Add(b);
        // The stroke finder over the whole output (it is cheap), masked pixels left out: a plate-shaped row of strokes outside the masks survived.
        if (_o.PlateStrokeSearch)
            foreach (var b in FindStrokes(img, vehicles, signs, onOutput: true)) if (Covered(img, b) < _o.CoveredFraction) left.Add(b);
        // The plate-zone rule holds on the output too: a readable vehicle's zone holds a mask (its plate's or
        // the zone's own) or a plate candidate (counted above if unmasked); otherwise the zone survived.
        if (_o.PlateZoneFallback)
            foreach (var v in vehicles)
            {
                if (weak.Contains(v) || !PlateSearch.Readable(v, _o) || HasPlateCandidate(v, plates)) continue;
                var zone = PlateSearch.Zone(v, _o);
                if (!rects.Any(r => Inside(zone, (r.X0 + r.X1) / 2f, (r.Y0 + r.Y1) / 2f))) left.Add(zone);
            }
        if (_o.MaskSmallText) foreach (var b in small) if (Covered(img, b) < _o.CoveredFraction) left.Add(b);
        if (_o.MaskLargeText) foreach (var b in large) if (Covered(img, b) < _o.CoveredFraction) left.Add(b);
        return left;
    }

    public void Dispose()
    {
        foreach (var d in _textWhole.Values) d.Dispose();
        _textWhole.Clear();
        foreach (var d in _textCrop.Values) d.Dispose();
        _textCrop.Clear();
        _yunet?.Dispose(); _ultra?.Dispose(); _yolox?.Dispose();
        _yunetSession?.Dispose(); _ultraSession?.Dispose(); _textSession?.Dispose(); _yoloxSession?.Dispose();
    }
}
