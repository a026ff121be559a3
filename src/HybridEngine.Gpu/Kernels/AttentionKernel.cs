using ILGPU;
using ILGPU.Algorithms;

namespace HybridEngine.Gpu.Kernels;

/// <summary>Layout of one attention launch, passed by value.</summary>
public struct AttentionShape
{
    public int Heads;
    /// <summary>Query heads per kv head (heads / kvHeads).</summary>
    public int Group;
    public int KeyDim;
    public int ValueDim;
    public int KeyStride;
    public int ValueStride;
    public float Scale;
}

/// <summary>
/// Causal scaled dot-product attention of query (t, h) over cached rows 0..pos_t of kv head g = h / group:
/// <code>
///   s_j = scale · q[t][h] · k[j][g]        p_j = exp(s_j − max s) / Σ exp(s_i − max s)        out[t][h] = Σ_j p_j · v[j][g]
/// </code>
/// computed in one pass (online softmax): after each row the running max m, the running sum l = Σ exp(s_i − m) and the
/// unnormalised output o = Σ exp(s_i − m)·v_i are rescaled by exp(m_old − m_new) when the max grows, and o / l is written
/// at the end, so no [context] score buffer is needed. Values may alias the keys (MLA: the first valueDim floats of the
/// key row). CPU reference: <c>Kernels/CausalAttention.Run</c> (two-pass softmax), equal up to float rounding.
/// </summary>
/// <remarks>
/// Launch: one group of one warp per (token, head) pair, grid = tokens·heads. Lanes stride over the key for each dot
/// (summed by shuffle and broadcast) and over the value dims of the output row, which lives in <c>output</c> itself:
/// each lane only ever touches its own output slots, so no synchronisation is needed.
/// </remarks>
public static class AttentionKernel
{
    public static void Run(ArrayView<float> queries, ArrayView<float> keys, ArrayView<float> values, ArrayView<int> positions,
        ArrayView<float> output, AttentionShape shape)
    {
        int tokenHead = Grid.IdxX;
        int token = tokenHead / shape.Heads;
        int head = tokenHead - token * shape.Heads;
        int kvHead = head / shape.Group;
        int lane = Group.IdxX;
        long q = (long)tokenHead * shape.KeyDim;
        long o = (long)tokenHead * shape.ValueDim;
        long keyOffset = (long)kvHead * shape.KeyDim, valueOffset = (long)kvHead * shape.ValueDim;
        int length = positions[token] + 1;

        for (int d = lane; d < shape.ValueDim; d += Group.DimX) output[o + d] = 0;
        float max = float.NegativeInfinity, sum = 0;
        for (int j = 0; j < length; j++)
        {
            long k = j * (long)shape.KeyStride + keyOffset;
            float dot = 0;
            for (int d = lane; d < shape.KeyDim; d += Group.DimX) dot += queries[q + d] * keys[k + d];
            float score = shape.Scale * Warp.Shuffle(WarpSum.Reduce(dot), 0);
            float p;
            long v = j * (long)shape.ValueStride + valueOffset;
            if (score > max)
            {
                // New maximum (always at j = 0): shrink what was summed so far; exp(−∞) = 0 on the first row.
                float shrink = XMath.Exp(max - score);
                max = score;
                sum *= shrink;
                p = 1;
                for (int d = lane; d < shape.ValueDim; d += Group.DimX) output[o + d] = output[o + d] * shrink + values[v + d];
            }
            else
            {
                p = XMath.Exp(score - max);
                for (int d = lane; d < shape.ValueDim; d += Group.DimX) output[o + d] += p * values[v + d];
            }
            sum += p;
        }
        float inverse = 1.0f / sum;
        for (int d = lane; d < shape.ValueDim; d += Group.DimX) output[o + d] *= inverse;
    }
}
