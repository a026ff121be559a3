using HybridEngine.Gguf;

namespace HybridEngine.Models.Synthetic;

/// <summary>
/// deepseek2 (DeepSeek-V2/V3/R1): MLA attention, leading dense layers, routed + shared experts (SPEC 3).
/// tiny/small/medium are V3-like (q LoRA, sigmoid gating with exp_probs_b, normalised weights ×2.5, YaRN);
/// v2lite is DeepSeek-V2-Lite's exact shape (SPEC 3.3) with a synthetic vocab padded to 102400 tokens.
/// </summary>
public sealed class Deepseek2Synth : ISyntheticArchitecture
{
    public string Name => "deepseek2";
    public string GgufArchitecture => "deepseek2";
    public bool FoldsRouterBias => true;

    public SyntheticModelSpec? Preset(string preset) => preset switch
    {
        // Rows: ne0 ∈ {128 hidden, 32/64 q/kv/expert} fall back under q4_k; q_b, v_b, kv_b, dense ffn_down (256) stay Q4_K.
        "tiny" => V3Like(preset) with
        {
            Hidden = 128, Layers = 3, Heads = 4, Ffn = 256, ExpertFfn = 64, Experts = 16, ExpertsUsed = 4, SharedExperts = 1,
            DenseLeadLayers = 1, QLoraRank = 256, KvLoraRank = 256, NopeDim = 32, RopeDim = 32, ValueDim = 32,
        },
        "small" => V3Like(preset) with
        {
            Hidden = 1024, Layers = 8, Heads = 8, Ffn = 2816, ExpertFfn = 256, Experts = 32, ExpertsUsed = 4, SharedExperts = 1,
            DenseLeadLayers = 1, QLoraRank = 512, KvLoraRank = 256, NopeDim = 64, RopeDim = 32, ValueDim = 64,
        },
        "medium" => V3Like(preset) with
        {
            Hidden = 2048, Layers = 13, Heads = 16, Ffn = 5632, ExpertFfn = 512, Experts = 64, ExpertsUsed = 6, SharedExperts = 2,
            DenseLeadLayers = 1, QLoraRank = 768, KvLoraRank = 512, NopeDim = 128, RopeDim = 64, ValueDim = 128,
        },
        "v2lite" => new SyntheticModelSpec
        {
            Arch = Name, Preset = preset,
            Hidden = 2048, Layers = 27, Heads = 16, Ffn = 10944, ExpertFfn = 1408, Experts = 64, ExpertsUsed = 6, SharedExperts = 2,
            DenseLeadLayers = 1, QLoraRank = 0, KvLoraRank = 512, NopeDim = 128, RopeDim = 64, ValueDim = 128,
            Gating = ExpertGating.Softmax, ExpertWeightsNorm = false, ExpertWeightsScale = 1f,
            ContextLength = 163840, YarnFactor = 40f, YarnOriginalContext = 4096, YarnLogMultiplier = 0.0707f,
            PaddedVocab = 102400,
        },
        _ => null,
    };

    private SyntheticModelSpec V3Like(string preset) => new()
    {
        Arch = Name, Preset = preset, Hidden = 0, Layers = 0, Heads = 0,
        Gating = ExpertGating.Sigmoid, ExpertWeightsNorm = true, ExpertWeightsScale = 2.5f,
        ContextLength = 163840, YarnFactor = 40f, YarnOriginalContext = 4096, YarnLogMultiplier = 0.1f,
    };

    /// <summary>llama.cpp decides "lite" (attn_q instead of q LoRA) from the layer count (SPEC 3.1).</summary>
    public static bool IsLiteLayerCount(int layers) => layers is 26 or 27;

    public void Validate(SyntheticModelSpec spec, SyntheticOptions options)
    {
        if ((spec.QLoraRank == 0) != IsLiteLayerCount(spec.Layers))
            throw new ArgumentException($"deepseek2 with {spec.Layers} layers {(spec.QLoraRank == 0 ? "needs" : "cannot have")} a q_lora_rank: llama.cpp treats 26/27 layers as lite (attn_q)");
        if (spec.NopeDim % 32 != 0 || spec.KvLoraRank % 32 != 0 || spec.RopeDim % 2 != 0)
            throw new ArgumentException("deepseek2 nope and kv_lora_rank must divide by 32 and the rope dim must be even");
        if (options.Groups > 0)
        {
            if (spec.Experts % options.Groups != 0)
                throw new ArgumentException($"--groups {options.Groups} does not divide the {spec.Experts} experts");
            if (GroupsUsed(options.Groups) * (spec.Experts / options.Groups) < spec.ExpertsUsed)
                throw new ArgumentException($"--groups {options.Groups} leaves fewer than {spec.ExpertsUsed} selectable experts");
        }
    }

