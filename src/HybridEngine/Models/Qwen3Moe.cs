using HybridEngine.Kernels;
using HybridEngine.Models.Blocks;
using HybridEngine.Runtime;

namespace HybridEngine.Models;

/// <summary>
/// <c>qwen3moe</c> (Qwen3-30B-A3B family, SPEC 5):
/// <code>
///   x = token_embd[token]
///   per layer:  h = rmsnorm(x, attn_norm)
///               x += attn_output · GQA(h)      q, k: per-head rmsnorm (attn_q_norm, attn_k_norm) before RoPE NEOX
///               x += MoE(rmsnorm(x, ffn_norm)) softmax over experts → top-k → renormalise; no shared expert
///   logits = output · rmsnorm(x, output_norm)
/// </code>
/// </summary>
public sealed class Qwen3Moe : IModel
{
    private readonly TensorHandle _embedding, _output;
    private readonly float[] _outputNorm;
    private readonly DecoderLayer[] _layers;
    private readonly float _eps;

    private Qwen3Moe(ModelMetadata meta, WeightStore w)
    {
        int hidden = meta.Int("embedding_length");
        int layers = meta.Int("block_count");
        int heads = meta.Int("attention.head_count");
        int kvHeads = meta.Int("attention.head_count_kv", heads);
        int headDim = meta.Int("attention.key_length", hidden / heads);
        int experts = meta.Int("expert_count");
        int expertsUsed = meta.Int("expert_used_count");
        int expertFfn = meta.Int("expert_feed_forward_length", meta.Int("feed_forward_length") / Math.Max(1, expertsUsed));
        _eps = meta.Float("attention.layer_norm_rms_epsilon");
        if (meta.Int("attention.value_length", headDim) != headDim)
            throw new ModelLoadException($"qwen3moe.attention.value_length differs from key_length ({headDim}); not supported.");
        if (expertsUsed <= 0 || expertsUsed > experts)
            throw new ModelLoadException($"qwen3moe.expert_used_count = {expertsUsed} does not fit expert_count = {experts}.");

        var rope = new RopeParameters
        {
            RotaryDims = meta.Int("rope.dimension_count", headDim),
            Mode = RopeMode.Neox,
            FreqBase = meta.Float("rope.freq_base", 10000f),
        };
        int vocab = (int)(meta.File.FindTensor("token_embd.weight")?.Shape.ElementAtOrDefault(1) ?? 0);
        _embedding = w.Matrix("token_embd.weight", hidden, vocab);
        _outputNorm = w.Vector("output_norm.weight", hidden);
        _output = w.Contains("output.weight") ? w.Matrix("output.weight", hidden, vocab) : _embedding;

        Dimensions = new ModelDimensions("qwen3moe", hidden, vocab, layers, heads,
            QueryWidth: heads * headDim, KeyWidth: kvHeads * headDim, ValueWidth: kvHeads * headDim, AttentionWidth: heads * headDim,
            FfnWidth: expertFfn, Experts: experts, ExpertsUsed: expertsUsed, TrainedContext: meta.Int("context_length"));
        var spec = new AttentionSpec(heads, kvHeads, headDim, rope, 1f / MathF.Sqrt(headDim), HeadNormEps: _eps);
        var router = new RouterSpec(experts, expertsUsed, GatingFunction.Softmax, NormalizeWeights: true);

        _layers = new DecoderLayer[layers];
        for (int i = 0; i < layers; i++)
        {
            string b = $"blk.{i}.";
            var attention = new GqaAttention(i, spec,
                w.Matrix(b + "attn_q.weight", hidden, heads * headDim),
                w.Matrix(b + "attn_k.weight", hidden, kvHeads * headDim),
                w.Matrix(b + "attn_v.weight", hidden, kvHeads * headDim),
                w.Matrix(b + "attn_output.weight", heads * headDim, hidden),
                qNorm: w.Vector(b + "attn_q_norm.weight", headDim),
                kNorm: w.Vector(b + "attn_k_norm.weight", headDim));
            w.RegisterExperts(i, b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight", hidden, expertFfn, experts);
            var moe = new MoeFeedForward(i, router, w.Matrix(b + "ffn_gate_inp.weight", hidden, experts), null, w);
            _layers[i] = new DecoderLayer(w.Vector(b + "attn_norm.weight", hidden), attention, w.Vector(b + "ffn_norm.weight", hidden), null, moe);
        }
        Decoder.LinkMoeLayers(_layers);
    }

    public ModelDimensions Dimensions { get; }

    public static IModel Load(ModelMetadata meta, WeightStore weights) => new Qwen3Moe(meta, weights);

    public void Forward(Executor ex, int tokens, bool allLogits)
    {
        Decoder.Embed(ex, _embedding, tokens);
        Decoder.RunLayers(ex, _layers, _eps, tokens);
        Decoder.Logits(ex, _outputNorm, _eps, _output, tokens, allLogits);
    }
}
