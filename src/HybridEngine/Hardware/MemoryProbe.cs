using System.Globalization;

namespace HybridEngine.Hardware;

/// <summary>Memory facts from /proc/meminfo, /sys/devices/system/memory and the transparent-huge-page switch.</summary>
internal static class MemoryProbe
{
    private const long GiB = 1L << 30;

    public static MemoryInfo Probe(ISystemFiles files)
    {
        var parsed = ParseMemInfo(files.ReadText("/proc/meminfo"));
        long? Get(string key) => parsed.TryGetValue(key, out long v) ? v : null;
        long? total = Get("MemTotal");
        long installed = InstalledFromBlocks(files)
            ?? (total is long t ? (t + GiB - 1) / GiB * GiB : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
        return new MemoryInfo(
            InstalledBytes: installed,
            TotalBytes: total,
            AvailableBytes: Get("MemAvailable"),
            PageSize: Environment.SystemPageSize,
            HugePageSize: Get("Hugepagesize"),
            TransparentHugePages: Bracketed(files.ReadText("/sys/kernel/mm/transparent_hugepage/enabled")) ?? HardwareSnapshot.Unknown,
            SwapTotalBytes: Get("SwapTotal"),
            SwapFreeBytes: Get("SwapFree"));
    }

    /// <summary>
    /// Memory-hotplug blocks: their count × block size is the RAM the machine was given, exactly and the same on
    /// every boot (MemTotal drifts by megabytes with kernel version and reservations, which would break fingerprints).
    /// </summary>
    private static long? InstalledFromBlocks(ISystemFiles files)
    {
        string? sizeText = files.ReadText("/sys/devices/system/memory/block_size_bytes")?.Trim();
        if (sizeText is null || !long.TryParse(sizeText, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long blockBytes) || blockBytes <= 0) return null;
        int online = 0;
        foreach (string name in files.List("/sys/devices/system/memory").Where(n => n.StartsWith("memory", StringComparison.Ordinal)))
        {
            // A block without an "online" file cannot be offlined and is always online.
            string? state = files.ReadText($"/sys/devices/system/memory/{name}/online")?.Trim();
            if (state is null or "1") online++;
        }
        return online > 0 ? online * blockBytes : null;
    }

    /// <summary>"MemTotal:  24684092 kB" lines → bytes by key.</summary>
    internal static Dictionary<string, long> ParseMemInfo(string? text)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in (text ?? "").Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon < 0) continue;
            string[] parts = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || !long.TryParse(parts[0], CultureInfo.InvariantCulture, out long n)) continue;
            long unit = parts.Length > 1 && parts[1] == "kB" ? 1024 : 1;
            values[line[..colon].Trim()] = n * unit;
        }
        return values;
    }

    /// <summary>"always [madvise] never" → "madvise".</summary>
    internal static string? Bracketed(string? text)
    {
        if (text is null) return null;
        int open = text.IndexOf('['), close = text.IndexOf(']');
        return open >= 0 && close > open ? text[(open + 1)..close] : null;
    }
}
