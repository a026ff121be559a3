using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using HybridEngine.Kernels;

namespace HybridEngine.Hardware;

/// <summary>CPU facts from /proc/cpuinfo and /sys/devices/system/{cpu,node}, with .NET's own detection as the fallback.</summary>
internal static class CpuProbe
{
    /// <summary>cpuinfo flag → the name the snapshot uses, for the instruction sets kernels care about.</summary>
    private static readonly (string Flag, string Name)[] FlagNames =
    [
        ("sse4_2", "sse4.2"), ("avx", "avx"), ("avx2", "avx2"), ("fma", "fma"), ("f16c", "f16c"),
        ("avx512f", "avx512f"), ("avx512bw", "avx512bw"), ("avx512vl", "avx512vl"), ("avx512_vnni", "avx512vnni"),
        ("avx512_bf16", "avx512bf16"), ("avx512_fp16", "avx512fp16"), ("avx_vnni", "avxvnni"),
        ("amx_tile", "amx-tile"), ("amx_int8", "amx-int8"), ("amx_bf16", "amx-bf16"),
        // Arm (the "Features" line)
        ("asimd", "neon"), ("asimddp", "dotprod"), ("asimdhp", "fp16"), ("i8mm", "i8mm"), ("bf16", "bf16"),
        ("sve", "sve"), ("sve2", "sve2"),
    ];

    public static CpuInfo Probe(ISystemFiles files)
    {
        var blocks = ParseCpuInfo(files.ReadText("/proc/cpuinfo"));
        var first = blocks.Count > 0 ? blocks[0] : new Dictionary<string, string>();

        string vendor = first.GetValueOrDefault("vendor_id") ?? ArmVendor(first.GetValueOrDefault("CPU implementer")) ?? HardwareSnapshot.Unknown;
        string model = first.GetValueOrDefault("model name") ?? ArmModel(first) ?? HardwareSnapshot.Unknown;

        var online = ParseCpuList(files.ReadText("/sys/devices/system/cpu/online"));
        int logical = online.Count > 0 ? online.Count : blocks.Count > 0 ? blocks.Count : Environment.ProcessorCount;

        // Cores are distinct (package, core) pairs: from sysfs topology, else from cpuinfo's "physical id" / "core id".
        var cores = new HashSet<(string, string)>();
        var packages = new HashSet<string>();
        foreach (int cpu in online)
        {
            string dir = $"/sys/devices/system/cpu/cpu{cpu}/topology/";
            string? package = files.ReadText(dir + "physical_package_id")?.Trim();
            string? core = files.ReadText(dir + "core_id")?.Trim();
            if (package is null || core is null) { cores.Clear(); packages.Clear(); break; }
            cores.Add((package, core));
            packages.Add(package);
        }
        if (cores.Count == 0)
        {
            foreach (var b in blocks)
            {
                if (b.TryGetValue("physical id", out var package) && b.TryGetValue("core id", out var core))
                {
                    cores.Add((package, core));
                    packages.Add(package);
                }
            }
        }
        int? physical = cores.Count > 0 ? cores.Count : null;
        int? sockets = packages.Count > 0 ? packages.Count : null;
        bool? smt = physical is int p ? logical > p : null;

        var nodes = files.List("/sys/devices/system/node").Count(n => n.StartsWith("node", StringComparison.Ordinal) && n.Length > 4 && char.IsAsciiDigit(n[4]));

        var flags = (first.GetValueOrDefault("flags") ?? first.GetValueOrDefault("Features") ?? "")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var runtimeSets = RuntimeInstructionSets();
        var sets = flags.Count > 0
            ? FlagNames.Where(f => flags.Contains(f.Flag)).Select(f => f.Name).Distinct().Order(StringComparer.Ordinal).ToImmutableArray()
            : runtimeSets;

        return new CpuInfo(
            Vendor: vendor,
            Model: model,
            Architecture: RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(),
            Sockets: sockets,
            PhysicalCores: physical,
            LogicalCores: logical,
            AvailableProcessors: Environment.ProcessorCount,
            Smt: smt,
            NumaNodes: nodes > 0 ? nodes : null,
            Caches: Caches(files, online.Count > 0 ? online[0] : 0),
            BaseMhz: Khz(files, "base_frequency") ?? BaseFromCpuInfo(first),
            MaxMhz: Khz(files, "cpuinfo_max_freq"),
            InstructionSets: sets,
            RuntimeInstructionSets: runtimeSets,
            SimdPath: Simd.Best.ToString().ToLowerInvariant());
    }

    /// <summary>The instruction sets .NET reports as usable in this process.</summary>
    public static ImmutableArray<string> RuntimeInstructionSets()
    {
        var sets = new List<string>();
        if (Sse42.IsSupported) sets.Add("sse4.2");
        if (Avx.IsSupported) sets.Add("avx");
        if (Avx2.IsSupported) sets.Add("avx2");
        if (Fma.IsSupported) sets.Add("fma");
        if (Avx512F.IsSupported) sets.Add("avx512f");
        if (Avx512BW.IsSupported) sets.Add("avx512bw");
        if (Avx512F.VL.IsSupported) sets.Add("avx512vl");
        if (AvxVnni.IsSupported) sets.Add("avxvnni");
        if (AdvSimd.IsSupported) sets.Add("neon");
        if (Dp.IsSupported) sets.Add("dotprod");
        if (Vector512.IsHardwareAccelerated) sets.Add("vector512");
        return sets.Order(StringComparer.Ordinal).ToImmutableArray();
    }

