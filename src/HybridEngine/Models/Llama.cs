using HybridEngine.Kernels;
using HybridEngine.Models.Blocks;
using HybridEngine.Runtime;

namespace HybridEngine.Models;

/// <summary>
/// <c>llama</c>: Llama-family dense models, and Mixtral-style MoE when <c>llama.expert_count</c> is set.
/// <code>
///   x = token_embd[token]
///   per layer:  x += attn_output · GQA(rmsnorm(x, attn_norm))           RoPE NORM, scale 1/√headDim
///               x += FFN(rmsnorm(x, ffn_norm))                           SwiGLU, or MoE: softmax → top-k → renormalise
///   logits = output · rmsnorm(x, output_norm)                            (output tied to token_embd when absent)
/// </code>
/// </summary>
public sealed class Llama : IModel
{
    private readonly TensorHandle _embedding, _output;
    private readonly float[] _outputNorm;
    private readonly DecoderLayer[] _layers;
    private readonly float _eps;

    private Llama(ModelMetadata meta, WeightStore w)
    {
        int hidden = meta.Int("embedding_length");
        int layers = meta.Int("block_count");
        int heads = meta.Int("attention.head_count");
        int kvHeads = meta.Int("attention.head_count_kv", heads);
        int headDim = meta.Int("attention.key_length", hidden / heads);
        int ffn = meta.Int("feed_forward_length");
        int experts = meta.Int("expert_count", 0);
        int expertsUsed = meta.Int("expert_used_count", 0);
        _eps = meta.Float("attention.layer_norm_rms_epsilon");
        int trainedContext = meta.Int("context_length");
        if (experts > 0 && (expertsUsed <= 0 || expertsUsed > experts))
            throw new ModelLoadException($"llama.expert_used_count = {expertsUsed} does not fit expert_count = {experts}.");

        var rope = new RopeParameters
        {
            RotaryDims = meta.Int("rope.dimension_count", headDim),
            Mode = RopeMode.Norm,
            FreqBase = meta.Float("rope.freq_base", 10000f),
            FreqScale = LinearFreqScale(meta),
        };
        int vocab = (int)(meta.File.FindTensor("token_embd.weight")?.Shape.ElementAtOrDefault(1) ?? 0);
        _embedding = w.Matrix("token_embd.weight", hidden, vocab);
        _outputNorm = w.Vector("output_norm.weight", hidden);
        _output = w.Contains("output.weight") ? w.Matrix("output.weight", hidden, vocab) : _embedding;

        Dimensions = new ModelDimensions("llama", hidden, vocab, layers, heads,
            QueryWidth: heads * headDim, KeyWidth: kvHeads * headDim, ValueWidth: kvHeads * headDim, AttentionWidth: heads * headDim,
            FfnWidth: ffn, Experts: experts, ExpertsUsed: expertsUsed, TrainedContext: trainedContext);
        var spec = new AttentionSpec(heads, kvHeads, headDim, rope, 1f / MathF.Sqrt(headDim));
        var router = new RouterSpec(experts, expertsUsed, GatingFunction.Softmax, NormalizeWeights: true);

        _layers = new DecoderLayer[layers];
        for (int i = 0; i < layers; i++)
        {
            string b = $"blk.{i}.";
            var attention = new GqaAttention(i, spec,
                w.Matrix(b + "attn_q.weight", hidden, heads * headDim),
                w.Matrix(b + "attn_k.weight", hidden, kvHeads * headDim),
                w.Matrix(b + "attn_v.weight", hidden, kvHeads * headDim),
                w.Matrix(b + "attn_output.weight", heads * headDim, hidden));
            FeedForward? dense = null;
            MoeFeedForward? moe = null;
            if (experts == 0)
            {
                dense = new FeedForward(w.Matrix(b + "ffn_gate.weight", hidden, ffn), w.Matrix(b + "ffn_up.weight", hidden, ffn),
                    w.Matrix(b + "ffn_down.weight", ffn, hidden));
            }
            else
            {
                w.RegisterExperts(i, b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight", hidden, ffn, experts);
                moe = new MoeFeedForward(i, router, w.Matrix(b + "ffn_gate_inp.weight", hidden, experts), null, w);
            }
            _layers[i] = new DecoderLayer(w.Vector(b + "attn_norm.weight", hidden), attention, w.Vector(b + "ffn_norm.weight", hidden), dense, moe);
        }
        Decoder.LinkMoeLayers(_layers);
    }

    public ModelDimensions Dimensions { get; }

    public static IModel Load(ModelMetadata meta, WeightStore weights) => new Llama(meta, weights);

    public void Forward(Executor ex, int tokens, bool allLogits)
    {
        Decoder.Embed(ex, _embedding, tokens);
        Decoder.RunLayers(ex, _layers, _eps, tokens);
        Decoder.Logits(ex, _outputNorm, _eps, _output, tokens, allLogits);
    }

    // rope.scaling.type linear (or the old rope.scale_linear key): positions are divided by the factor.
    private static float LinearFreqScale(ModelMetadata meta)
    {
        string type = meta.String("rope.scaling.type") ?? "none";
        if (type is not ("none" or "linear"))
            throw new ModelLoadException($"llama.rope.scaling.type '{type}' is not supported for llama; supported: none, linear.");
        float factor = meta.Float("rope.scaling.factor", meta.Float("rope.scale_linear", 0f));
        return factor > 0 ? 1f / factor : 1f;
    }
}
