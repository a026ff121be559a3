using HybridEngine.Kernels;
using HybridEngine.Models.Blocks;
using HybridEngine.Runtime;

namespace HybridEngine.Models;

/// <summary>
/// <c>deepseek2</c> (DeepSeek-V2, V2-Lite, V2.5, V3, R1; SPEC 3–4):
/// <code>
///   x = token_embd[token]
///   per layer:  x += attn_output · MLA(rmsnorm(x, attn_norm))         absorbed (attn_k_b/attn_v_b, cache [latent | rope key])
///                                                                     or expanded (legacy attn_kv_b, cache of full keys and values)
///               h = rmsnorm(x, ffn_norm)
///               x += layer &lt; leading_dense ? FFN(h) : Σ_j w_j·Expert_j(h) + SharedFFN(h)
///   logits = output · rmsnorm(x, output_norm)
/// </code>
/// Router: softmax or sigmoid scores, exp_probs_b only for choosing, optional group limit, optional renormalisation
/// and scale. RoPE is NORM over the rope dims with YaRN; its magnitude correction lives only in kq_scale.
/// </summary>
public sealed class Deepseek2 : IModel
{
    private readonly TensorHandle _embedding, _output;
    private readonly float[] _outputNorm;
    private readonly DecoderLayer[] _layers;
    private readonly float _eps;

