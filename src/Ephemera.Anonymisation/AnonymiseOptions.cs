using Ephemera.Core;

namespace Ephemera.Anonymisation;

/// <summary>
/// Rules and detector settings of the street anonymiser (case 4). Recall comes first: thresholds are
/// low, face detectors are unioned, and a person without a face detection loses its head band.
/// Validated once by <see cref="Validate"/> (the anonymiser calls it).
/// </summary>
public sealed record AnonymiseOptions
{
    /// <summary>How masks are drawn (solid fill or coarse mosaic, box ×1.3 at least).</summary>
    public MaskOptions Mask { get; init; } = new();

    /// <summary>YuNet tile size at native resolution (square, multiple of 32).</summary>
    public int FaceTileSize { get; init; } = 640;
    /// <summary>
    /// Also run YuNet on tiles of half the size upscaled 2× (default yes): finds faces of 10–20 px that it
    /// misses at native scale (ADL-Rundle-6 1080p, 12–16 px: 7 of 9 masked without, 9 of 9 with; see
    /// docs/anonymisation.md), at about five times the tiles.
    /// </summary>
    public bool FaceSmallTiles { get; init; } = true;
    /// <summary>Overlap between neighbouring tiles in pixels: at least the largest face a tile must catch whole.</summary>
    public int FaceTileOverlap { get; init; } = 96;
    /// <summary>Also run YuNet on the whole frame letterboxed into one tile (catches faces larger than the overlap).</summary>
    public bool FaceWholeFramePass { get; init; } = true;
    /// <summary>YuNet score threshold (recall first).</summary>
    public float YuNetScore { get; init; } = 0.3f;
    /// <summary>UltraFace score threshold (whole frame, 320×240; the second face detector of the union).</summary>
    public float UltraFaceScore { get; init; } = 0.5f;

