using System.Text.Json.Serialization;

namespace HybridEngine.Planning;

/// <summary>What the user asked of the plan.</summary>
/// <param name="ContextLength">Tokens of context the KV cache and scratch are sized for.</param>
/// <param name="RamBudget">Everything the process may hold in RAM (weights, cache, KV, scratch, runtime); null: the machine's default.</param>
/// <param name="VramBudget">GPU memory the plan may use; null: the device's memory less a reserve.</param>
/// <param name="CpuOnly">Places nothing on any GPU, whatever the hardware lists.</param>
/// <param name="Prefetch">The runtime reads guessed next-layer experts ahead (its default); the disk prediction counts their wrong guesses.</param>
/// <param name="DiskGBps">A cap on the disk's bandwidth (10⁹ B/s, --disk-gbps): the runtime paces its reads to it, the plan reads at min(measured, cap).</param>
public sealed record PlanOptions(int ContextLength = 4096, long? RamBudget = null, long? VramBudget = null, bool CpuOnly = false, bool Prefetch = true,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DiskGBps = null)
{
    public string? Validate()
    {
        if (ContextLength <= 0) return $"context length must be positive, not {ContextLength}";
        if (RamBudget is <= 0) return "the RAM budget must be a positive size";
        if (VramBudget is < 0) return "the VRAM budget must not be negative";
        if (DiskGBps is { } cap && !(cap > 0 && double.IsFinite(cap))) return "the disk speed cap must be a positive number of GB/s";
        return null;
    }
}
