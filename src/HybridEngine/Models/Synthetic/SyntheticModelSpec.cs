using HybridEngine.Quantization;

namespace HybridEngine.Models.Synthetic;

/// <summary>How the router turns logits into expert scores (llama.cpp's expert_gating_func: 1 softmax, 2 sigmoid).</summary>
public enum ExpertGating { Softmax = 1, Sigmoid = 2 }

/// <summary>deepseek2 attention tensors: the MLA split (attn_k_b + attn_v_b, *_mla keys) or the legacy attn_kv_b.</summary>
public enum MlaLayout { KbVb, KvB }

/// <summary>
/// The hyper-parameters of one synthetic model. One vocabulary for dimensions: hidden, layers, heads, kvHeads,
/// headDim, experts, expertsUsed, ffn. Fields an architecture does not use stay 0.
/// </summary>
public sealed record SyntheticModelSpec
{
    /// <summary>The --arch name (deepseek2, qwen3moe, mixtral, llama).</summary>
    public required string Arch { get; init; }
    public required string Preset { get; init; }
    public required int Hidden { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    /// <summary>Key/value heads for GQA architectures (deepseek2 ignores it: MLA is written as 1 or Heads).</summary>
    public int KvHeads { get; init; }
    /// <summary>Per-head q/k/v size for GQA architectures.</summary>
    public int HeadDim { get; init; }
    /// <summary>Dense FFN size (deepseek2 leading dense layers, llama) or per-expert size (mixtral stores it here too).</summary>
    public int Ffn { get; init; }
    /// <summary>Routed and shared expert FFN size (deepseek2, qwen3moe).</summary>
    public int ExpertFfn { get; init; }
    public int Experts { get; init; }
    public int ExpertsUsed { get; init; }
    public int SharedExperts { get; init; }
    public int DenseLeadLayers { get; init; }
    public int QLoraRank { get; init; }
    public int KvLoraRank { get; init; }
    /// <summary>qk_nope_head_dim.</summary>
    public int NopeDim { get; init; }
    /// <summary>qk_rope_head_dim (deepseek2) — the rotated part of each q/k head.</summary>
    public int RopeDim { get; init; }
    /// <summary>v_head_dim (deepseek2).</summary>
    public int ValueDim { get; init; }
    public ExpertGating Gating { get; init; } = ExpertGating.Softmax;
    public bool ExpertWeightsNorm { get; init; }
    public float ExpertWeightsScale { get; init; } = 1f;
    public int ContextLength { get; init; } = 4096;
    public float RopeFreqBase { get; init; } = 10000f;
    public float RmsEps { get; init; } = 1e-6f;
    /// <summary>YaRN factor; 0 = no rope scaling keys.</summary>
    public float YarnFactor { get; init; }
    public int YarnOriginalContext { get; init; }
    /// <summary>Written as rope.scaling.yarn_log_multiplier = 0.1·mscale_all_dim (SPEC 3.1).</summary>
    public float YarnLogMultiplier { get; init; }
    /// <summary>
    /// Multiplies the init scale of the projections whose outputs are added to the residual stream (deepseek2's
    /// attn_output and every ffn_down): 1 gives each block an output as large as the stream itself, a random network
    /// in which a one-step flip of an activation quantizer grows into a different expert choice two layers later;
    /// smaller values keep block updates small against the stream, as in trained models.
    /// </summary>
    public float ResidualBranchScale { get; init; } = 1f;
    /// <summary>Pad the synthetic vocab with unused "[PAD i]" tokens up to this size (0 = the synthetic vocab as is).</summary>
    public int PaddedVocab { get; init; }

    public bool IsMoe => Experts > 0;
}

/// <summary>The knobs of one synth run that are not part of the architecture's shape.</summary>
/// <param name="Skew">Zipf-like expert popularity: expert of popularity rank k (seeded per layer) gets selection bias −Skew·ln(1+k).</param>
/// <param name="Groups">Expert groups for deepseek2 (expert_group_count); 0 = no group keys.</param>
public sealed record SyntheticOptions(
    GgmlType Type = GgmlType.F32,
    ulong Seed = 0,
    float Skew = 0f,
    int Groups = 0,
    MlaLayout Layout = MlaLayout.KbVb);

/// <summary>The architectures and presets <c>hybrid synth</c> knows.</summary>
public static class SyntheticModels
{
    public static readonly string[] Presets = ["tiny", "small", "medium", "v2lite"];

    /// <summary>The quant types a synthetic model can be written in (file types: SPEC 1.10).</summary>
    public static readonly (string Name, GgmlType Type, uint FileType)[] Types =
    [
        ("f32", GgmlType.F32, 0), ("f16", GgmlType.F16, 1), ("q8_0", GgmlType.Q8_0, 7), ("q4_k", GgmlType.Q4_K, 14),
    ];

    private static readonly ISyntheticArchitecture[] Architectures =
        [new Deepseek2Synth(), new Qwen3MoeSynth(), LlamaSynth.Mixtral, LlamaSynth.Dense];

    public static IEnumerable<string> ArchitectureNames => Architectures.Select(a => a.Name);

    public static ISyntheticArchitecture Architecture(string name) =>
        Architectures.FirstOrDefault(a => a.Name == name)
        ?? throw new NotSupportedException($"unknown architecture '{name}'; supported: {string.Join(", ", ArchitectureNames)}");

    public static SyntheticModelSpec Spec(string arch, string preset)
    {
        var architecture = Architecture(arch);
        return architecture.Preset(preset)
            ?? throw new NotSupportedException($"architecture '{arch}' has no preset '{preset}'; it has: {string.Join(", ", Presets.Where(p => architecture.Preset(p) != null))}");
    }

    public static GgmlType ParseType(string name) =>
        Types.FirstOrDefault(t => t.Name == name.ToLowerInvariant()) is { Name: not null } t
            ? t.Type
            : throw new NotSupportedException($"unknown type '{name}'; supported: {string.Join(", ", Types.Select(t => t.Name))}");

    public static uint FileType(GgmlType type) =>
        Types.FirstOrDefault(t => t.Type == type) is { Name: not null } t
            ? t.FileType
            : throw new NotSupportedException($"type {type} cannot be written; supported: {string.Join(", ", Types.Select(t => t.Name))}");
}
