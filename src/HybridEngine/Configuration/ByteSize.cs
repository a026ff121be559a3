using System.Globalization;

namespace HybridEngine.Configuration;

/// <summary>Parses and prints byte sizes as the command line accepts them: <c>512M</c>, <c>4G</c>, <c>1.5GiB</c>, <c>1024</c>.</summary>
public static class ByteSize
{
    /// <summary>K/M/G/T (with or without B or iB) are binary multiples (1024-based), as llama.cpp users expect.</summary>
    public static long Parse(string text, string what = "size")
    {
        if (TryParse(text, out long bytes)) return bytes;
        throw new FormatException($"{what} '{text}' is not a size; use a number of bytes or a suffix such as 512M, 4G or 1.5GiB");
    }

    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        string s = text.Trim();
        int end = s.Length;
        while (end > 0 && char.IsLetter(s[end - 1])) end--;
        string number = s[..end].Trim();
        string unit = s[end..].ToUpperInvariant();
        double multiplier = unit switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => 0,
        };
        if (multiplier == 0) return false;
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)) return false;
        double total = value * multiplier;
        if (double.IsNaN(total) || total < 0 || total > long.MaxValue) return false;
        bytes = (long)Math.Round(total);
        return true;
    }

    /// <summary>A short human form: 1.50 GiB, 12.0 MiB, 512 B.</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : v.ToString(v >= 100 ? "F0" : v >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture) + " " + units[u];
    }
}