    /// <summary>PP-OCR DB text score threshold (the decoder keeps DB's own box threshold of 0.6 as a floor).</summary>
    public float TextScore { get; init; } = 0.3f;
    /// <summary>Whole-frame text detection runs at the frame's size, scaled down to at most this long side (multiple of 32).</summary>
    public int TextMaxSide { get; init; } = 1280;
    /// <summary>Run the text detector on the whole frame (else only on vehicle crops).</summary>
    public bool WholeFrameText { get; init; } = true;
    /// <summary>
    /// Largest tensor side of the text detector on a vehicle crop (multiple of 64): a crop is searched at
    /// about 3× its size up to this (320 found 1 of 6 hand-labelled plates on car-detection.mp4, 640 found 4).
    /// </summary>
    public int VehicleCropSize { get; init; } = 640;
    /// <summary>
    /// Search the plate region of every YOLOX box that is not a person or street furniture, not only cars,
    /// buses, trucks and motorcycles: YOLOX-Nano calls cars seen from above cell phones or suitcases
    /// (car-detection.mp4), and a plate on a missed vehicle is a leak (recall first; default yes).
    /// </summary>
    public bool PlateSearchAnyObject { get; init; } = true;
    /// <summary>
    /// Also run YOLOX (the engine's yolox_nano_coco_416) on native-resolution tiles of its own input size and
    /// search every vehicle it finds there that the caller's detections lack (default yes). The caller's pass
    /// letterboxes the whole frame to 416 px; a car cut by the frame edge or small in the frame then gets no
    /// box, and its plate no search (car-detection.mp4 frame 320: a car half out of the frame, boxed on its tile).
    /// From the tiles, misnamed objects (<see cref="PlateSearchAnyObject"/>) count only at the frame's edge, and a
    /// box filling its tile not at all (on a pedestrian street the tiles otherwise add handbags and shop fronts).
    /// </summary>
    public bool VehicleTiles { get; init; } = true;
    /// <summary>
    /// Also search for plates with the stroke finder (<see cref="PlateStrokes"/>; default yes): a plate-shaped
    /// window whose rows change brightness direction several times within a few pixels, with plain bands around
    /// it, is masked as a plate. By default only in the plate regions of vehicles (the caller's and the tiles'):
    /// it finds plates there that neither text pass nor the plate zone covers (car-detection.mp4 frame 100).
    /// </summary>
    public bool PlateStrokeSearch { get; init; } = true;
    /// <summary>
    /// Run the stroke finder over the whole frame, vehicle box or not (default no): a plate on a car no YOLOX pass
    /// boxes at all is then found too (frame 190 was one before <see cref="EdgeVehicleScore"/>), but on a pedestrian street
    /// (ADL-Rundle-6) brickwork, shop windows and clothing give it 60–180 candidates a frame, a quarter of the
    /// image masked and an output check four times as slow. For road-only cameras (dashcam, car park, overhead).
    /// </summary>
    public bool PlateStrokeWholeFrame { get; init; }
    /// <summary>
    /// Lowest YOLOX score of a vehicle tile's box that reaches the frame's edge (<see cref="VehicleTiles"/>): a car cut
    /// off by the edge scores low (car-detection.mp4 frame 190, entering at the top: "cell phone" 0.14 on its tile, 0.23
    /// "bottle" whole-frame; its plate was masked by no default pass). Such a box under <see cref="VehicleScore"/> is
    /// searched for plates (text on the crop, the stroke finder in its plate region) but gets no plate-zone fallback:
    /// the search finds a plate that is there, and a low-score box that is no car masks nothing by itself.
    /// </summary>
    public float EdgeVehicleScore { get; init; } = 0.1f;
    /// <summary>Overlap (px) between neighbouring vehicle tiles: a car cut by a seam is whole in one tile up to this size.</summary>
    public int VehicleTileOverlap { get; init; } = 128;
    /// <summary>Smallest short side (px) of a non-vehicle box searched for plates (<see cref="PlateSearchAnyObject"/>).</summary>
    public int PlateSearchMinSide { get; init; } = 48;
    /// <summary>The plate band below a vehicle box, as a fraction of its height ("under the vehicle").</summary>
    public float UnderVehicleFraction { get; init; } = 0.15f;
    /// <summary>
    /// Also search every vehicle crop with the text detector on a locally contrast-normalised grey copy
    /// (default yes): a white plate on a white or silver bumper differs from it by a few grey levels, and
    /// the DB detector then reads plate and bumper as one surface (car-detection.mp4 frames 90, 200, 330).
    /// </summary>
    public bool PlateContrastSearch { get; init; } = true;
    /// <summary>Neighbourhood radius of the contrast normalisation, as a share of the crop's short side (about a plate's height).</summary>
    public float PlateContrastRadius { get; init; } = 0.06f;
    /// <summary>
    /// The plate-zone fallback (default yes): a vehicle wide enough for its plate to be readable
    /// (<see cref="PlateReadableWidth"/>) whose plate zone holds no plate candidate gets the whole zone
    /// masked. Recall first: a plate no detector separates from its bumper is still covered.
    /// </summary>
    public bool PlateZoneFallback { get; init; } = true;
    /// <summary>Plate zone width, as a share of the vehicle box width, centred.</summary>
    public float PlateZoneWidth { get; init; } = 0.6f;
    /// <summary>Plate zone height: the lowest share of the vehicle box (plus 5 % of its height below it).</summary>
    public float PlateZoneHeight { get; init; } = 0.35f;
    /// <summary>
    /// Narrowest plate (px) counted as readable: vehicles whose expected plate (0.17 of the box width) is
    /// narrower get no fallback zone.
    /// </summary>
    public int PlateReadableWidth { get; init; } = 16;

    /// <summary>Text outside vehicles no taller than this fraction of the frame height is "small" (nameplates, house numbers).</summary>
    public float SmallTextMaxHeight { get; init; } = 0.05f;
    /// <summary>Mask small text outside vehicles (default yes).</summary>
    public bool MaskSmallText { get; init; } = true;
    /// <summary>Mask large text (signs) too (default no: signs are the map's purpose).</summary>
    public bool MaskLargeText { get; init; }
    /// <summary>Mask the head band of a person box that has no face detection (default yes).</summary>
    public bool MaskHeadBands { get; init; } = true;
    /// <summary>Head band height as a fraction of the person box.</summary>
    public float HeadBandFraction { get; init; } = 0.2f;
    /// <summary>Lowest YOLOX score of a person box taken as context.</summary>
    public float PersonScore { get; init; } = 0.25f;
    /// <summary>Lowest YOLOX score of a vehicle box taken as context.</summary>
    public float VehicleScore { get; init; } = 0.25f;

