using HybridEngine.Gguf;

namespace HybridEngine.Models.Synthetic;

/// <summary>How a synthetic tensor's values are drawn (see <see cref="SyntheticWeights"/>).</summary>
public enum WeightRole
{
    /// <summary>A projection: N(0, 1/fan_in) so that each output keeps unit variance, like common init schemes.</summary>
    Matrix,
    /// <summary>An RMSNorm weight: 1 + N(0, 0.05²). Always F32.</summary>
    Norm,
    /// <summary>token_embd: N(0, 1), plus a shared direction when router bias is folded in (any skew).</summary>
    Embedding,
    /// <summary>ffn_gate_inp, rows are experts: a Matrix plus the folded popularity bias. Always F32.</summary>
    Router,
    /// <summary>exp_probs_b.bias: N(0, 0.01²), plus −skew·ln(1+rank) when the skew is not folded into the router. Always F32.</summary>
    ExpertBias,
    /// <summary>attn_k_b, derived element-wise from the attn_kv_b of the same layer and seed.</summary>
    KFromKvB,
    /// <summary>attn_v_b, derived element-wise from the attn_kv_b of the same layer and seed.</summary>
    VFromKvB,
}

/// <summary>One tensor an architecture writes. <see cref="Shape"/> is in ggml order (ne0 = row length, SPEC 1.8).</summary>
/// <param name="FanIn">The input width whose 1/√ scales a Matrix or Router (usually ne0).</param>
/// <param name="Layer">The block index, or −1 for model-level tensors.</param>
public sealed record SyntheticTensor(string Name, long[] Shape, WeightRole Role, int FanIn, int Layer = -1)
{
    /// <summary>Multiplies a Matrix's standard deviation (see <see cref="SyntheticModelSpec.ResidualBranchScale"/>).</summary>
    public float Scale { get; init; } = 1f;

    public long RowLength => Shape[0];
    public long Rows => Shape.Skip(1).Aggregate(1L, (a, b) => a * b);
    public long ElementCount => RowLength * Rows;

    /// <summary>1-D tensors, routers and biases stay F32 like llama.cpp's quantizer leaves them (SPEC 2.10).</summary>
    public bool AlwaysF32 => Shape.Length == 1 || Role is WeightRole.Norm or WeightRole.Router or WeightRole.ExpertBias;

    public static SyntheticTensor Matrix(string name, long rowLength, params long[] outer) =>
        new(name, [rowLength, .. outer], WeightRole.Matrix, (int)rowLength, LayerOf(name));

    public static SyntheticTensor Norm(string name, long length) =>
        new(name, [length], WeightRole.Norm, (int)length, LayerOf(name));

    private static int LayerOf(string name) =>
        name.StartsWith("blk.", StringComparison.Ordinal) ? int.Parse(name.AsSpan(4, name.IndexOf('.', 4) - 4)) : -1;
}

/// <summary>What an architecture file describes: its presets, metadata keys, tensor set and vocabulary.</summary>
public interface ISyntheticArchitecture
{
    /// <summary>The --arch name.</summary>
    string Name { get; }

    /// <summary>The general.architecture written to the file (mixtral is "llama").</summary>
    string GgufArchitecture { get; }

    /// <summary>The preset's shape, or null if this architecture has no such preset.</summary>
    SyntheticModelSpec? Preset(string preset);

    /// <summary>
    /// Whether skew is folded into the router rows (a logit offset, so popularity follows a Zipf law while each token
    /// still picks by its own logits). Every architecture does: a selection bias added to softmax or sigmoid scores,
    /// which lie in (0, 1), would outweigh them and route nearly every token to the same experts.
    /// </summary>
    bool FoldsRouterBias { get; }

    /// <summary>Throws <see cref="ArgumentException"/> when the options do not fit this spec.</summary>
    void Validate(SyntheticModelSpec spec, SyntheticOptions options);

    /// <summary>Adds the architecture's hyper-parameter keys (prefix <see cref="GgufArchitecture"/>), exact GGUF types.</summary>
    void AddMetadata(GgufWriter writer, SyntheticModelSpec spec, SyntheticOptions options, int vocabSize);

    /// <summary>Every tensor, in file order.</summary>
    IEnumerable<SyntheticTensor> Tensors(SyntheticModelSpec spec, SyntheticOptions options, int vocabSize);

    SyntheticVocab Vocab(SyntheticModelSpec spec);
}
