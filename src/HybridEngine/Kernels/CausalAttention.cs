using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
/// At <see cref="SimdLevel.Avx512"/>, with head sizes a multiple of 16, scores take four keys per pass (the query
/// chunk loaded once for four keys) and the output keeps 64 of its floats in registers over all keys, instead of
/// one library call per key (the per-call overhead rivalled the arithmetic at MLA's 576-wide keys). There, when
/// query heads come in groups of four per key/value head (MLA: all heads share one), the four go through
/// <see cref="SharedKeyAttention"/> together, so each shared key and value row is read once per four heads.
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
        bool wide = level >= SimdLevel.Avx512 && Vector512.IsHardwareAccelerated && layout.KeyDim % 16 == 0 && layout.ValueDim % 16 == 0;
        int unit = wide && layout.Heads / layout.KvHeads % 4 == 0 ? 4 : 1;   // heads per work item
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
                    Layout = layout, Scale = scale, Level = level, Wide = wide,
                };
                if (unit == 4) RunFours(ref job, pool);
                else if (pool is null) job.Execute(0, layout.Heads);
                else pool.Run(ref job, layout.Heads);
            }
        }
    }

    private static void RunFours(ref HeadsJob heads, ComputePool? pool)
    {
        var job = new FoursJob { Heads = heads };
        if (pool is null) job.Execute(0, heads.Layout.Heads / 4);
        else pool.Run(ref job, heads.Layout.Heads / 4);
    }

    /// <summary>Work item i = heads 4i..4i+3, which share one key/value head.</summary>
    private struct FoursJob : IRangeJob
    {
        public HeadsJob Heads;

        public readonly void Execute(int start, int end)
        {
            var l = Heads.Layout;
            int group = l.Heads / l.KvHeads;
            for (int i = start; i < end; i++)
            {
                int h = 4 * i, g = h / group;
                float* sp = Heads.Scores + (long)h * Heads.Context;
                SharedKeyAttention.Scores(Heads.Query + (long)h * l.KeyDim, l.KeyDim, Heads.Keys + g * l.KeyDim, l.KeyStride, l.KeyDim,
                    Heads.Length, sp, Heads.Context);
                for (int k = 0; k < 4; k++)
                    Softmax.ApplyInPlace(new Span<float>(sp + (long)k * Heads.Context, Heads.Length), Heads.Scale, Heads.Length, Heads.Level);
                SharedKeyAttention.WeightedSum(sp, Heads.Context, Heads.Values + g * l.ValueDim, l.ValueStride, l.ValueDim, Heads.Length,
                    Heads.Output + (long)h * l.ValueDim, l.ValueDim);
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
        public bool Wide;

        public readonly void Execute(int start, int end)
        {
            int group = Layout.Heads / Layout.KvHeads;
            for (int h = start; h < end; h++)
            {
                int g = h / group;
                if (Wide)
                {
                    float* sp = Scores + (long)h * Context;
                    ScoresWide(Query + (long)h * Layout.KeyDim, Keys + g * Layout.KeyDim, Layout.KeyStride, Layout.KeyDim, Length, sp);
                    Softmax.ApplyInPlace(new Span<float>(sp, Length), Scale, Length, Level);
                    WeightedSumWide(sp, Values + g * Layout.ValueDim, Layout.ValueStride, Layout.ValueDim, Length, Output + (long)h * Layout.ValueDim);
                    continue;
                }
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

    /// <summary><c>s[j] = q · k_j</c>, k_j at <c>keys + j·stride</c>, four keys per pass over q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresWide(float* q, float* keys, int stride, int dim, int length, float* s)
    {
        int j = 0;
        for (; j + 4 <= length; j += 4)
        {
            float* k0 = keys + (long)j * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < dim; i += 16)
            {
                var qi = Vector512.Load(q + i);
                a0 = Vector512.FusedMultiplyAdd(qi, Vector512.Load(k0 + i), a0);
                a1 = Vector512.FusedMultiplyAdd(qi, Vector512.Load(k1 + i), a1);
                a2 = Vector512.FusedMultiplyAdd(qi, Vector512.Load(k2 + i), a2);
                a3 = Vector512.FusedMultiplyAdd(qi, Vector512.Load(k3 + i), a3);
            }
            s[j] = Vector512.Sum(a0);
            s[j + 1] = Vector512.Sum(a1);
            s[j + 2] = Vector512.Sum(a2);
            s[j + 3] = Vector512.Sum(a3);
        }
        for (; j < length; j++)
        {
            float* k = keys + (long)j * stride;
            Vector512<float> a = default;
            for (int i = 0; i < dim; i += 16) a = Vector512.FusedMultiplyAdd(Vector512.Load(q + i), Vector512.Load(k + i), a);
            s[j] = Vector512.Sum(a);
        }
    }

    /// <summary><c>o = Σ_j p[j] · v_j</c>: 64 output floats stay in registers while every key's value row streams by.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSumWide(float* p, float* values, int stride, int dim, int length, float* o)
    {
        int i = 0;
        for (; i + 64 <= dim; i += 64)
        {
            Vector512<float> o0 = default, o1 = default, o2 = default, o3 = default;
            float* v = values + i;
            for (int j = 0; j < length; j++, v += stride)
            {
                var pj = Vector512.Create(p[j]);
                o0 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v), o0);
                o1 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 16), o1);
                o2 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 32), o2);
                o3 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 48), o3);
            }
            o0.Store(o + i);
            o1.Store(o + i + 16);
            o2.Store(o + i + 32);
            o3.Store(o + i + 48);
        }
        for (; i < dim; i += 16)
        {
            Vector512<float> acc = default;
            float* v = values + i;
            for (int j = 0; j < length; j++, v += stride) acc = Vector512.FusedMultiplyAdd(Vector512.Create(p[j]), Vector512.Load(v), acc);
            acc.Store(o + i);
        }
    }
}
