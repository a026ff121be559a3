using System.Collections.Immutable;
using HybridEngine.Gguf;
using HybridEngine.Models.Synthetic;
using HybridEngine.Planning;
using HybridEngine.Quantization;

namespace HybridEngine.Tests.Planning;

/// <summary>
/// Model inventories for planner tests: real shapes (SPEC 3.3, 5) as GGUF headers with no data, and small synthetic
/// files with data. Also synthetic hardware figures.
/// </summary>
internal static class PlanningModels
{
    /// <summary>DeepSeek-V3/R1 671B (SPEC 3.3), legacy-free MLA layout.</summary>
    public static readonly SyntheticModelSpec DeepSeekV3 = SyntheticModels.Spec("deepseek2", "tiny") with
    {
        Preset = "v3",
        Hidden = 7168, Layers = 61, Heads = 128, Ffn = 18432, ExpertFfn = 2048, Experts = 256, ExpertsUsed = 8, SharedExperts = 1,
        DenseLeadLayers = 3, QLoraRank = 1536, KvLoraRank = 512, NopeDim = 128, RopeDim = 64, ValueDim = 128, PaddedVocab = 129280,
    };

    /// <summary>Qwen3-30B-A3B (SPEC 5).</summary>
    public static readonly SyntheticModelSpec Qwen3_30B_A3B = SyntheticModels.Spec("qwen3moe", "tiny") with
    {
        Preset = "30b-a3b",
        Hidden = 2048, Layers = 48, Heads = 32, KvHeads = 4, HeadDim = 128, ExpertFfn = 768, Experts = 128, ExpertsUsed = 8,
        RopeFreqBase = 1e6f, PaddedVocab = 151936,
    };

    private static readonly Dictionary<string, IReadOnlyDictionary<string, GgufValue>> MetadataCache = [];

    /// <summary>
    /// The inventory of <paramref name="spec"/> with every tensor stored as <paramref name="typeOf"/> says (default: the
    /// synth writer's choice for <paramref name="fileType"/>), built from the header alone: metadata parsed back from a
    /// written GGUF with no tensors, tensor records with offsets laid out as a writer would.
    /// </summary>
    public static ModelInventory HeaderOnly(SyntheticModelSpec spec, GgmlType fileType, Func<PlannedTensor, GgmlType>? typeOf = null)
    {
        var options = new SyntheticOptions(fileType);
        var planned = SyntheticWriter.Plan(spec, options);
        ulong offset = 0;
        var tensors = new List<GgufTensorInfo>();
        foreach (var p in planned)
        {
            var type = typeOf?.Invoke(p) ?? p.Type;
            tensors.Add(new GgufTensorInfo(p.Tensor.Name, p.Tensor.Shape, type, offset));
            offset += (ulong)((GgufWriter.TensorBytes(type, p.Tensor.Shape) + 31) / 32 * 32);
        }
        return ModelInventory.Build($"{spec.Arch}-{spec.Preset}", SyntheticModels.Architecture(spec.Arch).GgufArchitecture, Metadata(spec, options), tensors);
    }

    private static IReadOnlyDictionary<string, GgufValue> Metadata(SyntheticModelSpec spec, SyntheticOptions options)
    {
        string key = spec.Arch + "/" + spec.Preset;
        lock (MetadataCache)
        {
            if (MetadataCache.TryGetValue(key, out var cached)) return cached;
            var arch = SyntheticModels.Architecture(spec.Arch);
            var writer = new GgufWriter();
            writer.Add("general.architecture", GgufValue.String(arch.GgufArchitecture));
            // The vocabulary is left out: vocab_size is written by the architecture and the planner needs no tokens.
            arch.AddMetadata(writer, spec, options, spec.PaddedVocab > 0 ? spec.PaddedVocab : 1000);
            using var stream = new MemoryStream();
            writer.WriteTo(stream);
            var metadata = GgufFile.Parse(stream.ToArray(), key).Metadata;
            MetadataCache[key] = metadata;
            return metadata;
        }
    }

    /// <summary>Q4_K_M-like mix (SPEC 4.7) over a Q4_K plan: ffn_down at Q6_K in llama-quant's use_more_bits layers, attn_v_b and the embeddings at Q6_K.</summary>
    public static GgmlType Q4KM(PlannedTensor p, int layers)
    {
        // Rows the synth writer could not store as Q4_K (not a multiple of 256) keep its fallback type.
        if (p.Type != GgmlType.Q4_K) return p.Type;
        if (p.Tensor.Name.Contains("ffn_down", StringComparison.Ordinal) && TryLayer(p.Tensor.Name, out int i) && UseMoreBits(i, layers))
            return GgmlType.Q6_K;
        return p.Tensor.Name.Contains("attn_v_b", StringComparison.Ordinal) || p.Tensor.Name.Contains("token_embd", StringComparison.Ordinal) ? GgmlType.Q6_K : GgmlType.Q4_K;
    }

    private static bool UseMoreBits(int i, int n) => i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;

    private static bool TryLayer(string name, out int layer) => HybridEngine.Models.TensorClassifier.TryGetLayer(name, out layer);

    /// <summary>A synthetic file with data, parsed from memory.</summary>
    public static GgufFile SyntheticFile(string arch, string preset, GgmlType type, float skew = 0)
    {
        using var stream = new MemoryStream();
        SyntheticWriter.Build(SyntheticModels.Spec(arch, preset), new SyntheticOptions(type, Seed: 7, Skew: skew)).WriteTo(stream);
        return GgufFile.Parse(stream.ToArray(), $"{arch}-{preset}");
    }

    public const long GiB = 1L << 30;

    /// <summary>A 16 GB laptop: dual-channel LPDDR5, a PCIe 4 NVMe drive, an integrated GPU that reports 4 GiB of shared memory.</summary>
    public static PlannerHardware Laptop16(bool withIntegratedGpu = true) => new(
        16 * GiB, 60, ImmutableSortedDictionary<string, double>.Empty.Add("q4_K", 45), 5,
        withIntegratedGpu ? [new PlannerGpu("iGPU", Integrated: true, MemoryBytes: 4 * GiB, ReadGBps: null)] : [], Assumed: false, "laptop-16g");

    /// <summary>A 64 GB desktop with an 8 GB GPU.</summary>
    public static PlannerHardware Desktop64Gpu8() => new(
        64 * GiB, 70, ImmutableSortedDictionary<string, double>.Empty, 6,
        [new PlannerGpu("dGPU", Integrated: false, MemoryBytes: 8 * GiB, ReadGBps: 400)], Assumed: false, "desktop-64g-gpu-8g");

    /// <summary>A CPU-only mini PC with 32 GB.</summary>
    public static PlannerHardware MiniPc32() => new(
        32 * GiB, 40, ImmutableSortedDictionary<string, double>.Empty, 3, [], Assumed: false, "mini-pc-32g");

    /// <summary>Zipf-like measured counts: expert e of a layer is ranked by a per-layer rotation and gets 1/(1+rank)^s.</summary>
    public static ExpertStats ZipfStats(ModelInventory inventory, double s = 1.0, long tokens = 100_000) =>
        new(ExpertStats.CalibrationSource, inventory.Name, tokens, inventory.MoeLayers.Select(l =>
        {
            int n = l.Experts.Count;
            return new LayerExpertCounts(l.Layer, Enumerable.Range(0, n)
                .Select(e => Math.Round(1e6 / Math.Pow(1 + (e + 7 * l.Layer) % n, s))).ToImmutableArray());
        }).ToImmutableArray());
}
