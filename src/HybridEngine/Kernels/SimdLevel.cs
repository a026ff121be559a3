using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels;

/// <summary>The instruction-set paths kernels are written for, narrowest first.</summary>
public enum SimdLevel
{
    /// <summary>Plain C#: the reference twin of every kernel.</summary>
    Scalar = 0,
    /// <summary>Portable <see cref="Vector128"/> (SSE / NEON).</summary>
    Vector128 = 1,
    /// <summary>AVX2 + FMA, 256-bit.</summary>
    Avx2 = 2,
    /// <summary>AVX-512 F/BW (VNNI used where present).</summary>
    Avx512 = 3,
}

/// <summary>Picks the widest path the CPU supports once at start-up; tests force narrower ones explicitly.</summary>
public static class Simd
{
    public static SimdLevel Best { get; } = Detect();

    public static SimdLevel Detect()
    {
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported) return SimdLevel.Avx512;
        if (Avx2.IsSupported && Fma.IsSupported) return SimdLevel.Avx2;
        if (Vector128.IsHardwareAccelerated) return SimdLevel.Vector128;
        return SimdLevel.Scalar;
    }

    /// <summary>Every path this machine can run, narrowest first (what tests sweep).</summary>
    public static IReadOnlyList<SimdLevel> Available { get; } =
        Enum.GetValues<SimdLevel>().Where(l => l <= Best).ToArray();

    /// <summary>Caps a requested level at what the machine supports.</summary>
    public static SimdLevel Clamp(SimdLevel requested) => requested <= Best ? requested : Best;
}
