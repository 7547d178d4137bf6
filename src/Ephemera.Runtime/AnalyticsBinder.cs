using Ephemera.Analytics;
using Ephemera.Config;
using Ephemera.Core;
using Ephemera.Governance;

namespace Ephemera.Runtime;

/// <summary>
/// Turns a camera's analytics config into the analysers its purpose needs, with time bins taken
/// from the manifest (the manifest, not the config, decides how coarse stored data is), and lists
/// the data classes that pipeline produces so the manifest gate can refuse undeclared ones (M2).
/// </summary>
public static class AnalyticsBinder
{
    /// <param name="Anonymise">The camera's purpose is case 4: its frames go through the street anonymiser (a pixel stage).</param>
    public sealed record Binding(PurposeAnalyticsOptions Options, IReadOnlyList<DataClass> Produces, bool Anonymise = false);

    /// <param name="categories">How the detector's classes map to count categories (its model manifest's map; default COCO).</param>
    public static Binding Bind(CameraConfig camera, CameraManifest manifest, CountCategories? categories = null)
    {
        var a = camera.Analytics;
        double bin = manifest.Privacy.TimeBin.TotalSeconds;
        var produces = new List<DataClass> { DataClass.RawFrame, DataClass.Track };

        var lines = a.Lines.Select(l => new CountingLineOptions(new Point2(l.X1, l.Y1), new Point2(l.X2, l.Y2),
            timeBinSeconds: bin, name: l.Name, categories: categories)).ToList();
        if (lines.Count > 0) produces.Add(DataClass.Count);

        var imageZones = a.Zones.Where(z => !z.FloorCoordinates)
            .Select(z => new ZoneOptions(z.Name, new Polygon(z.Polygon.Select(p => new Point2(p.X, p.Y))), z.ShelfFront)).ToList();
        // Case 1: an image zone is the entrance (only tracks seen in it are visitors), not an occupancy zone.
        Polygon? entrance = null;
        if (manifest.Kind == PurposeKind.Case1 && imageZones.Count > 0)
        {
            if (imageZones.Count > 1) throw new EphemeraException($"camera {camera.Id}: a case-1 camera takes one image zone (its entrance), got {imageZones.Count}");
            entrance = imageZones[0].Polygon;
            imageZones.Clear();
        }
        ZoneAnalyserOptions? zones = null;
        if (imageZones.Count > 0)
        {
            zones = new ZoneAnalyserOptions(imageZones, timeBinSeconds: bin);
            produces.Add(DataClass.ZoneOccupancy);
            if (manifest.Declares(DataClass.DwellHistogram)) produces.Add(DataClass.DwellHistogram);
        }

        FloorFlowOptions? flow = null;
        CrowdIconOptions? crowd = null;
        if (a.Calibration.Count >= 4)
        {
            var h = Homography.FromPointPairs(
                a.Calibration.Select(c => new Point2(c.ImageX, c.ImageY)).ToList(),
                a.Calibration.Select(c => new Point2(c.FloorX, c.FloorY)).ToList());
            var size = a.FloorSize ?? throw new EphemeraException($"camera {camera.Id}: analytics.floor_size is required with a calibration");
            var floorZones = a.Zones.Where(z => z.FloorCoordinates)
                .Select(z => new FloorZone(z.Name, new Polygon(z.Polygon.Select(p => new Point2(p.X, p.Y))))).ToList();
            var plan = new FloorPlan(size[0], size[1], floorZones);
            if (manifest.Kind == PurposeKind.Case2)
            {
                flow = new FloorFlowOptions(h, plan, timeBinSeconds: bin, emitTrajectories: manifest.Privacy.StoreTrajectories);
                produces.Add(DataClass.TransitionMatrix);
                produces.Add(DataClass.DwellHistogram);
                if (manifest.Privacy.StoreTrajectories) produces.Add(DataClass.Trajectory);
                if (manifest.Declares(DataClass.HeatMap)) produces.Add(DataClass.HeatMap);
            }
            if (manifest.Kind == PurposeKind.Case5)
            {
                crowd = new CrowdIconOptions(h, plan, intervalSeconds: a.IconIntervalSeconds);
                produces.Add(DataClass.IconImage);
                produces.Add(DataClass.CrowdLevel);
            }
        }
        // Case 4: the anonymised street image is the output; the manifest must declare it (M2, checked by the caller).
        bool anonymise = manifest.Kind == PurposeKind.Case4;
        if (anonymise) produces.Add(DataClass.AnonymisedImage);
        // Case 1: face crops and age/sex estimates (FeatureVector, memory only) become the visitor aggregate;
        // bands from the manifest (privacy.age_band_years), so the manifest decides how coarse they are.
        Analytics.Attributes.VisitorAttributeOptions? attributes = null;
        if (manifest.Kind == PurposeKind.Case1)
        {
            attributes = new Analytics.Attributes.VisitorAttributeOptions(new Analytics.Attributes.AgeBands(manifest.Privacy.AgeBandYears), bin, entrance: entrance);
            produces.Add(DataClass.FeatureVector);
            produces.Add(DataClass.AttributeAggregate);
        }
        return new Binding(new PurposeAnalyticsOptions(lines, zones, flow, crowd, attributes), produces.Distinct().ToList(), anonymise);
    }

    /// <summary>
    /// The pixel stages a camera's purpose needs on its held frames: case 4's street anonymiser (its
    /// rules from the manifest's <c>anonymise:</c> section; each released image goes to
    /// <paramref name="release"/>), case 1's face stage (estimates go to <paramref name="attributes"/>).
    /// None for the other purposes.
    /// </summary>
    public static IReadOnlyList<IPixelStage> PixelStagesFor(Binding binding, CameraManifest manifest, EngineOptions engine,
        Func<DateTimeOffset> clock, Action<Governance.Records.DerivedRecord> release,
        Func<Analytics.Attributes.VisitorAttributeAnalyser?>? attributes = null)
    {
        if (binding.Options.Attributes != null)
        {
            // Case 1: faces in the person boxes → age/sex estimates, posted to the camera's attribute analyser
            // (looked up at each estimate: the analyser is made with the camera worker, after this stage).
            if (attributes is null) throw new ArgumentNullException(nameof(attributes), "a case-1 camera needs its attribute analyser");
            return [new Inference.Attributes.FaceAttributeStage(new Inference.Attributes.FaceAttributeOptions(),
                new Inference.Runtime.InferenceOptions(engine.Provider, 1, parallelRuns: 1),
                o => attributes()?.Post(o.PersonBox, o.Age, o.MaleProbability, o.Quality), engine.ModelsDirectory)];
        }
        if (!binding.Anonymise) return [];
        var anonymiser = new Anonymisation.StreetAnonymiser(manifest, Anonymisation.AnonymiseOptions.FromManifest(manifest),
            new Inference.Runtime.InferenceOptions(engine.Provider, 1, parallelRuns: 1), engine.ModelsDirectory);
        return [new Anonymisation.AnonymiserStage(anonymiser, release, clock: clock, ownsAnonymiser: true)];
    }
}
