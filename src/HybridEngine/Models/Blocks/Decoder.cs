using HybridEngine.Kernels;
using HybridEngine.Runtime;

namespace HybridEngine.Models.Blocks;

/// <summary>The steps every decoder-only transformer shares: embedding lookup, norms, residual adds, the output head.</summary>
public static class Decoder
{
    /// <summary><c>residual[t] = embedding[token_t]</c>, dequantized row by row.</summary>
    public static void Embed(Executor ex, in TensorHandle embedding, int tokens)
    {
        var s = ex.State;
        int hidden = embedding.RowLength;
        for (int t = 0; t < tokens; t++) embedding.DequantizeRow(s.Tokens[t], s.Residual.AsSpan(t * hidden, hidden));
    }

    /// <summary>Runs every layer over the residual stream of <paramref name="tokens"/> tokens (see <see cref="DecoderLayer"/>).</summary>
    public static void RunLayers(Executor ex, IReadOnlyList<DecoderLayer> layers, float eps, int tokens)
    {
        var s = ex.State;
        for (int i = 0; i < layers.Count; i++) // indexed: foreach over the interface would allocate an enumerator per token
        {
            var layer = layers[i];
            int hidden = layer.AttnNorm.Length;
            Norm(ex, layer.AttnNorm, eps, tokens);
            layer.Attention.Forward(ex, tokens);
            AddToResidual(ex, s.BlockOut, hidden, tokens);

            Norm(ex, layer.FfnNorm, eps, tokens);
            if (layer.Moe != null) layer.Moe.Forward(ex, tokens);
            else layer.Dense!.Forward(ex, tokens, s.BlockOut);
            AddToResidual(ex, s.BlockOut, hidden, tokens);
        }
    }

    /// <summary>Tells each MoE layer which MoE layer comes next, so its router can guess that layer's experts early (prefetch).</summary>
    public static void LinkMoeLayers(IReadOnlyList<DecoderLayer> layers)
    {
        MoeFeedForward? later = null;
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            if (layers[i].Moe is not { } moe) continue;
            moe.Next = later;
            later = moe;
        }
    }

    /// <summary><c>normed[t] = rmsnorm(residual[t]) ⊙ weight</c>.</summary>
    public static void Norm(Executor ex, float[] weight, float eps, int tokens)
    {
        var s = ex.State;
        int n = tokens * weight.Length;
        RmsNorm.ApplyRows(s.Residual.AsSpan(0, n), weight, s.Normed, tokens, eps, ex.Level);
    }

    /// <summary><c>residual += blockOut</c>.</summary>
    public static void AddToResidual(Executor ex, float[] blockOutput, int width, int tokens)
    {
        var r = ex.State.Residual.AsSpan(0, tokens * width);
        System.Numerics.Tensors.TensorPrimitives.Add(r, blockOutput.AsSpan(0, tokens * width), r);
    }

    /// <summary>
    /// <c>logits = output · rmsnorm(residual, outputNorm)</c> for every token or only the last one (into row 0),
    /// so decoding and short prompts skip the vocabulary product for tokens nobody reads.
    /// </summary>
    public static void Logits(Executor ex, float[] outputNorm, float eps, in TensorHandle output, int tokens, bool allLogits)
    {
        var s = ex.State;
        int hidden = outputNorm.Length;
        if (allLogits)
        {
            Norm(ex, outputNorm, eps, tokens);
            ex.Linear(output, s.Normed, tokens, s.Logits);
        }
        else
        {
            RmsNorm.Apply(s.Residual.AsSpan((tokens - 1) * hidden, hidden), outputNorm, s.Normed.AsSpan(0, hidden), eps, ex.Level);
            ex.Linear(output, s.Normed, 1, s.Logits);
        }
    }
}
