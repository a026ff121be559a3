using HybridEngine.Gguf;

namespace HybridEngine.Planning;

/// <summary>
/// The hyper-parameters sizing needs, read from <c>{arch}.*</c> metadata keys (SPEC 3.1 and 5). Dimensions use the
/// project's vocabulary: hidden, layers, heads, kvHeads, headDim, experts, expertsUsed, ffn.
/// </summary>
/// <param name="HeadDim">Key length per head (<c>attention.key_length</c>, default hidden/heads).</param>
/// <param name="ValueDim">Value length per head (<c>attention.value_length</c>, default <paramref name="HeadDim"/>).</param>
/// <param name="KvLoraRank">deepseek2's compressed KV width (<c>attention.kv_lora_rank</c>); 0 elsewhere.</param>
/// <param name="RopeDim"><c>rope.dimension_count</c> (deepseek2: the decoupled rope part cached beside the latent).</param>
/// <param name="Vocab"><c>vocab_size</c>, else the tokenizer's token count, else the embedding's rows.</param>
public sealed record ModelHyperParameters(
    string Architecture,
    int Hidden,
    int Layers,
    int Heads,
    int KvHeads,
    int HeadDim,
    int ValueDim,
    int Ffn,
    int ExpertFfn,
    int Experts,
    int ExpertsUsed,
    int SharedExperts,
    int DenseLeadLayers,
    int KvLoraRank,
    int RopeDim,
    int ContextLength,
    int Vocab)
{
    /// <summary>
    /// True when the KV cache holds MLA's compressed latent: deepseek2 caches kv_lora_rank + rope_dim values per token
    /// and layer, shared by all heads, instead of per-head keys and values.
    /// </summary>
    public bool CachesLatent => Architecture == "deepseek2" && KvLoraRank > 0;

    public bool IsMoe => Experts > 0;

    /// <summary>Reads the keys of <paramref name="architecture"/>; a missing required key is a format error naming it.</summary>
    public static ModelHyperParameters Read(string architecture, IReadOnlyDictionary<string, GgufValue> metadata, int embeddingRows)
    {
        string p = architecture + ".";
        int Get(string key, int fallback) =>
            metadata.TryGetValue(p + key, out var v) ? FirstInteger(v, p + key) : fallback;
        int Required(string key) =>
            metadata.TryGetValue(p + key, out var v)
                ? FirstInteger(v, p + key)
                : throw new GgufFormatException($"metadata key '{p + key}' is missing; the planner needs it to size the model");

        int hidden = Required("embedding_length");
        int layers = Required("block_count");
        int heads = Get("attention.head_count", 0);
        int headDim = Get("attention.key_length", heads > 0 ? hidden / heads : 0);
        int vocab = Get("vocab_size", metadata.TryGetValue("tokenizer.ggml.tokens", out var tokens) ? tokens.ArrayLength : embeddingRows);
        int experts = Get("expert_count", 0);
        int expertsUsed = Get("expert_used_count", 0);
        int ffn = Get("feed_forward_length", 0);
        return new ModelHyperParameters(
            Architecture: architecture,
            Hidden: hidden,
            Layers: layers,
            Heads: heads,
            KvHeads: Get("attention.head_count_kv", heads),
            HeadDim: headDim,
            ValueDim: Get("attention.value_length", headDim),
            Ffn: ffn,
            ExpertFfn: Get("expert_feed_forward_length", expertsUsed > 0 ? ffn / expertsUsed : 0),
            Experts: experts,
            ExpertsUsed: expertsUsed,
            SharedExperts: Get("expert_shared_count", 0),
            DenseLeadLayers: Get("leading_dense_block_count", 0),
            KvLoraRank: Get("attention.kv_lora_rank", 0),
            RopeDim: Get("rope.dimension_count", headDim),
            ContextLength: Get("context_length", 0),
            Vocab: vocab);
    }

    /// <summary>Integer keys may be per-layer arrays (SPEC 3.1: "u32 or arr"); sizing uses the largest entry.</summary>
    private static int FirstInteger(GgufValue value, string key)
    {
        try
        {
            if (!value.IsArray) return checked((int)value.AsInteger());
            long max = 0;
            foreach (object item in (System.Array)value.Value) max = Math.Max(max, Convert.ToInt64(item, System.Globalization.CultureInfo.InvariantCulture));
            return checked((int)max);
        }
        catch (Exception ex) when (ex is InvalidCastException or OverflowException or FormatException)
        {
            throw new GgufFormatException($"metadata key '{key}' is not an integer that fits 32 bits ({ex.Message})");
        }
    }
}
