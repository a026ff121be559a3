using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace HybridEngine.Kernels;

/// <summary>An elementwise operator y = f(x) written once per vector width.</summary>
/// <remarks>Implemented by small readonly structs so the generic driver specialises and inlines them.</remarks>
public interface IUnaryOperator
{
    float Invoke(float x);
    Vector128<float> Invoke(Vector128<float> x);
    Vector256<float> Invoke(Vector256<float> x);
    Vector512<float> Invoke(Vector512<float> x);
}

/// <summary>An elementwise operator z = f(x, y) written once per vector width.</summary>
public interface IBinaryOperator
{
    float Invoke(float x, float y);
    Vector128<float> Invoke(Vector128<float> x, Vector128<float> y);
    Vector256<float> Invoke(Vector256<float> x, Vector256<float> y);
    Vector512<float> Invoke(Vector512<float> x, Vector512<float> y);
}

/// <summary>
/// The one shared driver for elementwise kernels: runs an operator over spans at the requested
/// <see cref="SimdLevel"/>, whole vectors first, then the scalar member on the tail.
/// </summary>
/// <remarks>
/// The scalar member is also the operator's reference twin, so every width is compared against it.
/// In-place use (destination aliasing a source at the same offset) is allowed: each element is read before it is written.
/// </remarks>
public static class VectorMap
{
    public static unsafe void Unary<TOp>(ReadOnlySpan<float> x, Span<float> y, TOp op, SimdLevel level)
        where TOp : struct, IUnaryOperator
    {
        if (y.Length < x.Length) throw new ArgumentException("destination is shorter than the source", nameof(y));
        int n = x.Length;
        int i = 0;
        fixed (float* px = x)
        fixed (float* py = y)
        {
            switch (Simd.Clamp(level))
            {
                case SimdLevel.Avx512:
                    for (; i <= n - 16; i += 16) Vector512.Store(op.Invoke(Vector512.Load(px + i)), py + i);
                    goto case SimdLevel.Avx2;
                case SimdLevel.Avx2:
                    for (; i <= n - 8; i += 8) Vector256.Store(op.Invoke(Vector256.Load(px + i)), py + i);
                    goto case SimdLevel.Vector128;
                case SimdLevel.Vector128:
                    for (; i <= n - 4; i += 4) Vector128.Store(op.Invoke(Vector128.Load(px + i)), py + i);
                    break;
            }
            for (; i < n; i++) py[i] = op.Invoke(px[i]);
        }
    }

    public static unsafe void Binary<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z, TOp op, SimdLevel level)
        where TOp : struct, IBinaryOperator
    {
        if (y.Length != x.Length) throw new ArgumentException("sources differ in length", nameof(y));
        if (z.Length < x.Length) throw new ArgumentException("destination is shorter than the sources", nameof(z));
        int n = x.Length;
        int i = 0;
        fixed (float* px = x)
        fixed (float* py = y)
        fixed (float* pz = z)
        {
            switch (Simd.Clamp(level))
            {
                case SimdLevel.Avx512:
                    for (; i <= n - 16; i += 16) Vector512.Store(op.Invoke(Vector512.Load(px + i), Vector512.Load(py + i)), pz + i);
                    goto case SimdLevel.Avx2;
                case SimdLevel.Avx2:
                    for (; i <= n - 8; i += 8) Vector256.Store(op.Invoke(Vector256.Load(px + i), Vector256.Load(py + i)), pz + i);
                    goto case SimdLevel.Vector128;
                case SimdLevel.Vector128:
                    for (; i <= n - 4; i += 4) Vector128.Store(op.Invoke(Vector128.Load(px + i), Vector128.Load(py + i)), pz + i);
                    break;
            }
            for (; i < n; i++) pz[i] = op.Invoke(px[i], py[i]);
        }
    }
}
