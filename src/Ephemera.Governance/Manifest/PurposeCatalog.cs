using Ephemera.Core;

namespace Ephemera.Governance;

/// <summary>
/// What each of the five cases may produce (REQUIREMENTS.md "The five cases") and which purposes the
/// engine refuses (G2/G3, ver2.0 repeat-visitor analysis).
/// </summary>
public static class PurposeCatalog
{
    /// <summary>Classes the pipeline of a case always produces: the manifest must declare each (M2).</summary>
    public static IReadOnlyList<DataClass> Required(PurposeKind kind) => kind switch
    {
        PurposeKind.Case1 => [DataClass.RawFrame, DataClass.FeatureVector, DataClass.Track, DataClass.AttributeAggregate, DataClass.AuditRecord],
        PurposeKind.Case2 => [DataClass.RawFrame, DataClass.FeatureVector, DataClass.Track, DataClass.AuditRecord],
        PurposeKind.Case3 => [DataClass.RawFrame, DataClass.Track, DataClass.Count, DataClass.AuditRecord],
        PurposeKind.Case4 => [DataClass.RawFrame, DataClass.AnonymisedImage, DataClass.AuditRecord],
        PurposeKind.Case5 => [DataClass.RawFrame, DataClass.Track, DataClass.IconImage, DataClass.CrowdLevel, DataClass.AuditRecord],
        _ => [],
    };

    /// <summary>Further classes a case may declare.</summary>
    public static IReadOnlyList<DataClass> Optional(PurposeKind kind) => kind switch
    {
        PurposeKind.Case1 => [DataClass.Count, DataClass.CrowdLevel],
        PurposeKind.Case2 => [DataClass.Trajectory, DataClass.ZoneOccupancy, DataClass.DwellHistogram, DataClass.TransitionMatrix, DataClass.HeatMap, DataClass.Count],
        PurposeKind.Case3 => [DataClass.ZoneOccupancy, DataClass.CrowdLevel],
        PurposeKind.Case4 => [DataClass.Track, DataClass.Count],
        PurposeKind.Case5 => [DataClass.Count, DataClass.ZoneOccupancy],
        _ => [],
    };

    /// <summary>Case 2 must store at least one of these flow outputs.</summary>
    public static readonly IReadOnlyList<DataClass> Case2FlowOutputs =
        [DataClass.Trajectory, DataClass.ZoneOccupancy, DataClass.DwellHistogram, DataClass.TransitionMatrix, DataClass.HeatMap];

    /// <summary>Classes that hold pixels, identifying features or per-person ids: memory only, retention 0 (H1).</summary>
    public static bool IsMemoryOnly(DataClass c) => c is DataClass.RawFrame or DataClass.FeatureVector or DataClass.Track;

    /// <summary>Classes kept as "latest only" (each new item overwrites the last).</summary>
    public static bool IsLatestOnly(DataClass c) => c is DataClass.IconImage;