    /// <summary>A detection counts as masked when at least this fraction of its box lies under masks.</summary>
    public float CoveredFraction { get; init; } = 0.5f;
    /// <summary>Re-run the detectors on the masked image before release (always on in the engine; off only to measure).</summary>
    public bool OutputCheck { get; init; } = true;
    /// <summary>
    /// The output check re-runs the detectors only where the output differs from the input (the masks) or a
    /// detection was left unmasked, with a margin (default yes). Elsewhere the pixels are the ones the first
    /// pass already ruled on: face tiles and vehicle crops that touch no mask are byte-identical, so the same
    /// detector finds the same (masked) faces and plates; the whole-frame text pass becomes windows around
    /// the masks. Off = the detectors re-run on the whole output (about the first pass's cost again).
    /// </summary>
    public bool CheckChangedRegionsOnly { get; init; } = true;
    /// <summary>JPEG quantiser scale, 2 (best) .. 31 (smallest).</summary>
    public int JpegQScale { get; init; } = 3;
    /// <summary>
    /// Across frames: faces and plates are tracked (the engine's tracker on their boxes), and a track the
    /// detectors miss stays masked at its predicted position (hull with its last sighting, grown by
    /// <see cref="CarryMargin"/>) on the frames up to its last sighting + this many, so a detector that
    /// misses it for a frame or two never leaks it. Applies when frames come with their index, in order (0 = off).
    /// </summary>
    public int CarryFrames { get; init; } = 5;
    /// <summary>How much a carried box grows on each side per frame of age, as a share of its size (motion the prediction misses).</summary>
    public float CarryMargin { get; init; } = 0.1f;

    /// <summary>Test hook: the face at this index (after merging) is not masked in the first pass (-1 = none).</summary>
    internal int SkipFaceIndex { get; init; } = -1;
    /// <summary>Test hook: <see cref="SkipFaceIndex"/> applies only to the frame with this index (a detector that misses a face once).</summary>
    internal long? SkipOnlyOnFrame { get; init; }
    /// <summary>Test hook: instead of an index, the face whose box holds this point is the one not masked (a face that moves across frames).</summary>
    internal (float X, float Y)? SkipFaceContaining { get; init; }
    /// <summary>Test hook: the first pass masks no plates and no plate zones (a plate search that missed them all); the output check must catch them.</summary>
    internal bool SkipPlatesInFirstPass { get; init; }
    /// <summary>Test hook: the skipped face stays unmasked in the output check's re-mask too.</summary>
    internal bool SkipFaceOnRemask { get; init; }

    /// <summary>
    /// The options a manifest's <c>anonymise:</c> section sets (mask style, small text, large text, head
    /// bands, carry frames); everything else at its recall-first default. A manifest without the section gets the defaults.
    /// </summary>
    public static AnonymiseOptions FromManifest(Ephemera.Governance.CameraManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var s = manifest.Anonymise ?? Ephemera.Governance.AnonymiseSettings.Default;
        return new AnonymiseOptions
        {
            Mask = new MaskOptions(s.Mask == "solid_fill" ? MaskStyle.SolidFill : MaskStyle.Mosaic),
            MaskSmallText = s.MaskSmallText,
            MaskLargeText = s.MaskLargeText,
            MaskHeadBands = s.MaskHeadBands,
            CarryFrames = s.CarryFrames,
        };
    }