    private static ImmutableArray<CacheInfo> Caches(ISystemFiles files, int cpu)
    {
        string root = $"/sys/devices/system/cpu/cpu{cpu}/cache";
        var caches = new List<CacheInfo>();
        foreach (string index in files.List(root).Where(n => n.StartsWith("index", StringComparison.Ordinal)))
        {
            string dir = $"{root}/{index}/";
            if (!int.TryParse(files.ReadText(dir + "level")?.Trim(), CultureInfo.InvariantCulture, out int level)) continue;
            long? size = ParseCacheSize(files.ReadText(dir + "size"));
            if (size is null) continue;
            string type = (files.ReadText(dir + "type")?.Trim() ?? HardwareSnapshot.Unknown).ToLowerInvariant();
            int shared = ParseCpuList(files.ReadText(dir + "shared_cpu_list")).Count;
            caches.Add(new CacheInfo(level, type, size.Value, Math.Max(shared, 1)));
        }
        return caches.OrderBy(c => c.Level).ThenBy(c => c.Type, StringComparer.Ordinal).ToImmutableArray();
    }

    /// <summary>"32K", "1024K", "30M" → bytes.</summary>
    internal static long? ParseCacheSize(string? text)
    {
        text = text?.Trim();
        if (string.IsNullOrEmpty(text)) return null;
        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
        string digits = unit == 1 ? text : text[..^1];
        return long.TryParse(digits, CultureInfo.InvariantCulture, out long n) && n > 0 ? n * unit : null;
    }

    /// <summary>"0-3,8,10-11" → the listed CPU numbers, ascending.</summary>
    internal static List<int> ParseCpuList(string? text)
    {
        var cpus = new List<int>();
        foreach (string part in (text ?? "").Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] range = part.Split('-');
            if (!int.TryParse(range[0], CultureInfo.InvariantCulture, out int lo)) return [];
            int hi = lo;
            if (range.Length == 2 && !int.TryParse(range[1], CultureInfo.InvariantCulture, out hi)) return [];
            for (int c = lo; c <= hi && cpus.Count < 65536; c++) cpus.Add(c);
        }
        return cpus;
    }

    /// <summary>/proc/cpuinfo as one key → value map per processor block.</summary>
    internal static List<Dictionary<string, string>> ParseCpuInfo(string? text)
    {
        var blocks = new List<Dictionary<string, string>>();
        Dictionary<string, string>? current = null;
        foreach (string raw in (text ?? "").Split('\n'))
        {
            int colon = raw.IndexOf(':');
            if (colon < 0) { current = null; continue; }
            string key = raw[..colon].Trim();
            string value = raw[(colon + 1)..].Trim();
            if (key == "processor" || current is null)
            {
                current = new Dictionary<string, string>(StringComparer.Ordinal);
                blocks.Add(current);
            }
            current.TryAdd(key, value);
        }
        // Arm kernels put a global "Features"/"Hardware" block after the processors: fold lone keys into the first block.
        return blocks.Where(b => b.ContainsKey("processor")).ToList() is { Count: > 0 } cpus ? Merge(cpus, blocks) : blocks;
    }

    private static List<Dictionary<string, string>> Merge(List<Dictionary<string, string>> cpus, List<Dictionary<string, string>> all)
    {
        foreach (var extra in all.Where(b => !b.ContainsKey("processor")))
            foreach (var kv in extra) cpus[0].TryAdd(kv.Key, kv.Value);
        return cpus;
    }

    private static double? Khz(ISystemFiles files, string name) =>
        double.TryParse(files.ReadText("/sys/devices/system/cpu/cpu0/cpufreq/" + name)?.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double khz) && khz > 0
            ? khz / 1000 : null;

    /// <summary>Without cpufreq (VMs), cpuinfo's "cpu MHz" is the fixed TSC clock when the CPU says it is constant.</summary>
    private static double? BaseFromCpuInfo(Dictionary<string, string> cpu) =>
        cpu.GetValueOrDefault("flags") is { } flags && flags.Contains("constant_tsc", StringComparison.Ordinal)
        && double.TryParse(cpu.GetValueOrDefault("cpu MHz"), NumberStyles.Float, CultureInfo.InvariantCulture, out double mhz) && mhz > 0
            ? mhz : null;

    private static string? ArmVendor(string? implementer) => implementer?.ToLowerInvariant() switch
    {
        null => null,
        "0x41" => "ARM",
        "0x42" => "Broadcom",
        "0x43" => "Cavium",
        "0x46" => "Fujitsu",
        "0x48" => "HiSilicon",
        "0x4e" => "NVIDIA",
        "0x51" => "Qualcomm",
        "0x61" => "Apple",
        "0xc0" => "Ampere",
        _ => "implementer " + implementer,
    };

    /// <summary>Arm cpuinfo has no model name: implementer and part number identify the core design.</summary>
    private static string? ArmModel(Dictionary<string, string> cpu) =>
        cpu.TryGetValue("CPU part", out var part) ? $"{cpu.GetValueOrDefault("CPU implementer", "?")}:{part}" : null;
}
