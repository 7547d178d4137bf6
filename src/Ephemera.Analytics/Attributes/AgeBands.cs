using Ephemera.Core;

namespace Ephemera.Analytics.Attributes;

/// <summary>
/// Age bands of the attribute aggregate: everyone under <see cref="MergeUnder"/> in one band (minors
/// are not split by default), then bands <see cref="Years"/> wide on multiples of the width (the
/// first adult band runs from <see cref="MergeUnder"/> to the first multiple at least one width
/// above it: 18–29 for 10-year bands), and an open top band from <see cref="OpenFrom"/>.
/// </summary>
public sealed class AgeBands
{
    public int Years { get; }
    public int MergeUnder { get; }
    public int OpenFrom { get; }
    /// <summary>Lower edges of the bands, ascending (the first is 0).</summary>
    public IReadOnlyList<int> Edges { get; }
    /// <summary>Labels: "0-17", "18-29", …, "70+".</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <param name="years">band width from the manifest (<c>privacy.age_band_years</c>, at least 5).</param>
    /// <param name="mergeUnder">ages below this share one band (18: minors are never split).</param>
    /// <param name="openFrom">ages from this on share the top band.</param>
    public AgeBands(int years, int mergeUnder = 18, int openFrom = 70)
    {
        if (years < 5) throw new EphemeraException($"H3: age bands must be at least 5 years wide, got {years}");
        if (mergeUnder < 0 || openFrom <= mergeUnder) throw new EphemeraException($"age bands: merge-under {mergeUnder} must be below the open top band {openFrom}");
        Years = years; MergeUnder = mergeUnder; OpenFrom = openFrom;
        var edges = new List<int> { 0 };
        if (mergeUnder > 0) edges.Add(mergeUnder);
        int next = (mergeUnder + years + years - 1) / years * years;
        for (; next < openFrom; next += years) edges.Add(next);
        if (edges[^1] < openFrom) edges.Add(openFrom);
        Edges = edges;
        Labels = edges.Select((e, i) => i + 1 < edges.Count ? $"{e}-{edges[i + 1] - 1}" : $"{e}+").ToArray();
    }

    /// <summary>The band index of an age in years (negative ages count as 0).</summary>
    public int IndexOf(double age)
    {
        for (int i = Edges.Count - 1; i > 0; i--) if (age >= Edges[i]) return i;
        return 0;
    }
}
