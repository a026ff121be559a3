using System.Collections.Immutable;
using HybridEngine.Gguf;
using HybridEngine.Models;

namespace HybridEngine.Planning;

/// <summary>
/// What a model costs, from the GGUF header alone (no weight is read): bytes of every tensor by class, routed experts
/// as (layer, expert) units with their slab byte ranges, and the KV-cache and scratch bytes for a context length.
/// </summary>
public sealed class ModelInventory
{
    /// <summary>KV cache element size: the runtime keeps the cache in f32 (host and device), so the plan counts 4 bytes.</summary>
    public const int KvElementBytes = 4;

    private ModelInventory(string name, ModelHyperParameters hp, ImmutableArray<InventoryTensor> tensors, ImmutableArray<MoeLayerInventory> moeLayers)
    {
        Name = name;
        HyperParameters = hp;
        Tensors = tensors;
        MoeLayers = moeLayers;
        TotalBytes = tensors.Sum(t => t.Bytes);
        RoutedExpertBytes = moeLayers.Sum(l => l.Bytes);
        var byClass = new SortedDictionary<TensorClass, long>();
        foreach (var t in tensors) byClass[t.Class] = byClass.GetValueOrDefault(t.Class) + t.Bytes;
        ClassBytes = byClass.ToImmutableSortedDictionary();
    }

    /// <summary>The model's name (general.name, else the file name).</summary>
    public string Name { get; }
    public ModelHyperParameters HyperParameters { get; }
    public ImmutableArray<InventoryTensor> Tensors { get; }
    public ImmutableArray<MoeLayerInventory> MoeLayers { get; }
    public ImmutableSortedDictionary<TensorClass, long> ClassBytes { get; }
    public long TotalBytes { get; }
    public long RoutedExpertBytes { get; }

    /// <summary>Everything but the routed experts: read for every token, so it must sit in a memory tier.</summary>
    public long AlwaysUsedBytes => TotalBytes - RoutedExpertBytes;

    public long ExpertCount => MoeLayers.Sum(l => (long)l.Experts.Count);

    /// <summary>The largest single expert: the unit the streaming cache must hold several of at once.</summary>
    public long LargestExpertBytes => MoeLayers.IsEmpty ? 0 : MoeLayers.Max(l => l.ExpertBytes);

    /// <summary>
    /// KV-cache bytes per token of context, f32 (<see cref="KvElementBytes"/>). deepseek2 (MLA) caches the compressed latent and the shared rope key:
    /// layers·(kv_lora_rank + rope_dim). Multi-head and grouped-query attention cache keys and values per kv head:
    /// layers·2·kvHeads·headDim (value length = key length unless the file says otherwise).
    /// </summary>
    public long KvBytesPerToken
    {
        get
        {
            var hp = HyperParameters;
            long perLayer = hp.CachesLatent ? hp.KvLoraRank + hp.RopeDim : (long)hp.KvHeads * (hp.HeadDim + hp.ValueDim);
            return hp.Layers * perLayer * KvElementBytes;
        }
    }

    public long KvCacheBytes(int contextLength) => KvBytesPerToken * contextLength;

    /// <summary>
    /// Scratch for decoding one token at <paramref name="contextLength"/>, f32, allocated once per context:
    /// 8 hidden-sized vectors (residual, normed input, attention output, ...), the logits (vocab), attention scores
    /// (heads·context), q/k/v and attention output per head (heads·(2·headDim + valueDim), plus heads·(kv_lora_rank +
    /// rope_dim) for MLA's absorbed queries), the FFN intermediates (3·max(ffn, expertFfn·expertsUsed)), router logits
    /// (experts), and the same again for quantized copies of the activations (at most one byte per value, counted at
    /// four to stay an upper bound). It is an estimate: the runtime's actual buffers are smaller or equal.
    /// </summary>
    public long ActivationBytes(int contextLength)
    {
        var hp = HyperParameters;
        long ffn = Math.Max(hp.Ffn, (long)hp.ExpertFfn * Math.Max(1, hp.ExpertsUsed + hp.SharedExperts));
        long values = 8L * hp.Hidden
            + hp.Vocab
            + (long)hp.Heads * contextLength
            + (long)hp.Heads * (2L * hp.HeadDim + hp.ValueDim)
            + (hp.CachesLatent ? (long)hp.Heads * (hp.KvLoraRank + hp.RopeDim) : 0)
            + 3 * ffn
            + hp.Experts;
        return 2 * values * sizeof(float);
    }

