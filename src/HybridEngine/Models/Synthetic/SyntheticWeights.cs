namespace HybridEngine.Models.Synthetic;

/// <summary>
/// Produces the float values of synthetic tensors row by row from <see cref="SyntheticRandom"/>. Every value is a
/// function of (seed, tensor name, element index) only, so rows can be made in parallel and in any order.
/// </summary>
public sealed class SyntheticWeights
{
    /// <summary>Norm weights are 1 + this·z: close to the identity but not exactly, so a swapped norm shows.</summary>
    public const float NormNoise = 0.05f;

    /// <summary>exp_probs_b gets this·z on top of the popularity bias so it is never all zeros.</summary>
    public const float ExpertBiasNoise = 0.01f;

    /// <summary>
    /// Length of the shared direction added to each embedding row, relative to the row's own norm √hidden: after
    /// RMSNorm a hidden state then projects onto the unit direction d by about √(hidden/2), which is what the
    /// router rows divide by to turn their folded bias into a logit offset.
    /// </summary>
    public const float EmbeddingDirection = 1f;

    private readonly SyntheticModelSpec _spec;
    private readonly SyntheticOptions _options;
    private readonly bool _foldRouterBias;
    private readonly float[] _direction; // [hidden], unit length

    public SyntheticWeights(SyntheticModelSpec spec, SyntheticOptions options, bool foldRouterBias)
    {
        _spec = spec;
        _options = options;
        _foldRouterBias = foldRouterBias && options.Skew != 0f;
        _direction = new float[spec.Hidden];
        ulong key = SyntheticRandom.TensorKey(options.Seed, "synthetic.shared_direction");
        for (int j = 0; j < spec.Hidden; j++) _direction[j] = SyntheticRandom.Normal(key, j);
        // Exactly unit length: the folded router bias is scaled by |d|², so a random length would distort it.
        float norm = MathF.Sqrt(_direction.Sum(v => v * v));
        for (int j = 0; j < spec.Hidden; j++) _direction[j] /= norm;
    }

    /// <summary>
    /// The selection bias of each expert of one layer: −skew·ln(1 + rank), where rank is the expert's place in a
    /// seeded per-layer permutation. As a logit offset this multiplies softmax probabilities by (1+rank)^−skew, a
    /// Zipf law with exponent skew.
    /// </summary>
    public float[] PopularityBias(int layer)
    {
        var bias = new float[_spec.Experts];
        if (_options.Skew == 0f) return bias;
        int[] rank = SyntheticRandom.Permutation(SyntheticRandom.TensorKey(_options.Seed, $"blk.{layer}.expert_popularity"), _spec.Experts);
        for (int e = 0; e < bias.Length; e++) bias[e] = -_options.Skew * MathF.Log(1 + rank[e]);
        return bias;
    }

    /// <summary>A per-tensor context holding the tensor's stream key and any per-layer table, made once per tensor.</summary>
    public RowSource For(SyntheticTensor tensor) => new(this, tensor);

    public sealed class RowSource
    {
        private readonly SyntheticWeights _owner;
        private readonly SyntheticTensor _tensor;
        private readonly ulong _key;
        private readonly float[]? _bias;

        internal RowSource(SyntheticWeights owner, SyntheticTensor tensor)
        {
            _owner = owner;
            _tensor = tensor;
            string keyName = tensor.Role is WeightRole.KFromKvB or WeightRole.VFromKvB ? KvBName(tensor.Layer) : tensor.Name;
            _key = SyntheticRandom.TensorKey(owner._options.Seed, keyName);
            if (tensor.Role is WeightRole.Router or WeightRole.ExpertBias) _bias = owner.PopularityBias(tensor.Layer);
        }

        public static string KvBName(int layer) => $"blk.{layer}.attn_kv_b.weight";

        /// <summary>Fills <paramref name="output"/> (one row, ne0 values) with row <paramref name="row"/> of the tensor.</summary>
        public void FillRow(long row, Span<float> output)
        {
            var spec = _owner._spec;
            long n = _tensor.RowLength;
            long start = row * n;
            float std = 1f / MathF.Sqrt(_tensor.FanIn);
            switch (_tensor.Role)
            {
                case WeightRole.Matrix:
                    std *= _tensor.Scale;
                    for (int j = 0; j < n; j++) output[j] = std * SyntheticRandom.Normal(_key, start + j);
                    break;
                case WeightRole.Norm:
                    for (int j = 0; j < n; j++) output[j] = 1f + NormNoise * SyntheticRandom.Normal(_key, start + j);
                    break;
                case WeightRole.Embedding:
                    float shift = _owner._foldRouterBias ? EmbeddingDirection * MathF.Sqrt(n) : 0f;
                    for (int j = 0; j < n; j++) output[j] = SyntheticRandom.Normal(_key, start + j) + shift * _owner._direction[j];
                    break;
                case WeightRole.Router:
                {
                    for (int j = 0; j < n; j++) output[j] = std * SyntheticRandom.Normal(_key, start + j);
                    if (!_owner._foldRouterBias) break;
                    // Row = expert. h·d ≈ √(hidden/2) for RMS-normalised states (EmbeddingDirection = 1), so a row
                    // component bias·d/√(hidden/2) adds about `bias` to that expert's logit. The random part is made
                    // orthogonal to d first: otherwise its own projection (std ≈ 1/√2 after scaling) would swamp the bias.
                    var d = _owner._direction;
                    float along = 0f;
                    for (int j = 0; j < n; j++) along += output[j] * d[j];
                    float fold = _bias![row] / MathF.Sqrt(n / 2f) - along;
                    for (int j = 0; j < n; j++) output[j] += fold * d[j];
                    break;
                }
                case WeightRole.ExpertBias:
                    // With the popularity folded into the router's logits, the selection bias keeps only its noise.
                    for (int j = 0; j < n; j++) output[j] = (_owner._foldRouterBias ? 0f : _bias![j]) + ExpertBiasNoise * SyntheticRandom.Normal(_key, j);
                    break;
                case WeightRole.KFromKvB:
                {
                    // attn_k_b {nope, kr, heads}: row (h, c) holds W_kv_b[h·(nope+dv) + d][c] for d < nope (SPEC 3.2).
                    int kr = spec.KvLoraRank, per = spec.NopeDim + spec.ValueDim;
                    long h = row / kr, c = row % kr;
                    float kvStd = 1f / MathF.Sqrt(kr);
                    for (int d = 0; d < n; d++) output[d] = kvStd * SyntheticRandom.Normal(_key, (h * per + d) * kr + c);
                    break;
                }
                case WeightRole.VFromKvB:
                {
                    // attn_v_b {kr, dv, heads}: row (h, v) is W_kv_b row h·(nope+dv) + nope + v, all kr columns.
                    int kr = spec.KvLoraRank, per = spec.NopeDim + spec.ValueDim;
                    long h = row / spec.ValueDim, v = row % spec.ValueDim;
                    long kvRow = h * per + spec.NopeDim + v;
                    float kvStd = 1f / MathF.Sqrt(kr);
                    for (int c = 0; c < n; c++) output[c] = kvStd * SyntheticRandom.Normal(_key, kvRow * kr + c);
                    break;
                }
                default:
                    throw new InvalidOperationException($"unknown weight role {_tensor.Role}");
            }
        }
    }
}
