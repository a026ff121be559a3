using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridEngine.Planning;

/// <summary>One tier of the plan: what it holds and why.</summary>
/// <param name="Bytes">Weight bytes placed in the tier (for <see cref="Tier.Disk"/>: the expert bytes that stream from it).</param>
/// <param name="CapacityBytes">What the tier may hold under the budgets (the cache's size for <see cref="Tier.RamCache"/>).</param>
/// <param name="ClassBytes">Bytes per tensor class (display names).</param>
/// <param name="Experts">Routed experts placed in the tier (for the cache: experts that pass through it).</param>
public sealed record TierUse(Tier Tier, long Bytes, long CapacityBytes, ImmutableSortedDictionary<string, long> ClassBytes, int Experts, string Reason);

/// <summary>Where a non-expert tensor lives.</summary>
public sealed record TensorPlacement(string Name, string Class, Tier Tier, long Bytes);

/// <summary>The experts of one MoE layer by tier (expert indices ascending) and their expected hit rate.</summary>
/// <param name="Streamed">Experts read from disk through the RAM cache when routed to and not cached.</param>
/// <param name="HitRate">Share of this layer's routings served without a disk read.</param>
public sealed record ExpertLayerPlacement(int Layer, long ExpertBytes, ImmutableArray<int> Gpu, ImmutableArray<int> Resident, ImmutableArray<int> Streamed, double HitRate);

/// <summary>Memory the plan sets aside besides weights.</summary>
/// <param name="RuntimeBytes">The process itself: .NET runtime, code, thread stacks, tokenizer (<see cref="Planner.RuntimeOverheadBytes"/>).</param>
/// <param name="IoBufferBytes">Aligned direct-I/O buffers for streaming (0 when nothing streams).</param>
/// <param name="KvCacheBytes">The KV cache of the layers attending on the CPU or an integrated GPU (in RAM).</param>
/// <param name="GpuScratchBytes">Activations kept on a dedicated GPU that holds weights.</param>
/// <param name="GpuKvCacheBytes">The KV cache of the layers attending on a dedicated GPU (in VRAM).</param>
public sealed record MemoryReserve(long KvCacheBytes, long ActivationBytes, long RuntimeBytes, long IoBufferBytes, long GpuScratchBytes, long GpuKvCacheBytes = 0)
{
    public long RamBytes => KvCacheBytes + ActivationBytes + RuntimeBytes + IoBufferBytes;
}

/// <summary>What the plan promises. Times are per decoded token.</summary>
/// <param name="ExpertHitRate">Share of routed-expert requests served from GPU or RAM (1 when nothing streams).</param>
/// <param name="DiskBytesPerToken">Expected expert bytes read from disk per token.</param>
/// <param name="ComputeSeconds">Weight and KV reads from memory tiers per token.</param>
/// <param name="DiskSeconds">Disk reads per token.</param>
/// <param name="OverlapSeconds">Of the disk time, the part spent while the CPU computes (tokens/s = 1 / (compute + disk − overlap)).</param>
public sealed record PlanPrediction(
    double DecodeTokensPerSecond,
    double DiskBytesPerToken,
    double ExpertHitRate,
    double ComputeSeconds,
    double DiskSeconds,
    long PeakRamBytes,
    long PeakVramBytes,
    double OverlapSeconds = 0);

/// <summary>
/// A placement: the tier of every tensor and expert, the budgets it honours and its predictions. Printable as JSON
/// before any weight is loaded; the same inputs give the same document.
/// </summary>
public sealed record Plan(
    string Model,
    string Architecture,
    PlanOptions Options,
    string HardwareSource,
    bool HardwareAssumed,
    string PopularitySource,
    long RamBudgetBytes,
    long VramBudgetBytes,
    long ModelBytes,
    long AlwaysUsedBytes,
    long RoutedExpertBytes,
    MemoryReserve Reserve,
    ImmutableArray<TierUse> Tiers,
    PlanPrediction Prediction,
    ImmutableArray<string> Notes,
    ImmutableArray<TensorPlacement> Tensors,
    ImmutableArray<ExpertLayerPlacement> Experts)
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public TierUse TierOf(Tier tier) => Tiers.First(t => t.Tier == tier);

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}

/// <summary>A plan that cannot run: <see cref="Exception.Message"/> is one sentence saying why and what budget would do.</summary>
public sealed class PlanRefusedException(string message, long neededRamBytes) : Exception(message)
{
    /// <summary>The smallest RAM budget with which the plan would run (given the same VRAM budget and context).</summary>
    public long NeededRamBytes { get; } = neededRamBytes;
}