    /// <summary>The inventory of an open GGUF file (header only).</summary>
    public static ModelInventory FromGguf(GgufFile file)
    {
        string name = file.TryGetString("general.name", out string? n) && !string.IsNullOrWhiteSpace(n) ? n! : Path.GetFileName(file.Path);
        return Build(name, file.Architecture, file.Metadata, file.Tensors);
    }

    /// <summary>
    /// The inventory of a header given as metadata and tensor records, so a model's shape (DeepSeek-V3 at Q4_K_M, say)
    /// can be sized without a file.
    /// </summary>
    public static ModelInventory Build(string name, string? architecture, IReadOnlyDictionary<string, GgufValue> metadata, IReadOnlyList<GgufTensorInfo> tensors)
    {
        if (string.IsNullOrEmpty(architecture))
            throw new GgufFormatException("metadata key 'general.architecture' is missing; the planner needs it to read the hyper-parameters");
        var embedding = tensors.FirstOrDefault(t => TensorClassifier.Classify(t.Name) == TensorClass.Embeddings);
        int embeddingRows = embedding is null ? 0 : (int)embedding.Rows;
        var hp = ModelHyperParameters.Read(architecture, metadata, embeddingRows);

        var entries = ImmutableArray.CreateBuilder<InventoryTensor>(tensors.Count);
        var expertTensors = new SortedDictionary<int, List<GgufTensorInfo>>();
        foreach (var t in tensors)
        {
            var cls = TensorClassifier.Classify(t.Name);
            int layer = TensorClassifier.TryGetLayer(t.Name, out int l) ? l : -1;
            entries.Add(new InventoryTensor(t.Name, cls, layer, t.Type, t.Offset, t.ByteSize));
            if (cls != TensorClass.RoutedExperts) continue;
            if (layer < 0) throw new GgufFormatException($"routed expert tensor '{t.Name}' has no blk.N. layer prefix");
            if (hp.Experts <= 0 || t.Shape[^1] != hp.Experts)
                throw new GgufFormatException($"routed expert tensor '{t.Name}' has shape {t.ShapeText}, but {hp.Architecture}.expert_count is {hp.Experts}: the last dimension must count the experts");
            if (!expertTensors.TryGetValue(layer, out var list)) expertTensors[layer] = list = [];
            list.Add(t);
        }

        var layers = ImmutableArray.CreateBuilder<MoeLayerInventory>(expertTensors.Count);
        foreach (var (layer, stacked) in expertTensors)
        {
            var units = new ExpertUnit[hp.Experts];
            for (int e = 0; e < hp.Experts; e++)
            {
                var slabs = new ExpertSlab[stacked.Count];
                for (int i = 0; i < stacked.Count; i++)
                {
                    var t = stacked[i];
                    // Rows of one expert: everything between ne0 and the expert dimension (ne1 for 3-D, 1 for 2-D biases).
                    long rowsPerExpert = t.Rows / hp.Experts;
                    long slabBytes = rowsPerExpert * t.RowBytes;
                    slabs[i] = new ExpertSlab(t.Name, t.Type, t.Offset, e * slabBytes, slabBytes);
                }
                units[e] = new ExpertUnit(layer, e, slabs);
            }
            layers.Add(new MoeLayerInventory(layer, units[0].Bytes, units));
        }
        return new ModelInventory(name, hp, entries.MoveToImmutable(), layers.ToImmutable());
    }
}
