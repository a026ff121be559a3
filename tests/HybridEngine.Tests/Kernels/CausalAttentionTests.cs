using HybridEngine.Kernels;
using Xunit;

namespace HybridEngine.Tests.Kernels;

/// <summary>
/// Causal attention on every SIMD level, with and without the pool, against a double-precision reference written
/// from the formula: grouped heads, MLA's aliased layout (values are the first part of each key row), and lengths
/// that leave remainders for the four-key and 64-float blocks of the wide path, and head groups of four that the wide
/// path runs four heads at a time.
/// </summary>
public class CausalAttentionTests
{
    /// <summary>out[t][h] = Σ_j softmax_j(scale·q[t][h]·k_j[g]) · v_j[g], j ≤ pos_t, in double.</summary>
    private static double[] Reference(float[] q, int tokens, int[] positions, float[] keys, float[] values, CausalAttention.Layout l, float scale)
    {
        var output = new double[tokens * l.Heads * l.ValueDim];
        int group = l.Heads / l.KvHeads;
        for (int t = 0; t < tokens; t++)
        {
            for (int h = 0; h < l.Heads; h++)
            {
                int g = h / group, length = positions[t] + 1;
                var s = new double[length];
                for (int j = 0; j < length; j++)
                {
                    double dot = 0;
                    for (int i = 0; i < l.KeyDim; i++) dot += (double)q[(t * l.Heads + h) * l.KeyDim + i] * keys[j * l.KeyStride + g * l.KeyDim + i];
                    s[j] = scale * dot;
                }
                double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
                for (int j = 0; j < length; j++)
                {
                    double p = Math.Exp(s[j] - max) / sum;
                    for (int i = 0; i < l.ValueDim; i++)
                        output[(t * l.Heads + h) * l.ValueDim + i] += p * values[j * l.ValueStride + g * l.ValueDim + i];
                }
            }
        }
        return output;
    }

    public static IEnumerable<object[]> Cases() =>
        from level in Simd.Available
        from layout in new[]
        {
            new CausalAttention.Layout(Heads: 4, KvHeads: 2, KeyDim: 32, ValueDim: 32, KeyStride: 64, ValueStride: 64),   // GQA
            new CausalAttention.Layout(Heads: 3, KvHeads: 1, KeyDim: 80, ValueDim: 64, KeyStride: 80, ValueStride: 80),   // MLA-like: values alias keys
            new CausalAttention.Layout(Heads: 2, KvHeads: 2, KeyDim: 12, ValueDim: 20, KeyStride: 24, ValueStride: 40),   // sizes off the 16-float grid
            // Four heads per pass over shared rows (AVX-512): MLA-like with 64 + 16 value floats, and GQA groups of 4.
            new CausalAttention.Layout(Heads: 8, KvHeads: 1, KeyDim: 96, ValueDim: 80, KeyStride: 96, ValueStride: 96),
            new CausalAttention.Layout(Heads: 8, KvHeads: 2, KeyDim: 32, ValueDim: 64, KeyStride: 64, ValueStride: 128),
        }
        select new object[] { level, layout };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_double_precision_formula(SimdLevel level, CausalAttention.Layout layout)
    {
        const int context = 23, tokens = 6, start = 13;   // positions 13..18: 14 to 19 keys, not multiples of 4
        bool aliased = layout.ValueStride == layout.KeyStride && layout.ValueDim <= layout.KeyDim;
        var keys = KernelTestData.Uniform(1, context * layout.KeyStride, -1, 1);
        var values = aliased ? keys : KernelTestData.Uniform(2, context * layout.ValueStride, -1, 1);
        var q = KernelTestData.Uniform(3, tokens * layout.Heads * layout.KeyDim, -1, 1);
        int[] positions = Enumerable.Range(start, tokens).ToArray();
        const float scale = 0.37f;
        var expected = Reference(q, tokens, positions, keys, values, layout, scale);
        using var pool = new ComputePool(2);
        foreach (var p in new[] { null, pool })
        {
            var output = new float[expected.Length];
            var scores = new float[layout.Heads * context];
            CausalAttention.Run(q, tokens, positions, keys, values, layout, scale, output, scores, p, level);
            // Float32 dots of ≤ 80 terms and a softmax over ≤ 19 keys: errors of a few 1e-7; a wrong key, head or
            // length moves outputs by ~1e-2.
            Assert.Null(KernelTestData.Mismatch(expected, output, 2e-5, 1e-4, $"{level} {layout} pool={p != null}"));
        }
    }
}