    /// <summary>Groups kept per token: half of them (V3: 4 of 8), at least one.</summary>
    public static int GroupsUsed(int groups) => Math.Max(1, groups / 2);

    public void AddMetadata(GgufWriter w, SyntheticModelSpec s, SyntheticOptions o, int vocabSize)
    {
        string p = GgufArchitecture + ".";
        bool mla = o.Layout == MlaLayout.KbVb;
        w.Add(p + "context_length", GgufValue.UInt32((uint)s.ContextLength));
        w.Add(p + "embedding_length", GgufValue.UInt32((uint)s.Hidden));
        w.Add(p + "block_count", GgufValue.UInt32((uint)s.Layers));
        w.Add(p + "feed_forward_length", GgufValue.UInt32((uint)s.Ffn));
        w.Add(p + "attention.head_count", GgufValue.UInt32((uint)s.Heads));
        // MLA files are MQA over the 576-wide latent; legacy files are plain MHA with dk = nope + rope (SPEC 3.1, 4.6).
        w.Add(p + "attention.head_count_kv", GgufValue.UInt32(mla ? 1u : (uint)s.Heads));
        w.Add(p + "attention.key_length", GgufValue.UInt32((uint)(mla ? s.KvLoraRank + s.RopeDim : s.NopeDim + s.RopeDim)));
        w.Add(p + "attention.value_length", GgufValue.UInt32((uint)(mla ? s.KvLoraRank : s.ValueDim)));
        if (mla)
        {
            w.Add(p + "attention.key_length_mla", GgufValue.UInt32((uint)(s.NopeDim + s.RopeDim)));
            w.Add(p + "attention.value_length_mla", GgufValue.UInt32((uint)s.ValueDim));
        }
        w.Add(p + "rope.dimension_count", GgufValue.UInt32((uint)s.RopeDim));
        w.Add(p + "rope.freq_base", GgufValue.Float32(s.RopeFreqBase));
        if (s.YarnFactor > 0)
        {
            w.Add(p + "rope.scaling.type", GgufValue.String("yarn"));
            w.Add(p + "rope.scaling.factor", GgufValue.Float32(s.YarnFactor));
            w.Add(p + "rope.scaling.original_context_length", GgufValue.UInt32((uint)s.YarnOriginalContext));
            w.Add(p + "rope.scaling.yarn_log_multiplier", GgufValue.Float32(s.YarnLogMultiplier));
        }
        w.Add(p + "attention.layer_norm_rms_epsilon", GgufValue.Float32(s.RmsEps));
        w.Add(p + "leading_dense_block_count", GgufValue.UInt32((uint)s.DenseLeadLayers));
        if (s.QLoraRank > 0) w.Add(p + "attention.q_lora_rank", GgufValue.UInt32((uint)s.QLoraRank));
        w.Add(p + "attention.kv_lora_rank", GgufValue.UInt32((uint)s.KvLoraRank));
        w.Add(p + "expert_feed_forward_length", GgufValue.UInt32((uint)s.ExpertFfn));
        w.Add(p + "expert_count", GgufValue.UInt32((uint)s.Experts));
        w.Add(p + "expert_used_count", GgufValue.UInt32((uint)s.ExpertsUsed));
        w.Add(p + "expert_shared_count", GgufValue.UInt32((uint)s.SharedExperts));
        w.Add(p + "expert_weights_scale", GgufValue.Float32(s.ExpertWeightsScale));
        w.Add(p + "expert_weights_norm", GgufValue.Bool(s.ExpertWeightsNorm));
        w.Add(p + "expert_gating_func", GgufValue.UInt32((uint)s.Gating));
        if (o.Groups > 0)
        {
            w.Add(p + "expert_group_count", GgufValue.UInt32((uint)o.Groups));
            w.Add(p + "expert_group_used_count", GgufValue.UInt32((uint)GroupsUsed(o.Groups)));
        }
        w.Add(p + "vocab_size", GgufValue.UInt32((uint)vocabSize));
    }

