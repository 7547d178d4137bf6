using System.Text.Json;
using Ephemera.Core;

namespace Ephemera.Analytics;

/// <summary>
/// One storable output cell, flat and uniform so the governance layer can gate it by
/// <see cref="DataClass"/>, k-suppress it (counts are in <see cref="Json"/>), stamp retention and
/// store it. <see cref="Source"/> names what produced it (<c>line:NAME</c>, <c>zone:NAME</c>,
/// <c>flow</c>, <c>flow:PLACE</c>, <c>crowd</c>, <c>crowd:ZONE</c>). The bin bounds are seconds of
/// stream time; cumulative outputs (heat map) use −∞ … +∞. <see cref="Png"/> is set only for the
/// image classes (<see cref="DataClass.IconImage"/>, <see cref="DataClass.HeatMap"/>).
/// </summary>
public sealed record AnalyticsRecord(DataClass DataClass, string Source, double BinStartSeconds, double BinEndSeconds, string Json, byte[]? Png = null);

public static class AnalyticsRecords
{
    /// <summary>Flattens results into storable records (one per time bin × line/zone/place, per image).</summary>
    public static IEnumerable<AnalyticsRecord> Records(this PurposeResults r)
    {
        foreach (var l in r.Lines)
            foreach (var b in l.Bins)
                yield return new(DataClass.Count, "line:" + l.Name, b.BinStartSeconds, b.BinEndSeconds, Analytics.Json.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("line"); w.WriteNumberValue(l.Start.X); w.WriteNumberValue(l.Start.Y); w.WriteNumberValue(l.End.X); w.WriteNumberValue(l.End.Y); w.WriteEndArray();
                    w.WriteString("class", b.Class); w.WriteNumber("in", b.In); w.WriteNumber("out", b.Out);
                    w.WriteEndObject();
                }));
        if (r.Zones != null)
            foreach (var z in r.Zones.Zones)
            {
                foreach (var o in z.Occupancy)
                    yield return new(DataClass.ZoneOccupancy, "zone:" + z.Name, o.BinStartSeconds, o.BinEndSeconds, Analytics.Json.Write(w =>
                    {
                        w.WriteStartObject();
                        w.WriteNumber("mean", Math.Round(o.MeanOccupancy, 4)); w.WriteNumber("max", o.MaxOccupancy); w.WriteNumber("frames", o.Frames);
                        w.WriteEndObject();
                    }));
                foreach (var d in z.DwellBins)
                    yield return new(DataClass.DwellHistogram, "zone:" + z.Name, d.BinStartSeconds, d.BinEndSeconds, Analytics.Json.Write(d.WriteJson));
            }
        if (r.Flow != null)
        {
            foreach (var m in r.Flow.Transitions)
                yield return new(DataClass.TransitionMatrix, "flow", m.BinStartSeconds, m.BinEndSeconds, Analytics.Json.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("cells");
                    foreach (var c in m.Cells) { w.WriteStartObject(); w.WriteString("from", c.From); w.WriteString("to", c.To); w.WriteNumber("count", c.Count); w.WriteEndObject(); }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }));
            foreach (var d in r.Flow.Dwell)
                yield return new(DataClass.DwellHistogram, "flow:" + d.Zone, d.BinStartSeconds, d.BinEndSeconds, Analytics.Json.Write(d.WriteJson));
            if (r.Flow.Trajectories != null)
                foreach (var t in r.Flow.Trajectories)
                    yield return new(DataClass.Trajectory, "flow", t.Stays[0].EnterSeconds, t.Stays[^1].LastSeconds, Analytics.Json.Write(w =>
                    {
                        w.WriteStartObject();
                        w.WriteString("visit", t.VisitId);
                        w.WriteStartArray("stays");
                        foreach (var s in t.Stays) { w.WriteStartObject(); w.WriteString("place", s.Place); w.WriteNumber("enter_s", s.EnterSeconds); w.WriteNumber("last_s", s.LastSeconds); w.WriteEndObject(); }
                        w.WriteEndArray();
                        w.WriteEndObject();
                    }));
        }
        if (r.HeatMap is { } h)
            yield return new(DataClass.HeatMap, "flow", double.NegativeInfinity, double.PositiveInfinity, h.ToJson(), h.RenderPng());
        if (r.Crowd is { } c)
        {
            yield return new(DataClass.IconImage, "crowd", c.TimeSeconds, c.TimeSeconds, c.ToJson(), c.Png);
            foreach (var l in c.Levels)
                yield return new(DataClass.CrowdLevel, "crowd:" + l.Zone, c.TimeSeconds, c.TimeSeconds, Analytics.Json.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteNumber("people", l.People); w.WriteNumber("people_per_m2", l.PeoplePerSquareMetre); w.WriteString("level", l.Level);
                    w.WriteEndObject();
                }));
        }
    }
}
