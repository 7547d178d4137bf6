namespace Ephemera.Core;

/// <summary>
/// The categories case-3 counts are reported in (person, bicycle, motorbike, vehicle), mapped from
/// a detector's own classes. The map lives in the model manifest (<c>count_categories</c> in
/// <c>models/models.yaml</c>) because it is a property of the detector: which of its classes mean
/// a road user, and which it confuses for one. Classes listed as <i>with evidence</i> (for a COCO
/// detector looking down on a road: airplane, boat, train) count as their category only when the
/// track's size and motion are those of a road user; the line counter checks that.
/// Immutable; validated on construction.
/// </summary>
public sealed class CountCategories
{
    /// <summary>The reported categories, in output order.</summary>
    public static readonly string[] Names = ["person", "bicycle", "motorbike", "vehicle"];
    /// <summary>Index of "vehicle" in <see cref="Names"/>.</summary>
    public const int Vehicle = 3;

    private readonly int[] _category;    // detector class id → category index, -1 = not counted
    private readonly bool[] _evidence;   // class counts only with evidence

    /// <summary>
    /// The COCO map used when a model's manifest gives none (and the one the default YOLOX manifest
    /// spells out): person; bicycle; motorcycle → motorbike; car, bus, truck → vehicle; airplane,
    /// boat, train, cell phone → vehicle with evidence (YOLOX-Nano calls cars seen from above by
    /// these names).
    /// </summary>
    public static CountCategories Coco { get; } = new(CocoClasses.Names,
        new Dictionary<string, IReadOnlyList<string>>
        {
            ["person"] = ["person"], ["bicycle"] = ["bicycle"], ["motorbike"] = ["motorcycle"], ["vehicle"] = ["car", "bus", "truck"],
        },
        new Dictionary<string, IReadOnlyList<string>> { ["vehicle"] = ["airplane", "boat", "train", "cell phone"] },
        "the built-in COCO map");

    /// <param name="classNames">The detector's classes, by id.</param>
    /// <param name="direct">Category → detector class names that count as that category.</param>
    /// <param name="withEvidence">Category → detector class names that count only with size and motion evidence.</param>
    /// <param name="where">Names the source in errors (e.g. "models.yaml: model 'x'").</param>
    public CountCategories(IReadOnlyList<string> classNames, IReadOnlyDictionary<string, IReadOnlyList<string>> direct,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? withEvidence, string where)
    {
        _category = new int[classNames.Count];
        _evidence = new bool[classNames.Count];
        Array.Fill(_category, -1);
        void Add(IReadOnlyDictionary<string, IReadOnlyList<string>> map, bool evidence, string key)
        {
            foreach (var (cat, classes) in map)
            {
                int c = Array.IndexOf(Names, cat);
                if (c < 0) throw new EphemeraException($"{where}: {key}: '{cat}' is not a count category ({string.Join(", ", Names)})");
                foreach (var cls in classes)
                {
                    int id = -1;
                    for (int i = 0; i < classNames.Count; i++) if (classNames[i] == cls) { id = i; break; }
                    if (id < 0) throw new EphemeraException($"{where}: {key}.{cat}: '{cls}' is not one of the model's classes");
                    if (_category[id] >= 0) throw new EphemeraException($"{where}: {key}.{cat}: class '{cls}' is mapped twice");
                    _category[id] = c; _evidence[id] = evidence;
                }
            }
        }
        Add(direct, false, "count_categories");
        if (withEvidence != null) Add(withEvidence, true, "count_categories_with_evidence");
    }

    /// <summary>Category index of detector class <paramref name="classId"/>, or -1 when it is not counted.</summary>
    public int CategoryOf(int classId) => (uint)classId < (uint)_category.Length ? _category[classId] : -1;

    /// <summary>Whether <paramref name="classId"/> counts only with size and motion evidence.</summary>
    public bool NeedsEvidence(int classId) => (uint)classId < (uint)_evidence.Length && _evidence[classId];

    /// <summary>Whether <paramref name="classId"/> counts as a vehicle without evidence (the size reference for confused classes).</summary>
    public bool IsDirectVehicle(int classId) => CategoryOf(classId) == Vehicle && !NeedsEvidence(classId);
}
