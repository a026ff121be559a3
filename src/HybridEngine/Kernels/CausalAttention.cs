using System.Numerics.Tensors;

namespace HybridEngine.Kernels;

/// <summary>
/// Scaled dot-product attention of new queries over a cache of keys and values, causal by position:
/// <code>
///   g        = h / (heads / kvHeads)                                  // the key/value head query head h reads
///   s[j]     = scale · q[t][h] · k[j][g]          j = 0..pos_t         // [pos_t + 1]
///   p        = softmax(s)
///   out[t][h] = Σ_j p[j] · v[j][g]                                    // [valueDim]
/// </code>
/// Keys are rows of <c>keyStride</c> floats with head g at <c>g·keyDim</c>; values rows of <c>valueStride</c> with
/// head g at <c>g·valueDim</c>. Values may alias the keys (MLA keeps one latent row and reads its first part as
/// the value). Heads of one token run in parallel, tokens one after the other, so scores need only [heads, context].
/// </summary>
public static unsafe class CausalAttention
{
    public readonly record struct Layout(int Heads, int KvHeads, int KeyDim, int ValueDim, int KeyStride, int ValueStride);

    /// <param name="queries">[tokens, heads·keyDim]</param>
    /// <param name="keys">[context, keyStride]</param>
    /// <param name="values">[context, valueStride]</param>
    /// <param name="output">[tokens, heads·valueDim]</param>
    /// <param name="scores">[heads, context] scratch</param>
    public static void Run(ReadOnlySpan<float> queries, int tokens, ReadOnlySpan<int> positions, ReadOnlySpan<float> keys,
        ReadOnlySpan<float> values, in Layout layout, float scale, Span<float> output, Span<float> scores, ComputePool? pool, SimdLevel level)
    {
        if (layout.Heads % layout.KvHeads != 0) throw new ArgumentException($"{layout.Heads} heads do not share {layout.KvHeads} kv heads evenly");
        int context = scores.Length / layout.Heads;
        fixed (float* pq = queries)
        fixed (float* pk = keys)
        fixed (float* pv = values)
        fixed (float* po = output)
        fixed (float* ps = scores)
        {
            for (int t = 0; t < tokens; t++)
            {
                int length = positions[t] + 1;
                if (length > context) throw new ArgumentOutOfRangeException(nameof(positions), $"position {positions[t]} exceeds the {context}-position scratch");
                if ((long)length * layout.KeyStride > keys.Length) throw new ArgumentException("the key cache is shorter than the position");
                var job = new HeadsJob
                {
                    Query = pq + (long)t * layout.Heads * layout.KeyDim,
                    Keys = pk, Values = pv,
                    Output = po + (long)t * layout.Heads * layout.ValueDim,
                    Scores = ps, Context = context, Length = length,
                    Layout = layout, Scale = scale, Level = level,
                };
                if (pool is null) job.Execute(0, layout.Heads);
                else pool.Run(ref job, layout.Heads);
            }
        }
    }

    private struct HeadsJob : IRangeJob
    {
        public float* Query, Keys, Values, Output, Scores;
        public int Context, Length;
        public Layout Layout;
        public float Scale;
        public SimdLevel Level;

        public readonly void Execute(int start, int end)
        {
            int group = Layout.Heads / Layout.KvHeads;
            for (int h = start; h < end; h++)
            {
                int g = h / group;
                var q = new ReadOnlySpan<float>(Query + (long)h * Layout.KeyDim, Layout.KeyDim);
                var s = new Span<float>(Scores + (long)h * Context, Length);
                for (int j = 0; j < Length; j++)
                    s[j] = TensorPrimitives.Dot(q, new ReadOnlySpan<float>(Keys + (long)j * Layout.KeyStride + g * Layout.KeyDim, Layout.KeyDim));
                Softmax.ApplyInPlace(s, Scale, Length, Level);
                var o = new Span<float>(Output + (long)h * Layout.ValueDim, Layout.ValueDim);
                o.Clear();
                for (int j = 0; j < Length; j++)
                {
                    var v = new ReadOnlySpan<float>(Values + (long)j * Layout.ValueStride + g * Layout.ValueDim, Layout.ValueDim);
                    TensorPrimitives.MultiplyAdd(v, s[j], o, o);
                }
            }
        }
    }
}
