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
    /// <summary>Position chunks per (token, head); 1 = one group covers all positions and writes the final output.</summary>
    public int Chunks;
    public int ChunkLength;
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
/// Launch: one group of one warp per (token, head, chunk), grid = tokens·heads·chunks. Lanes stride over the key for
/// each dot (summed by shuffle and broadcast) and over the value dims of the accumulator row, so each lane only ever
/// touches its own slots and no synchronisation is needed. With one chunk the accumulator is the output row and is
/// normalised at the end; with several (decode: few heads, long context) each group covers ChunkLength positions and
/// leaves its unnormalised o in <c>partial</c> and (m, l) in <c>stats</c> for <see cref="AttentionMergeKernel"/>.
/// </remarks>
public static class AttentionKernel
{
    public static void Run(ArrayView<float> queries, ArrayView<float> keys, ArrayView<float> values, ArrayView<int> positions,
        ArrayView<float> output, ArrayView<float> partial, ArrayView<float> stats, AttentionShape shape)
    {
        int index = Grid.IdxX;
        int tokenHead = index / shape.Chunks;
        int chunk = index - tokenHead * shape.Chunks;
        int token = tokenHead / shape.Heads;
        int head = tokenHead - token * shape.Heads;
        int kvHead = head / shape.Group;
        int lane = Group.IdxX;
        long q = (long)tokenHead * shape.KeyDim;
        long o = (long)index * shape.ValueDim;   // = tokenHead·valueDim with one chunk
        var accumulator = shape.Chunks == 1 ? output : partial;
        long keyOffset = (long)kvHead * shape.KeyDim, valueOffset = (long)kvHead * shape.ValueDim;
        int first = chunk * shape.ChunkLength;
        int end = XMath.Min(positions[token] + 1, first + shape.ChunkLength);

        for (int d = lane; d < shape.ValueDim; d += Group.DimX) accumulator[o + d] = 0;
        float max = float.NegativeInfinity, sum = 0;
        for (int j = first; j < end; j++)
        {
            long k = j * (long)shape.KeyStride + keyOffset;
            float dot = 0;
            for (int d = lane; d < shape.KeyDim; d += Group.DimX) dot += queries[q + d] * keys[k + d];
            float score = shape.Scale * Warp.Shuffle(WarpSum.Reduce(dot), 0);
            float p;
            long v = j * (long)shape.ValueStride + valueOffset;
            if (score > max)
            {
                // New maximum (always on the first row): shrink what was summed so far; exp(−∞) = 0 on the first row.
                float shrink = XMath.Exp(max - score);
                max = score;
                sum *= shrink;
                p = 1;
                for (int d = lane; d < shape.ValueDim; d += Group.DimX) accumulator[o + d] = accumulator[o + d] * shrink + values[v + d];
            }
            else
            {
                p = XMath.Exp(score - max);
                for (int d = lane; d < shape.ValueDim; d += Group.DimX) accumulator[o + d] += p * values[v + d];
            }
            sum += p;
        }
        if (shape.Chunks == 1)
        {
            float inverse = 1.0f / sum;
            for (int d = lane; d < shape.ValueDim; d += Group.DimX) output[o + d] *= inverse;
        }
        else if (lane == 0)
        {
            // An empty chunk (past this token's position) leaves m = −∞, l = 0, o = 0: weight 0 in the merge.
            stats[2L * index] = max;
            stats[2L * index + 1] = sum;
        }
    }
}
