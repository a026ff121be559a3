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
