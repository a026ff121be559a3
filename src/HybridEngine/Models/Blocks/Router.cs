using HybridEngine.Kernels;

namespace HybridEngine.Models.Blocks;

/// <summary>How router logits become expert scores (llama.cpp's expert_gating_func).</summary>
public enum GatingFunction { Softmax = 1, Sigmoid = 2 }

/// <summary>
/// The routing rule of an MoE layer.
/// </summary>
/// <param name="NormalizeWeights">Divide the chosen weights by their sum (Mixtral, Qwen3-MoE, DeepSeek-V3).</param>
/// <param name="WeightsScale">Multiply the chosen weights by this (0 or 1 = unchanged).</param>
/// <param name="Groups">Expert groups (0 or 1 = no group limit) and how many of them may be chosen.</param>
public sealed record RouterSpec(int Experts, int ExpertsUsed, GatingFunction Gating, bool NormalizeWeights,
    float WeightsScale = 0f, int Groups = 0, int GroupsUsed = 0);

/// <summary>
/// Chooses the experts of one token (SPEC 4.4, as llama.cpp's build_moe_ffn does it):
/// <code>
///   s[e]  = softmax(logits)[e]  or  sigmoid(logits[e])
///   b[e]  = s[e] + bias[e]                      (selection only; bias optional)
///   with groups: keep the GroupsUsed groups whose two best b are largest, b = −∞ elsewhere
///   idx   = top-k of b;   w[j] = s[idx[j]]
///   w    /= max(Σ w, 6.103515625e-5)            (when normalising)
///   w    *= scale                               (when scale ∉ {0, 1})
/// </code>
/// </summary>
public static class Router
{
    /// <param name="logits">[experts] router logits; overwritten with the scores s.</param>
    /// <param name="scratch">[2·experts]</param>
    public static void Route(RouterSpec spec, Span<float> logits, ReadOnlySpan<float> bias, Span<int> chosen, Span<float> weights,
        Span<float> scratch, SimdLevel level)
    {
        int n = spec.Experts;
        var scores = logits[..n];
        if (spec.Gating == GatingFunction.Softmax) Softmax.ApplyInPlace(scores, 1f, n, level);
        else for (int e = 0; e < n; e++) scores[e] = 1f / (1f + MathF.Exp(-scores[e]));

        var selection = scratch[..n];
        if (bias.IsEmpty) scores.CopyTo(selection);
        else for (int e = 0; e < n; e++) selection[e] = scores[e] + bias[e];

        if (spec.Groups > 1 && spec.GroupsUsed < spec.Groups) MaskGroups(spec, selection, scratch[n..]);

        TopK.Select(selection, chosen[..spec.ExpertsUsed]);
        float sum = 0;
        for (int j = 0; j < spec.ExpertsUsed; j++) sum += weights[j] = scores[chosen[j]];
        if (spec.NormalizeWeights)
        {
            float total = MathF.Max(sum, 6.103515625e-5f);
            for (int j = 0; j < spec.ExpertsUsed; j++) weights[j] /= total;
        }
        if (spec.WeightsScale != 0f && spec.WeightsScale != 1f)
            for (int j = 0; j < spec.ExpertsUsed; j++) weights[j] *= spec.WeightsScale;
    }

    // Group score = the sum of its two best selection scores; experts outside the best GroupsUsed groups get −∞.
    private static void MaskGroups(RouterSpec spec, Span<float> selection, Span<float> scratch)
    {
        int perGroup = spec.Experts / spec.Groups;
        var groupScores = scratch[..spec.Groups];
        for (int g = 0; g < spec.Groups; g++)
        {
            float best = float.NegativeInfinity, second = float.NegativeInfinity;
            foreach (float v in selection.Slice(g * perGroup, perGroup))
            {
                if (v > best) { second = best; best = v; }
                else if (v > second) second = v;
            }
            groupScores[g] = best + second;
        }
        Span<int> keep = stackalloc int[spec.GroupsUsed];
        TopK.Select(groupScores, keep);
        for (int g = 0; g < spec.Groups; g++)
        {
            if (keep.Contains(g)) continue;
            selection.Slice(g * perGroup, perGroup).Fill(float.NegativeInfinity);
        }
    }
}