    /// <summary>Purpose kinds written in a manifest that the engine refuses, with the requirement they break.</summary>
    public static readonly IReadOnlyDictionary<string, string> RefusedKinds = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["security"] = "G3", ["crime-prevention"] = "G3", ["surveillance"] = "G3",
        ["face-recognition"] = "G3", ["identification"] = "G2", ["individual-identification"] = "G2",
        ["repeat-visitor"] = "G2", ["repeat-visitor-analysis"] = "G2",
    };

    /// <summary>
    /// Words in purpose or benefit text that reveal a refused purpose, Japanese and English. Matching is
    /// plain substring (case-insensitive): negations are not parsed, so say what the engine does not do in
    /// the identifiability explanation, not in the purpose.
    /// </summary>
    public static readonly IReadOnlyList<(string Word, string Requirement, string Reason)> RefusedWords =
    [
        ("防犯", "G3", "security / crime prevention"), ("犯罪", "G3", "security / crime prevention"),
        ("万引", "G3", "security / crime prevention"), ("不審者", "G3", "security / crime prevention"),
        ("監視", "G3", "surveillance"), ("顔認証", "G3", "face recognition"), ("顔認識", "G3", "face recognition"),
        ("個人を特定", "G2", "identifying individuals"), ("個人の特定", "G2", "identifying individuals"),
        ("個人を識別", "G2", "identifying individuals"), ("本人確認", "G2", "identifying individuals"),
        ("再来店", "G2", "repeat-visitor analysis"), ("リピーター", "G2", "repeat-visitor analysis"), ("来店履歴", "G2", "repeat-visitor analysis"),
        ("security", "G3", "security / crime prevention"), ("crime", "G3", "security / crime prevention"),
        ("theft", "G3", "security / crime prevention"), ("shoplift", "G3", "security / crime prevention"),
        ("surveillance", "G3", "surveillance"), ("suspicious", "G3", "security / crime prevention"),
        ("face recognition", "G3", "face recognition"), ("facial recognition", "G3", "face recognition"),
        ("face matching", "G3", "face recognition"), ("watchlist", "G3", "face recognition"),
        ("identify individuals", "G2", "identifying individuals"), ("identifying individuals", "G2", "identifying individuals"),
        ("identification of individuals", "G2", "identifying individuals"), ("identify each", "G2", "identifying individuals"),
        ("repeat visitor", "G2", "repeat-visitor analysis"), ("repeat-visitor", "G2", "repeat-visitor analysis"),
        ("returning customer", "G2", "repeat-visitor analysis"), ("returning visitor", "G2", "repeat-visitor analysis"),
    ];

    /// <summary>The refused purposes found in a text: (requirement id, reason, word).</summary>
    public static IEnumerable<(string Requirement, string Reason, string Word)> FindRefusedWords(string text)
    {
        foreach (var (word, req, reason) in RefusedWords)
            if (text.Contains(word, StringComparison.OrdinalIgnoreCase)) yield return (req, reason, word);
    }

    /// <summary>Name of a data class in notices.</summary>
    public static string Name(DataClass c, NoticeLanguage lang) => lang == NoticeLanguage.Ja ? c switch
    {
        DataClass.RawFrame => "撮影画像",
        DataClass.FeatureVector => "特徴量データ（属性推定・位置計算のための中間データ）",
        DataClass.Track => "画面内の一時的な追跡データ",
        DataClass.Trajectory => "動線データ（粗い区画・時間帯に丸めたもの）",
        DataClass.Count => "通行数（人・自転車・車の数）",
        DataClass.ZoneOccupancy => "エリアごとの滞在人数",
        DataClass.DwellHistogram => "滞在時間の分布",
        DataClass.TransitionMatrix => "エリア間の移動人数の集計",
        DataClass.HeatMap => "混み具合のヒートマップ",
        DataClass.AttributeAggregate => "年代・性別ごとの人数の集計",
        DataClass.IconImage => "人物をアイコンに置き換えた画像",
        DataClass.CrowdLevel => "混雑度",
        DataClass.AnonymisedImage => "顔や表札・ナンバープレートを判読できないよう加工した画像",
        DataClass.AuditRecord => "画像消去の処理記録（監査ログ）",
        _ => c.ToString(),
    } : c switch
    {
        DataClass.RawFrame => "camera images",
        DataClass.FeatureVector => "feature data (intermediate values for estimating attributes or positions)",
        DataClass.Track => "short-lived on-screen tracks",
        DataClass.Trajectory => "flow lines (snapped to coarse areas and time bins)",
        DataClass.Count => "counts of people, bicycles and cars",
        DataClass.ZoneOccupancy => "number of people per area",
        DataClass.DwellHistogram => "distribution of dwell times",
        DataClass.TransitionMatrix => "counts of movements between areas",
        DataClass.HeatMap => "crowding heat map",
        DataClass.AttributeAggregate => "counts by age band and sex",
        DataClass.IconImage => "images in which people are replaced by icons",
        DataClass.CrowdLevel => "crowd level",
        DataClass.AnonymisedImage => "images with faces, nameplates and licence plates made unreadable",
        DataClass.AuditRecord => "records proving image erasure (audit log)",
        _ => c.ToString(),
    };
}
