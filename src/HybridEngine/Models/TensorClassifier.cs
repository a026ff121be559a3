using System.Globalization;

namespace HybridEngine.Models;

/// <summary>What a weight is for, as far as placement and reporting care.</summary>
public enum TensorClass
{
    Embeddings,
    Attention,
    DenseFfn,
    SharedExperts,
    RoutedExperts,
    Router,
    Norms,
    Output,
    Other,
}

/// <summary>
/// Classifies GGUF tensors by their llama.cpp names (<c>token_embd.weight</c>, <c>blk.N.ffn_up_exps.weight</c>, ...).
/// llama.cpp names tensors uniformly across architectures, so rules over the name suffice (SPEC 3.2).
/// </summary>
public static class TensorClassifier
{
    private const string LayerPrefix = "blk.";

    /// <summary>The class of a tensor name. Rules are checked in order; the first that matches wins.</summary>
    public static TensorClass Classify(string name)
    {
        string stem = Stem(name);
        // Norm weights are tiny and read every token; "attn_q_a_norm" or "output_norm" is a norm first.
        if (stem.Contains("norm", StringComparison.Ordinal)) return TensorClass.Norms;
        if (stem == "token_embd" || stem.StartsWith("token_embd_", StringComparison.Ordinal)) return TensorClass.Embeddings;
        if (stem == "output") return TensorClass.Output;
        // "ffn_gate_inp_shexp" (the shared expert's gate) belongs with the shared expert, so shexp goes before the router.
        if (stem.EndsWith("_shexp", StringComparison.Ordinal)) return TensorClass.SharedExperts;
        if (stem.EndsWith("_exps", StringComparison.Ordinal)) return TensorClass.RoutedExperts;
        if (stem is "ffn_gate_inp" or "exp_probs_b" or "ffn_exp_probs_b") return TensorClass.Router;
        if (stem.StartsWith("attn_", StringComparison.Ordinal)) return TensorClass.Attention;
        if (stem is "ffn_gate" or "ffn_up" or "ffn_down" or "ffn_gate_up") return TensorClass.DenseFfn;
        return TensorClass.Other;
    }

    /// <summary>The layer index of a <c>blk.N.*</c> name; false for model-level tensors.</summary>
    public static bool TryGetLayer(string name, out int layer)
    {
        layer = -1;
        if (!name.StartsWith(LayerPrefix, StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', LayerPrefix.Length);
        if (dot < 0) return false;
        return int.TryParse(name.AsSpan(LayerPrefix.Length, dot - LayerPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out layer);
    }

    /// <summary>Lower-case words for reports and JSON: "routed_experts".</summary>
    public static string DisplayName(TensorClass tensorClass) => tensorClass switch
    {
        TensorClass.Embeddings => "embeddings",
        TensorClass.Attention => "attention",
        TensorClass.DenseFfn => "dense_ffn",
        TensorClass.SharedExperts => "shared_experts",
        TensorClass.RoutedExperts => "routed_experts",
        TensorClass.Router => "router",
        TensorClass.Norms => "norms",
        TensorClass.Output => "output",
        _ => "other",
    };

    /// <summary>The name without the <c>blk.N.</c> prefix and the <c>.weight</c>/<c>.bias</c> suffix.</summary>
    private static string Stem(string name)
    {
        string stem = name;
        if (TryGetLayer(stem, out _)) stem = stem[(stem.IndexOf('.', LayerPrefix.Length) + 1)..];
        int suffix = stem.LastIndexOf('.');
        if (suffix > 0 && stem[(suffix + 1)..] is "weight" or "bias" or "scale") stem = stem[..suffix];
        return stem;
    }
}
