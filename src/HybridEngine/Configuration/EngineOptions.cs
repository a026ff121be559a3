namespace HybridEngine.Configuration;

/// <summary>
/// Settings bound once at start-up from appsettings.json, then HYBRID_ environment variables, then the command line
/// (later wins). Nothing reads configuration after this is built.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>Compute threads; 0 means one per logical processor.</summary>
    public int Threads { get; init; }

    /// <summary>Forces every tensor onto CPU tiers whatever GPUs exist.</summary>
    public bool CpuOnly { get; init; }

    /// <summary>Kernel path: auto (widest the CPU has), scalar, vector128, avx2 or avx512.</summary>
    public string KernelPath { get; init; } = "auto";

    /// <summary>RAM the process may hold, in bytes; null means what the machine has.</summary>
    public long? RamBudget { get; init; }

    /// <summary>GPU memory the plan may use, in bytes; null means what the device has.</summary>
    public long? VramBudget { get; init; }

    /// <summary>Streaming:DiskGBps (--disk-gbps): expert reads are paced to at most this many 10⁹ B/s and plans read at no more; null means the disk's own speed.</summary>
    public double? DiskGBps { get; init; }

    /// <summary>Streaming:NoPrefetch (--no-prefetch): no next-layer experts are guessed and read ahead, and plans predict that mode.</summary>
    public bool NoPrefetch { get; init; }

    public string ModelDirectory { get; init; } = "models";
    /// <summary>The project's shared profiles (Paths:ProfileDirectory).</summary>
    public string ProfileDirectory { get; init; } = "profiles";

    /// <summary>The user's own profiles (Paths:UserProfileDirectory); null means the platform's configuration folder.</summary>
    public string? UserProfileDirectory { get; init; }

    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;

    /// <summary>Checks ranges and returns the first problem as one sentence naming the setting, or null.</summary>
    public string? Validate()
    {
        if (Threads < 0) return $"Engine:Threads must be 0 (auto) or positive, not {Threads}";
        if (Threads > 4096) return $"Engine:Threads {Threads} is larger than any machine this engine targets";
        if (KernelPath is not ("auto" or "scalar" or "vector128" or "avx2" or "avx512"))
            return $"Engine:KernelPath '{KernelPath}' is not one of auto, scalar, vector128, avx2, avx512";
        if (RamBudget is <= 0) return "Memory:RamBudget must be a positive size";
        if (VramBudget is < 0) return "Memory:VramBudget must not be negative";
        if (DiskGBps is { } gbps && !(gbps > 0 && double.IsFinite(gbps))) return $"Streaming:DiskGBps must be a positive number of GB/s, not {gbps}";
        return null;
    }
}