    private Deepseek2(ModelMetadata meta, WeightStore w)
    {
        int hidden = meta.Int("embedding_length");
        int layers = meta.Int("block_count");
        int heads = meta.Int("attention.head_count");
        _eps = meta.Float("attention.layer_norm_rms_epsilon");
        int denseLead = meta.Int("leading_dense_block_count", 0);
        int qr = meta.Int("attention.q_lora_rank", 0);
        int kr = meta.Int("attention.kv_lora_rank");
        int rd = meta.Int("rope.dimension_count");
        bool mla = meta.File.ContainsKey("deepseek2.attention.key_length_mla");
        int dk = mla ? meta.Int("attention.key_length_mla") : meta.Int("attention.key_length");
        int dv = mla ? meta.Int("attention.value_length_mla") : meta.Int("attention.value_length");
        int nope = dk - rd;
        if (nope < 1) throw new ModelLoadException($"deepseek2 key length {dk} leaves no room beside {rd} rope dims.");
        int ffn = meta.Int("feed_forward_length");
        int experts = meta.Int("expert_count", 0);
        int used = meta.Int("expert_used_count", 0);
        int expertFfn = meta.Int("expert_feed_forward_length", 0);
        int shared = meta.Int("expert_shared_count", 0);
        if (experts > 0 && (used <= 0 || used > experts))
            throw new ModelLoadException($"deepseek2.expert_used_count = {used} does not fit expert_count = {experts}.");
        int gatingId = meta.Int("expert_gating_func", (int)GatingFunction.Softmax);
        if (gatingId is not ((int)GatingFunction.Softmax or (int)GatingFunction.Sigmoid))
            throw new ModelLoadException($"deepseek2.expert_gating_func = {gatingId} is not supported; supported: 1 (softmax), 2 (sigmoid).");
        var router = new RouterSpec(experts, used, (GatingFunction)gatingId, meta.Bool("expert_weights_norm", false),
            meta.Float("expert_weights_scale", 0f), meta.Int("expert_group_count", 0), meta.Int("expert_group_used_count", 0));
        if (router.Groups > 1 && (experts % router.Groups != 0 || router.GroupsUsed < 1))
            throw new ModelLoadException($"deepseek2 expert groups {router.Groups}/{router.GroupsUsed} do not fit {experts} experts.");

        var (rope, mscale) = RopeAndScale(meta, rd);
        var spec = new MlaSpec(heads, qr, kr, nope, rd, dv, rope, mscale * mscale / MathF.Sqrt(dk), _eps);

        int vocab = (int)(meta.File.FindTensor("token_embd.weight")?.Shape.ElementAtOrDefault(1) ?? 0);
        _embedding = w.Matrix("token_embd.weight", hidden, vocab);
        _outputNorm = w.Vector("output_norm.weight", hidden);
        _output = w.Contains("output.weight") ? w.Matrix("output.weight", hidden, vocab) : _embedding;
        Dimensions = new ModelDimensions("deepseek2", hidden, vocab, layers, heads,
            QueryWidth: heads * dk,
            KeyWidth: mla ? spec.CacheWidth : MlaExpandedAttention.KeyWidth(spec),
            ValueWidth: mla ? 0 : MlaExpandedAttention.ValueWidth(spec), AttentionWidth: heads * dv,
            FfnWidth: Math.Max(ffn, Math.Max(1, shared) * expertFfn), Experts: experts, ExpertsUsed: used,
            TrainedContext: meta.Int("context_length"), ExtraWidth: mla ? spec.ScratchWidth : MlaExpandedAttention.ScratchWidth(spec));

        _layers = new DecoderLayer[layers];
        for (int i = 0; i < layers; i++)
        {
            string b = $"blk.{i}.";
            var qA = qr > 0 ? w.Matrix(b + "attn_q_a.weight", hidden, qr) : default;
            var qANorm = qr > 0 ? w.Vector(b + "attn_q_a_norm.weight", qr) : null;
            var qB = qr > 0 ? w.Matrix(b + "attn_q_b.weight", qr, heads * dk) : default;
            var q = qr > 0 ? default : w.Matrix(b + "attn_q.weight", hidden, heads * dk);
            var kvA = w.Matrix(b + "attn_kv_a_mqa.weight", hidden, kr + rd);
            var kvANorm = w.Vector(b + "attn_kv_a_norm.weight", kr);
            // Legacy files (attn_kv_b, no *_mla keys) run non-absorbed, as llama.cpp runs them.
            IAttentionBlock attention = mla
                ? new MlaAttention(i, spec, qA, qANorm, qB, q, kvA, kvANorm,
                    w.HeadMatrices(b + "attn_k_b.weight", nope, kr, heads), w.HeadMatrices(b + "attn_v_b.weight", kr, dv, heads),
                    w.Matrix(b + "attn_output.weight", heads * dv, hidden))
                : new MlaExpandedAttention(i, spec, qA, qANorm, qB, q, kvA, kvANorm,
                    w.Matrix(b + "attn_kv_b.weight", kr, heads * (nope + dv)), w.Matrix(b + "attn_output.weight", heads * dv, hidden));

            FeedForward? dense = null;
            MoeFeedForward? moe = null;
            if (i < denseLead || experts == 0)
            {
                dense = new FeedForward(w.Matrix(b + "ffn_gate.weight", hidden, ffn), w.Matrix(b + "ffn_up.weight", hidden, ffn),
                    w.Matrix(b + "ffn_down.weight", ffn, hidden));
            }
            else
            {
                w.RegisterExperts(i, b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight", hidden, expertFfn, experts);
                FeedForward? sharedFfn = shared == 0 ? null : new FeedForward(
                    w.Matrix(b + "ffn_gate_shexp.weight", hidden, expertFfn * shared),
                    w.Matrix(b + "ffn_up_shexp.weight", hidden, expertFfn * shared),
                    w.Matrix(b + "ffn_down_shexp.weight", expertFfn * shared, hidden));
                moe = new MoeFeedForward(i, router, w.Matrix(b + "ffn_gate_inp.weight", hidden, experts),
                    w.OptionalVector(b + "exp_probs_b.bias", experts), w, sharedFfn);
            }
            _layers[i] = new DecoderLayer(w.Vector(b + "attn_norm.weight", hidden), attention, w.Vector(b + "ffn_norm.weight", hidden), dense, moe);
        }
        Decoder.LinkMoeLayers(_layers);
    }

    public ModelDimensions Dimensions { get; }

    public static IModel Load(ModelMetadata meta, WeightStore weights) => new Deepseek2(meta, weights);

    public void Forward(Executor ex, int tokens, bool allLogits)
    {
        Decoder.Embed(ex, _embedding, tokens);
        Decoder.RunLayers(ex, _layers, _eps, tokens);
        Decoder.Logits(ex, _outputNorm, _eps, _output, tokens, allLogits);
    }

    /// <summary>
    /// RoPE (NORM, YaRN when rope.scaling.type = yarn, with cos/sin kept at unit magnitude) and the attention mscale
    /// <c>1 + yarn_log_multiplier·ln(factor)</c> that enters kq_scale squared (SPEC 4.3).
    /// </summary>
    private static (RopeParameters Rope, float MScale) RopeAndScale(ModelMetadata meta, int rotaryDims)
    {
        float freqBase = meta.Float("rope.freq_base", 10000f);
        string type = meta.String("rope.scaling.type") ?? "none";
        float factor = meta.Float("rope.scaling.factor", 0f);
        if (type == "none" || factor <= 1f)
            return (new RopeParameters { RotaryDims = rotaryDims, Mode = RopeMode.Norm, FreqBase = freqBase }, 1f);
        if (type != "yarn")
            throw new ModelLoadException($"deepseek2.rope.scaling.type '{type}' is not supported; supported: none, yarn.");
        int original = meta.Int("rope.scaling.original_context_length", meta.Int("context_length"));
        float mscale = 1f + meta.Float("rope.scaling.yarn_log_multiplier", 0f) * MathF.Log(factor);
        var rope = RopeParameters.Yarn(rotaryDims, RopeMode.Norm, freqBase, factor, original,
            attnFactor: RopeParameters.UnitMagnitudeAttnFactor(1f / factor));
        return (rope, mscale);
    }
}
