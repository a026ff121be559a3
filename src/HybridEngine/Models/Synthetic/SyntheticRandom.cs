using System.Text;

namespace HybridEngine.Models.Synthetic;

/// <summary>
/// A counter-based generator: every weight is a pure function of (seed, tensor name, element index), so each
/// tensor (and each element) is reproducible on its own, rows can be produced in any order or in parallel, and
/// a tensor can be derived from another one's elements (attn_k_b/attn_v_b from attn_kv_b).
/// <para>
/// key = mix(mix(seed) ⊕ FNV-1a-64(name)); u = mix(key + (i + 1)·φ) with φ = 0x9E3779B97F4A7C15 and mix the
/// SplitMix64 finalizer. A standard normal is approximated by the Irwin–Hall sum of the four 16-bit parts of u:
/// z = √3·(Σ_k u_k/65536 − 2), mean 0, variance 1, bounded by ±2√3 (good enough for init-like weights, and one
/// hash per element keeps multi-GB models fast).
/// </para>
/// </summary>
public static class SyntheticRandom
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>The SplitMix64 output function (Steele, Lea, Flood 2014).</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The stream key of one named tensor under one seed.</summary>
    public static ulong TensorKey(ulong seed, string name)
    {
        ulong h = 0xCBF29CE484222325UL; // FNV-1a 64 offset basis
        foreach (byte b in Encoding.UTF8.GetBytes(name)) h = (h ^ b) * 0x100000001B3UL;
        return Mix(Mix(seed + Golden) ^ h);
    }

    public static ulong Bits(ulong key, long index) => Mix(key + ((ulong)index + 1) * Golden);

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public static double Uniform(ulong key, long index) => (Bits(key, index) >> 11) * (1.0 / (1UL << 53));

    /// <summary>Approximately standard normal (see the class remarks).</summary>
    public static float Normal(ulong key, long index)
    {
        ulong u = Bits(key, index);
        uint sum = (uint)(u & 0xFFFF) + (uint)((u >> 16) & 0xFFFF) + (uint)((u >> 32) & 0xFFFF) + (uint)(u >> 48);
        return 1.7320508f * (sum * (1f / 65536f) - 2f);
    }

    /// <summary>A seeded permutation of 0..n-1 (Fisher–Yates driven by the counter stream of <paramref name="key"/>).</summary>
    public static int[] Permutation(ulong key, int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)(Bits(key, i) % (ulong)(i + 1));
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}
