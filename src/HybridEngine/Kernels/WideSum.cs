using System.Runtime.Intrinsics;

namespace HybridEngine.Kernels;

/// <summary>
/// Float reductions accumulated in double, the way ggml accumulates its row sums (<c>ggml_float</c>):
/// <c>Sum(x) = Σ (double)x[i]</c> and <c>SumOfSquares(x) = Σ (double)(x[i]·x[i])</c>, the square rounded to float first.
/// </summary>
/// <remarks>
/// Double accumulation makes the result almost independent of summation order, so the vector paths
/// (which add in lanes) and the scalar twin agree to the last float bit in all but rare ties after rounding.
/// </remarks>
public static class WideSum
{
    public static unsafe double SumOfSquares(ReadOnlySpan<float> x, SimdLevel level)
    {
        int n = x.Length;
        int i = 0;
        double sum = 0;
        fixed (float* p = x)
        {
            switch (Simd.Clamp(level))
            {
                case SimdLevel.Avx512:
                {
                    var acc = Vector512<double>.Zero;
                    for (; i <= n - 16; i += 16)
                    {
                        var v = Vector512.Load(p + i);
                        var (lo, hi) = Vector512.Widen(v * v);
                        acc += lo + hi;
                    }
                    sum += Vector512.Sum(acc);
                    goto case SimdLevel.Avx2;
                }
                case SimdLevel.Avx2:
                {
                    var acc = Vector256<double>.Zero;
                    for (; i <= n - 8; i += 8)
                    {
                        var v = Vector256.Load(p + i);
                        var (lo, hi) = Vector256.Widen(v * v);
                        acc += lo + hi;
                    }
                    sum += Vector256.Sum(acc);
                    goto case SimdLevel.Vector128;
                }
                case SimdLevel.Vector128:
                {
                    var acc = Vector128<double>.Zero;
                    for (; i <= n - 4; i += 4)
                    {
                        var v = Vector128.Load(p + i);
                        var (lo, hi) = Vector128.Widen(v * v);
                        acc += lo + hi;
                    }
                    sum += Vector128.Sum(acc);
                    break;
                }
            }
            for (; i < n; i++) sum += (double)(p[i] * p[i]);
        }
        return sum;
    }

    public static unsafe double Sum(ReadOnlySpan<float> x, SimdLevel level)
    {
        int n = x.Length;
        int i = 0;
        double sum = 0;
        fixed (float* p = x)
        {
            switch (Simd.Clamp(level))
            {
                case SimdLevel.Avx512:
                {
                    var acc = Vector512<double>.Zero;
                    for (; i <= n - 16; i += 16)
                    {
                        var (lo, hi) = Vector512.Widen(Vector512.Load(p + i));
                        acc += lo + hi;
                    }
                    sum += Vector512.Sum(acc);
                    goto case SimdLevel.Avx2;
                }
                case SimdLevel.Avx2:
                {
                    var acc = Vector256<double>.Zero;
                    for (; i <= n - 8; i += 8)
                    {
                        var (lo, hi) = Vector256.Widen(Vector256.Load(p + i));
                        acc += lo + hi;
                    }
                    sum += Vector256.Sum(acc);
                    goto case SimdLevel.Vector128;
                }
                case SimdLevel.Vector128:
                {
                    var acc = Vector128<double>.Zero;
                    for (; i <= n - 4; i += 4)
                    {
                        var (lo, hi) = Vector128.Widen(Vector128.Load(p + i));
                        acc += lo + hi;
                    }
                    sum += Vector128.Sum(acc);
                    break;
                }
            }
            for (; i < n; i++) sum += p[i];
        }
        return sum;
    }
}
