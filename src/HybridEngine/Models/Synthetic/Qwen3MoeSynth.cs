using HybridEngine.Gguf;

namespace HybridEngine.Models.Synthetic;

/// <summary>
/// qwen3moe (Qwen3-30B-A3B family, SPEC 5): GQA with per-head q/k RMSNorm before NEOX RoPE, softmax top-k routed
/// experts renormalised, no shared expert and no dense layers. Byte-level BPE vocab with the "qwen2" pre-tokenizer.
/// </summary>
public sealed class Qwen3MoeSynth : ISyntheticArchitecture
{
    public string Name => "qwen3moe";
    public string GgufArchitecture => "qwen3moe";
    public bool FoldsRouterBias => true;

    public SyntheticModelSpec? Preset(string preset) => preset switch
    {
        // q4_k: attn_q/attn_output rows of 256 stay Q4_K; hidden (128) and expert (64) rows fall back to Q5_0.
        "tiny" => Base(preset) with { Hidden = 128, Layers = 2, Heads = 4, KvHeads = 2, HeadDim = 64, Ffn = 256, ExpertFfn = 64, Experts = 16, ExpertsUsed = 4 },
        "small" => Base(preset) with { Hidden = 1024, Layers = 8, Heads = 16, KvHeads = 4, HeadDim = 64, Ffn = 2816, ExpertFfn = 256, Experts = 32, ExpertsUsed = 4 },
        "medium" => Base(preset) with { Hidden = 2048, Layers = 16, Heads = 32, KvHeads = 4, HeadDim = 128, Ffn = 6144, ExpertFfn = 384, Experts = 64, ExpertsUsed = 8 },
        _ => null,
    };

    private SyntheticModelSpec Base(string preset) => new()
    {
        Arch = Name, Preset = preset, Hidden = 0, Layers = 0, Heads = 0,
        Gating = ExpertGating.Softmax, ExpertWeightsNorm = true, ContextLength = 40960, RopeFreqBase = 1e6f,
    };

    public void Validate(SyntheticModelSpec spec, SyntheticOptions options)
    {
        if (options.Groups > 0) throw new ArgumentException("--groups applies to deepseek2 only");
        if (spec.Heads % spec.KvHeads != 0) throw new ArgumentException("qwen3moe heads must be a multiple of kv heads");
    }

    public void AddMetadata(GgufWriter w, SyntheticModelSpec s, SyntheticOptions o, int vocabSize)
    {
        string p = GgufArchitecture + ".";
        w.Add(p + "context_length", GgufValue.UInt32((uint)s.ContextLength));
        w.Add(p + "embedding_length", GgufValue.UInt32((uint)s.Hidden));
        w.Add(p + "block_count", GgufValue.UInt32((uint)s.Layers));
        w.Add(p + "feed_forward_length", GgufValue.UInt32((uint)s.Ffn));
        w.Add(p + "expert_feed_forward_length", GgufValue.UInt32((uint)s.ExpertFfn));
        w.Add(p + "attention.head_count", GgufValue.UInt32((uint)s.Heads));
        w.Add(p + "attention.head_count_kv", GgufValue.UInt32((uint)s.KvHeads));
        // head_dim · heads ≠ hidden in general, so the head size must be explicit.
        w.Add(p + "attention.key_length", GgufValue.UInt32((uint)s.HeadDim));
        w.Add(p + "attention.value_length", GgufValue.UInt32((uint)s.HeadDim));
        w.Add(p + "rope.dimension_count", GgufValue.UInt32((uint)s.HeadDim));
        w.Add(p + "rope.freq_base", GgufValue.Float32(s.RopeFreqBase));
        w.Add(p + "attention.layer_norm_rms_epsilon", GgufValue.Float32(s.RmsEps));
        w.Add(p + "expert_count", GgufValue.UInt32((uint)s.Experts));
        w.Add(p + "expert_used_count", GgufValue.UInt32((uint)s.ExpertsUsed));
        w.Add(p + "vocab_size", GgufValue.UInt32((uint)vocabSize));
    }

    public IEnumerable<SyntheticTensor> Tensors(SyntheticModelSpec s, SyntheticOptions o, int vocabSize)
    {
        int e = s.Hidden, hd = s.HeadDim;
        yield return new SyntheticTensor("token_embd.weight", [e, vocabSize], WeightRole.Embedding, e);
        for (int i = 0; i < s.Layers; i++)
        {
            string b = $"blk.{i}.";
            yield return SyntheticTensor.Norm(b + "attn_norm.weight", e);
            yield return SyntheticTensor.Matrix(b + "attn_q.weight", e, hd * s.Heads);
            yield return SyntheticTensor.Matrix(b + "attn_k.weight", e, hd * s.KvHeads);
            yield return SyntheticTensor.Matrix(b + "attn_v.weight", e, hd * s.KvHeads);
            yield return SyntheticTensor.Matrix(b + "attn_output.weight", hd * s.Heads, e);
            yield return SyntheticTensor.Norm(b + "attn_q_norm.weight", hd);
            yield return SyntheticTensor.Norm(b + "attn_k_norm.weight", hd);
            yield return SyntheticTensor.Norm(b + "ffn_norm.weight", e);
            yield return new SyntheticTensor(b + "ffn_gate_inp.weight", [e, s.Experts], WeightRole.Router, e, i);
            yield return SyntheticTensor.Matrix(b + "ffn_gate_exps.weight", e, s.ExpertFfn, s.Experts);
            yield return SyntheticTensor.Matrix(b + "ffn_up_exps.weight", e, s.ExpertFfn, s.Experts);
            yield return SyntheticTensor.Matrix(b + "ffn_down_exps.weight", s.ExpertFfn, e, s.Experts);
        }
        yield return SyntheticTensor.Norm("output_norm.weight", e);
        yield return SyntheticTensor.Matrix("output.weight", e, vocabSize);
    }

    public SyntheticVocab Vocab(SyntheticModelSpec spec) =>
        SyntheticVocab.Gpt2("qwen2", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos: 0, eos: 2, addBos: false, spec.PaddedVocab);
}
