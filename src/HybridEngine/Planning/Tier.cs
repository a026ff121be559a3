namespace HybridEngine.Planning;

/// <summary>Where a weight lives, fastest first.</summary>
public enum Tier
{
    /// <summary>Dedicated GPU memory: its own capacity and bandwidth.</summary>
    Gpu,
    /// <summary>Integrated GPU: computes on weights held in RAM, so it adds compute but no capacity.</summary>
    IntegratedGpu,
    /// <summary>RAM, loaded once and kept (always-used weights and pinned hot experts).</summary>
    RamResident,
    /// <summary>RAM expert cache: a byte budget that streamed experts pass through.</summary>
    RamCache,
    /// <summary>Streamed from the model file on demand (direct I/O) into the RAM cache.</summary>
    Disk,
}

public static class Tiers
{
    /// <summary>Lower-case words for tables and JSON.</summary>
    public static string DisplayName(Tier tier) => tier switch
    {
        Tier.Gpu => "gpu",
        Tier.IntegratedGpu => "integrated_gpu",
        Tier.RamResident => "ram_resident",
        Tier.RamCache => "ram_cache",
        _ => "disk",
    };
}
