using System.Runtime.Intrinsics;

namespace HybridEngine.Kernels;

/// <summary>
/// The gated FFN activation (SPEC 4.1): <c>h[i] = silu(g[i]) · u[i]</c>, with g = gate·x and u = up·x,
/// so that <c>FFN(x) = down(h)</c>.
/// </summary>
/// <remarks>The destination may alias either input (the gate buffer is the usual choice).</remarks>
public static class SwiGlu
{
    public static void Apply(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> h, SimdLevel level) =>
        VectorMap.Binary(gate, up, h, default(SwiGluOperator), level);

    /// <summary>The scalar reference twin.</summary>
    public static float Reference(float gate, float up) => Silu.Reference(gate) * up;

    private readonly struct SwiGluOperator : IBinaryOperator
    {
        public float Invoke(float g, float u) => Reference(g, u);
        public Vector128<float> Invoke(Vector128<float> g, Vector128<float> u) => default(Silu.SiluOperator).Invoke(g) * u;
        public Vector256<float> Invoke(Vector256<float> g, Vector256<float> u) => default(Silu.SiluOperator).Invoke(g) * u;
        public Vector512<float> Invoke(Vector512<float> g, Vector512<float> u) => default(Silu.SiluOperator).Invoke(g) * u;
    }
}