    /// <summary>The tensor set of SPEC 3.2. exp_probs_b is written for sigmoid gating (V3); skew is folded into the router rows.</summary>
    public IEnumerable<SyntheticTensor> Tensors(SyntheticModelSpec s, SyntheticOptions o, int vocabSize)
    {
        int e = s.Hidden, dk = s.NopeDim + s.RopeDim, x = s.Experts;
        float r = s.ResidualBranchScale;
        yield return new SyntheticTensor("token_embd.weight", [e, vocabSize], WeightRole.Embedding, e);
        for (int i = 0; i < s.Layers; i++)
        {
            string b = $"blk.{i}.";
            yield return SyntheticTensor.Norm(b + "attn_norm.weight", e);
            if (s.QLoraRank > 0)
            {
                yield return SyntheticTensor.Matrix(b + "attn_q_a.weight", e, s.QLoraRank);
                yield return SyntheticTensor.Norm(b + "attn_q_a_norm.weight", s.QLoraRank);
                yield return SyntheticTensor.Matrix(b + "attn_q_b.weight", s.QLoraRank, s.Heads * dk);
            }
            else
            {
                yield return SyntheticTensor.Matrix(b + "attn_q.weight", e, s.Heads * dk);
            }
            yield return SyntheticTensor.Matrix(b + "attn_kv_a_mqa.weight", e, s.KvLoraRank + s.RopeDim);
            yield return SyntheticTensor.Norm(b + "attn_kv_a_norm.weight", s.KvLoraRank);
            if (o.Layout == MlaLayout.KbVb)
            {
                yield return new SyntheticTensor(b + "attn_k_b.weight", [s.NopeDim, s.KvLoraRank, s.Heads], WeightRole.KFromKvB, s.KvLoraRank, i);
                yield return new SyntheticTensor(b + "attn_v_b.weight", [s.KvLoraRank, s.ValueDim, s.Heads], WeightRole.VFromKvB, s.KvLoraRank, i);
            }
            else
            {
                yield return SyntheticTensor.Matrix(b + "attn_kv_b.weight", s.KvLoraRank, s.Heads * (s.NopeDim + s.ValueDim));
            }
            yield return SyntheticTensor.Matrix(b + "attn_output.weight", s.Heads * s.ValueDim, e) with { Scale = r };
            yield return SyntheticTensor.Norm(b + "ffn_norm.weight", e);
            if (i < s.DenseLeadLayers)
            {
                yield return SyntheticTensor.Matrix(b + "ffn_gate.weight", e, s.Ffn);
                yield return SyntheticTensor.Matrix(b + "ffn_up.weight", e, s.Ffn);
                yield return SyntheticTensor.Matrix(b + "ffn_down.weight", s.Ffn, e) with { Scale = r };
                continue;
            }
            yield return new SyntheticTensor(b + "ffn_gate_inp.weight", [e, x], WeightRole.Router, e, i);
            if (s.Gating == ExpertGating.Sigmoid)
                yield return new SyntheticTensor(b + "exp_probs_b.bias", [x], WeightRole.ExpertBias, x, i);
            yield return SyntheticTensor.Matrix(b + "ffn_gate_exps.weight", e, s.ExpertFfn, x);
            yield return SyntheticTensor.Matrix(b + "ffn_up_exps.weight", e, s.ExpertFfn, x);
            yield return SyntheticTensor.Matrix(b + "ffn_down_exps.weight", s.ExpertFfn, e, x) with { Scale = r };
            yield return SyntheticTensor.Matrix(b + "ffn_gate_shexp.weight", e, s.ExpertFfn * s.SharedExperts);
            yield return SyntheticTensor.Matrix(b + "ffn_up_shexp.weight", e, s.ExpertFfn * s.SharedExperts);
            yield return SyntheticTensor.Matrix(b + "ffn_down_shexp.weight", s.ExpertFfn * s.SharedExperts, e) with { Scale = r };
        }
        yield return SyntheticTensor.Norm("output_norm.weight", e);
        yield return SyntheticTensor.Matrix("output.weight", e, vocabSize);
    }

    public SyntheticVocab Vocab(SyntheticModelSpec spec) =>
        SyntheticVocab.Gpt2("deepseek-v3", ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"], bos: 0, eos: 1, addBos: true, spec.PaddedVocab);
}
