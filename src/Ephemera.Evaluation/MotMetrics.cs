namespace Ephemera.Evaluation;

/// <summary>
/// Tracking metrics of one sequence or of several combined. HOTA, DetA, AssA and LocA are the
/// means over the 19 localisation thresholds alpha = 0.05 … 0.95 (Luiten et al., IJCV 2021).
/// CLEAR MOT and identity metrics use IoU ≥ 0.5, as py-motmetrics does; MOTP is the mean
/// (1 − IoU) over matches, py-motmetrics' convention (lower is better).
/// </summary>
public sealed record MotMetrics(
    double Hota, double DetA, double AssA, double LocA,
    double Mota, double Motp, double Idf1, double Idp, double Idr,
    int Idsw, int Frag, int Mt, int Pt, int Ml, int Fp, int Fn,
    double Recall, double Precision,
    /// <summary>Ground-truth boxes evaluated (rows with confidence 0 excluded).</summary>
    int GtBoxes,
    /// <summary>Distinct ground-truth identities.</summary>
    int GtIds,
    /// <summary>Result boxes evaluated (after removing those on ignored ground-truth regions).</summary>
    int ResultBoxes,
    /// <summary>Distinct result identities.</summary>
    int ResultIds);
