using HybridEngine.Gguf;

namespace HybridEngine.Models.Synthetic;

/// <summary>
/// llama (general.architecture "llama"): GQA, NORM RoPE, SwiGLU FFN, SentencePiece vocab. With experts it is
/// Mixtral (SPEC 5): <c>llama.expert_count</c>/<c>expert_used_count</c>, a router and <c>ffn_*_exps</c> of size
/// feed_forward_length, softmax top-k renormalised.
/// </summary>
public sealed class LlamaSynth : ISyntheticArchitecture
{
    public static readonly LlamaSynth Dense = new(moe: false);
    public static readonly LlamaSynth Mixtral = new(moe: true);

    private readonly bool _moe;

    private LlamaSynth(bool moe) => _moe = moe;

    public string Name => _moe ? "mixtral" : "llama";
    public string GgufArchitecture => "llama";
    public bool FoldsRouterBias => true;

    public SyntheticModelSpec? Preset(string preset)
    {
        // q4_k: ffn_down(_exps) rows of 256 stay Q4_K in tiny; rows of hidden (128) fall back to Q5_0.
        var spec = preset switch
        {
            "tiny" => Base(preset) with { Hidden = 128, Layers = 2, Heads = 4, KvHeads = 2, HeadDim = 32, Ffn = 256 },
            "small" when _moe => Base(preset) with { Hidden = 1024, Layers = 8, Heads = 16, KvHeads = 4, HeadDim = 64, Ffn = 1024 },
            "small" => Base(preset) with { Hidden = 1024, Layers = 12, Heads = 16, KvHeads = 4, HeadDim = 64, Ffn = 4096 },
            "medium" when _moe => Base(preset) with { Hidden = 2048, Layers = 16, Heads = 16, KvHeads = 4, HeadDim = 128, Ffn = 3072 },
            "medium" => Base(preset) with { Hidden = 2560, Layers = 32, Heads = 20, KvHeads = 4, HeadDim = 128, Ffn = 8192 },
            _ => null,
        };
        return spec is null || !_moe ? spec : spec with { Experts = 8, ExpertsUsed = 2 };
    }

    private SyntheticModelSpec Base(string preset) => new()
    {
        Arch = Name, Preset = preset, Hidden = 0, Layers = 0, Heads = 0,
        Gating = ExpertGating.Softmax, ExpertWeightsNorm = true,
        ContextLength = _moe ? 32768 : 4096, RopeFreqBase = _moe ? 1e6f : 10000f, RmsEps = 1e-5f,
    };

    public void Validate(SyntheticModelSpec spec, SyntheticOptions options)
    {
        if (options.Groups > 0) throw new ArgumentException("--groups applies to deepseek2 only");
        if (!spec.IsMoe && options.Skew != 0f) throw new ArgumentException("--skew needs experts; llama has none (use mixtral)");
        if (spec.HeadDim * spec.Heads != spec.Hidden) throw new ArgumentException("llama needs heads × head_dim = hidden");
        if (spec.Heads % spec.KvHeads != 0) throw new ArgumentException("llama heads must be a multiple of kv heads");
    }

    public void AddMetadata(GgufWriter w, SyntheticModelSpec s, SyntheticOptions o, int vocabSize)
    {
        string p = GgufArchitecture + ".";
        w.Add(p + "context_length", GgufValue.UInt32((uint)s.ContextLength));
        w.Add(p + "embedding_length", GgufValue.UInt32((uint)s.Hidden));
        w.Add(p + "block_count", GgufValue.UInt32((uint)s.Layers));
        w.Add(p + "feed_forward_length", GgufValue.UInt32((uint)s.Ffn));
        w.Add(p + "attention.head_count", GgufValue.UInt32((uint)s.Heads));
        w.Add(p + "attention.head_count_kv", GgufValue.UInt32((uint)s.KvHeads));
        w.Add(p + "rope.dimension_count", GgufValue.UInt32((uint)s.HeadDim));
        w.Add(p + "rope.freq_base", GgufValue.Float32(s.RopeFreqBase));
        w.Add(p + "attention.layer_norm_rms_epsilon", GgufValue.Float32(s.RmsEps));
        if (s.IsMoe)
        {
            w.Add(p + "expert_count", GgufValue.UInt32((uint)s.Experts));
            w.Add(p + "expert_used_count", GgufValue.UInt32((uint)s.ExpertsUsed));
        }
        w.Add(p + "vocab_size", GgufValue.UInt32((uint)vocabSize));
    }

    public IEnumerable<SyntheticTensor> Tensors(SyntheticModelSpec s, SyntheticOptions o, int vocabSize)
    {
        int e = s.Hidden, kv = s.HeadDim * s.KvHeads;
        yield return new SyntheticTensor("token_embd.weight", [e, vocabSize], WeightRole.Embedding, e);
        for (int i = 0; i < s.Layers; i++)
        {
            string b = $"blk.{i}.";
            yield return SyntheticTensor.Norm(b + "attn_norm.weight", e);
            yield return SyntheticTensor.Matrix(b + "attn_q.weight", e, e);
            yield return SyntheticTensor.Matrix(b + "attn_k.weight", e, kv);
            yield return SyntheticTensor.Matrix(b + "attn_v.weight", e, kv);
            yield return SyntheticTensor.Matrix(b + "attn_output.weight", e, e);
            yield return SyntheticTensor.Norm(b + "ffn_norm.weight", e);
            if (!s.IsMoe)
            {
                yield return SyntheticTensor.Matrix(b + "ffn_gate.weight", e, s.Ffn);
                yield return SyntheticTensor.Matrix(b + "ffn_up.weight", e, s.Ffn);
                yield return SyntheticTensor.Matrix(b + "ffn_down.weight", s.Ffn, e);
                continue;
            }
            yield return new SyntheticTensor(b + "ffn_gate_inp.weight", [e, s.Experts], WeightRole.Router, e, i);
            yield return SyntheticTensor.Matrix(b + "ffn_gate_exps.weight", e, s.Ffn, s.Experts);
            yield return SyntheticTensor.Matrix(b + "ffn_up_exps.weight", e, s.Ffn, s.Experts);
            yield return SyntheticTensor.Matrix(b + "ffn_down_exps.weight", s.Ffn, e, s.Experts);
        }
        yield return SyntheticTensor.Norm("output_norm.weight", e);
        yield return SyntheticTensor.Matrix("output.weight", e, vocabSize);
    }

    public SyntheticVocab Vocab(SyntheticModelSpec spec) => SyntheticVocab.SentencePiece(spec.PaddedVocab);
}
