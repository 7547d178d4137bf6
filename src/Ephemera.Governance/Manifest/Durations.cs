using System.Globalization;
using System.Text.RegularExpressions;

namespace Ephemera.Governance;

/// <summary>
/// Durations as written in manifests: <c>0</c>, <c>500ms</c>, <c>30s</c>, <c>15m</c>, <c>12h</c>,
/// <c>90d</c>, <c>2w</c>, <c>1y</c> (365 days). One unit per value, so a notice can print it back exactly.
/// </summary>
public static partial class Durations
{
    [GeneratedRegex(@"^\s*(\d+)\s*(ms|s|m|h|d|w|y)\s*$")]
    private static partial Regex Pattern();

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        if (text.Trim() == "0") { value = TimeSpan.Zero; return true; }
        var m = Pattern().Match(text);
        if (!m.Success || !long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long n)) return false;
        value = m.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n), "s" => TimeSpan.FromSeconds(n), "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n), "d" => TimeSpan.FromDays(n), "w" => TimeSpan.FromDays(7 * n), _ => TimeSpan.FromDays(365 * n),
        };
        return true;
    }

    /// <summary>Human text in the notice language: "90日間" / "90 days"; zero is "保存しません" / "not stored".</summary>
    public static string Format(TimeSpan t, NoticeLanguage lang)
    {
        bool ja = lang == NoticeLanguage.Ja;
        if (t == TimeSpan.Zero) return ja ? "保存しません（処理後ただちに消去）" : "not stored (erased immediately after processing)";
        (long n, string ja1, string en1) = t switch
        {
            _ when t.TotalDays >= 365 && t.TotalDays % 365 == 0 => ((long)(t.TotalDays / 365), "年間", "year"),
            _ when t.TotalDays >= 1 && t.TotalDays % 1 == 0 => ((long)t.TotalDays, "日間", "day"),
            _ when t.TotalHours >= 1 && t.TotalHours % 1 == 0 => ((long)t.TotalHours, "時間", "hour"),
            _ when t.TotalMinutes >= 1 && t.TotalMinutes % 1 == 0 => ((long)t.TotalMinutes, "分間", "minute"),
            _ when t.TotalSeconds >= 1 && t.TotalSeconds % 1 == 0 => ((long)t.TotalSeconds, "秒間", "second"),
            _ => ((long)t.TotalMilliseconds, "ミリ秒", "millisecond"),
        };
        return ja ? $"{n}{ja1}" : $"{n} {en1}{(n == 1 ? "" : "s")}";
    }

    /// <summary>Short form for bins and reports: "1h", "15m".</summary>
    public static string Short(TimeSpan t) =>
        t == TimeSpan.Zero ? "0" :
        t.TotalDays % 1 == 0 ? $"{t.TotalDays:0}d" :
        t.TotalHours % 1 == 0 ? $"{t.TotalHours:0}h" :
        t.TotalMinutes % 1 == 0 ? $"{t.TotalMinutes:0}m" :
        t.TotalSeconds % 1 == 0 ? $"{t.TotalSeconds:0}s" : $"{t.TotalMilliseconds:0}ms";
}