    /// <summary>Throws when a rule or setting is out of range or would weaken the guarantees.</summary>
    public void Validate()
    {
        Mask.Validate();
        if (FaceTileSize < 128 || FaceTileSize % 32 != 0) throw new EphemeraException($"anonymise: face tile size must be a multiple of 32, at least 128; got {FaceTileSize}");
        int smallest = FaceSmallTiles ? FaceTileSize / 2 : FaceTileSize;
        if (FaceTileOverlap < 32 || FaceTileOverlap > smallest / 2) throw new EphemeraException($"anonymise: face tile overlap must be 32..{smallest / 2} px (≥ the largest face a tile must catch); got {FaceTileOverlap}");
        Unit(YuNetScore, nameof(YuNetScore)); Unit(UltraFaceScore, nameof(UltraFaceScore)); Unit(TextScore, nameof(TextScore));
        Unit(PersonScore, nameof(PersonScore)); Unit(VehicleScore, nameof(VehicleScore)); Unit(EdgeVehicleScore, nameof(EdgeVehicleScore)); Unit(CoveredFraction, nameof(CoveredFraction));
        if (EdgeVehicleScore > VehicleScore) throw new EphemeraException($"anonymise: edge vehicle score must not exceed the vehicle score {VehicleScore}; got {EdgeVehicleScore}");
        if (TextMaxSide < 320 || TextMaxSide % 32 != 0) throw new EphemeraException($"anonymise: text max side must be a multiple of 32, at least 320; got {TextMaxSide}");
        if (VehicleCropSize < 128 || VehicleCropSize > 1280 || VehicleCropSize % 64 != 0) throw new EphemeraException($"anonymise: vehicle crop size must be a multiple of 64 in 128..1280; got {VehicleCropSize}");
        if (VehicleTileOverlap is < 32 or > 208) throw new EphemeraException($"anonymise: vehicle tile overlap must be 32..208 px (half the 416 px tile at most); got {VehicleTileOverlap}");
        if (PlateSearchMinSide is < 16 or > 1024) throw new EphemeraException($"anonymise: plate search min side must be 16..1024 px; got {PlateSearchMinSide}");
        if (UnderVehicleFraction is < 0 or > 0.5f) throw new EphemeraException($"anonymise: under-vehicle band must be 0..0.5 of the box; got {UnderVehicleFraction}");
        if (PlateContrastRadius is < 0.01f or > 0.5f) throw new EphemeraException($"anonymise: plate contrast radius must be 0.01..0.5 of the crop; got {PlateContrastRadius}");
        if (PlateZoneWidth is < 0.2f or > 1) throw new EphemeraException($"anonymise: plate zone width must be 0.2..1 of the vehicle box; got {PlateZoneWidth}");
        if (PlateZoneHeight is < 0.1f or > 1) throw new EphemeraException($"anonymise: plate zone height must be 0.1..1 of the vehicle box; got {PlateZoneHeight}");
        if (PlateReadableWidth is < 4 or > 512) throw new EphemeraException($"anonymise: plate readable width must be 4..512 px; got {PlateReadableWidth}");
        if (SmallTextMaxHeight is <= 0 or > 0.5f) throw new EphemeraException($"anonymise: small text height must be in (0, 0.5] of the frame; got {SmallTextMaxHeight}");
        if (HeadBandFraction is < 0.1f or > 0.5f) throw new EphemeraException($"anonymise: head band must be 0.1..0.5 of the person box; got {HeadBandFraction}");
        if (CarryFrames is < 0 or > 300) throw new EphemeraException($"anonymise: carry frames must be 0..300; got {CarryFrames}");
        if (CarryMargin is < 0 or > 1) throw new EphemeraException($"anonymise: carry margin must be 0..1; got {CarryMargin}");
        if (JpegQScale is < 2 or > 31) throw new EphemeraException($"anonymise: JPEG qscale must be 2..31; got {JpegQScale}");
        if (!WholeFrameText && MaskSmallText) throw new EphemeraException("anonymise: masking small text needs whole-frame text detection");

        static void Unit(float v, string name)
        {
            if (!(v > 0 && v < 1)) throw new EphemeraException($"anonymise: {name} must be in (0, 1); got {v}");
        }
    }
}
