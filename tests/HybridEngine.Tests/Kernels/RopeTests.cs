using HybridEngine.Kernels;
using Xunit;

namespace HybridEngine.Tests.Kernels;

public class RopeTests
{
    // DeepSeek-V3 (SPEC 3.3 / 4.3): rope dims 64, base 10000, YaRN factor 40 over an original context of 4096.
    private static readonly RopeParameters DeepSeekV3 =
        RopeParameters.Yarn(64, RopeMode.Norm, 10000f, 40f, 4096, RopeParameters.UnitMagnitudeAttnFactor(1f / 40f));

    private static RopeParameters Plain(int dims, RopeMode mode) => new() { RotaryDims = dims, Mode = mode };

    /// <summary>Plain RoPE computed independently in double: θ_i = p·base^(−2i/n).</summary>
    private static double[] PlainDouble(float[] x, int heads, int stride, int offset, int dims, RopeMode mode, int position)
    {
        double[] y = x.Select(v => (double)v).ToArray();
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < dims / 2; i++)
            {
                double theta = position * Math.Pow(10000.0, -2.0 * i / dims);
                int a = h * stride + offset + (mode == RopeMode.Norm ? 2 * i : i);
                int b = a + (mode == RopeMode.Norm ? 1 : dims / 2);
                y[a] = x[a] * Math.Cos(theta) - x[b] * Math.Sin(theta);
                y[b] = x[a] * Math.Sin(theta) + x[b] * Math.Cos(theta);
            }
        }
        return y;
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void EveryPathMatchesScalarTwinBitForBit(SimdLevel level)
    {
        foreach (RopeMode mode in new[] { RopeMode.Norm, RopeMode.Neox })
        {
            // Every even rotary width up to 256, with pass-through dims after it and in front of it (offset).
            for (int dims = 2; dims <= 256; dims += 2)
            {
                int offset = dims % 6, stride = dims + offset + 3, heads = 1 + dims % 3;
                var parameters = (dims % 4 == 0 ? DeepSeekV3 with { RotaryDims = dims } : Plain(dims, mode)) with { Mode = mode };
                var table = new RopeTable(parameters, 50);
                int position = dims % 50;
                float[] x = KernelTestData.Uniform(dims, heads * stride, -2f, 2f);
                float[] expected = (float[])x.Clone();
                float[] actual = (float[])x.Clone();
                Rope.Reference(expected, heads, stride, position, parameters, offset);
                Rope.Apply(actual, heads, stride, position, table, level, offset);
                // The vector forms do the same float products and sums as the scalar one (no FMA), so no tolerance.
                Assert.True(expected.SequenceEqual(actual), $"{level} {mode} dims={dims}");
                for (int h = 0; h < heads; h++)
                {
                    for (int d = 0; d < stride; d++)
                    {
                        if (d < offset || d >= offset + dims) Assert.Equal(x[h * stride + d], actual[h * stride + d]);
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(RopeMode.Norm)]
    [InlineData(RopeMode.Neox)]
    public void ScalarTwinMatchesDoublePrecision(RopeMode mode)
    {
        const int dims = 64, heads = 3, stride = 80, offset = 16;
        var parameters = Plain(dims, mode);
        foreach (int position in new[] { 0, 1, 2, 7, 100, 1000, 4095 })
        {
            float[] x = KernelTestData.Uniform(position, heads * stride, -1f, 1f);
            float[] y = (float[])x.Clone();
            Rope.Reference(y, heads, stride, position, parameters, offset);
            double[] exact = PlainDouble(x, heads, stride, offset, dims, mode, position);
            // ggml's angles are a running float product p·ts^i, each step rounding by ≤ 2^-24 relative; the absolute
            // angle error stays below ~2e-7·p (worst near i ≈ 3), plus ~1e-7 for cos/sin and the products.
            KernelTestData.AssertClose(exact, y, 1e-6 + 3e-7 * position, 0, $"{mode} p={position}");
        }
    }

    [Fact]
    public void NormAndNeoxAreTheSameRotationOnDifferentPairings()
    {
        const int dims = 64;
        float[] x = KernelTestData.Uniform(42, dims, -1f, 1f);
        // Neox pairs (i, i + 32) hold what Norm pairs (2i, 2i + 1) hold once the input is de-interleaved.
        float[] deinterleaved = Enumerable.Range(0, dims).Select(j => j < dims / 2 ? x[2 * j] : x[2 * (j - dims / 2) + 1]).ToArray();

        float[] norm = (float[])x.Clone();
        Rope.Apply(norm, 1, dims, 9, new RopeTable(Plain(dims, RopeMode.Norm), 10), Simd.Best);
        float[] neox = (float[])deinterleaved.Clone();
        Rope.Apply(neox, 1, dims, 9, new RopeTable(Plain(dims, RopeMode.Neox), 10), Simd.Best);
        float[] normDeinterleaved = Enumerable.Range(0, dims).Select(j => j < dims / 2 ? norm[2 * j] : norm[2 * (j - dims / 2) + 1]).ToArray();
        Assert.Equal(normDeinterleaved, neox);

        // On the same input the two pairings give different results.
        float[] neoxSameInput = (float[])x.Clone();
        Rope.Apply(neoxSameInput, 1, dims, 9, new RopeTable(Plain(dims, RopeMode.Neox), 10), Simd.Best);
        Assert.NotEqual(norm, neoxSameInput);
    }

    [Theory]
    [InlineData(RopeMode.Norm)]
    [InlineData(RopeMode.Neox)]
    public void PositionZeroIsIdentity(RopeMode mode)
    {
        float[] x = KernelTestData.Uniform(5, 2 * 192, -3f, 3f);
        float[] y = (float[])x.Clone();
        Rope.Apply(y, 2, 192, 0, new RopeTable(Plain(64, mode), 1), Simd.Best, 128);
        Assert.Equal(x, y); // cos 0 = 1, sin 0 = 0: exact

        // With YaRN the angle is still 0; only the magnitude (1 after compensation) is rounded.
        float[] z = (float[])x.Clone();
        Rope.Apply(z, 2, 192, 0, new RopeTable(DeepSeekV3 with { Mode = mode }, 1), Simd.Best, 128);
        KernelTestData.AssertClose(x, z, 0, 2.4e-7, "yarn p=0");
    }

    [Fact]
    public void YarnWithUnitFactorEqualsPlainRope()
    {
        const int dims = 64;
        float[] x = KernelTestData.Uniform(6, dims, -1f, 1f);
        foreach (int position in new[] { 1, 17, 300 })
        {
            float[] plain = (float[])x.Clone();
            Rope.Apply(plain, 1, dims, position, new RopeTable(Plain(dims, RopeMode.Norm), 301), Simd.Best);

            // ext_factor 0 and freq_scale 1: the same path as plain RoPE, bit for bit.
            float[] noExt = (float[])x.Clone();
            var noExtParams = RopeParameters.Yarn(dims, RopeMode.Norm, 10000f, 1f, 4096) with { ExtFactor = 0f };
            Rope.Apply(noExt, 1, dims, position, new RopeTable(noExtParams, 301), Simd.Best);
            Assert.Equal(plain, noExt);

            // ext_factor 1 with factor 1: interp = extrap and magnitude 1 + 0.1·ln 1 = 1; only the blend rounds.
            float[] unit = (float[])x.Clone();
            Rope.Apply(unit, 1, dims, position, new RopeTable(RopeParameters.Yarn(dims, RopeMode.Norm, 10000f, 1f, 4096), 301), Simd.Best);
            KernelTestData.AssertClose(plain, unit, 1e-6, 1e-6, $"p={position}");
        }
    }

    [Fact]
    public void DeepSeekV3CorrectionDimsAre10And23()
    {
        var (low, high) = DeepSeekV3.CorrectionDims();
        // Independent double evaluation of SPEC 4.3: floor/ceil of n·ln(n_ctx_orig/(2π·β)) / (2 ln base).
        double Corr(double beta) => 64 * Math.Log(4096 / (2 * Math.PI * beta)) / (2 * Math.Log(10000));
        Assert.Equal(Math.Max(0, Math.Floor(Corr(32))), low);
        Assert.Equal(Math.Min(63, Math.Ceiling(Corr(1))), high);
        Assert.Equal((10f, 23f), (low, high));
    }

    [Fact]
    public void YarnPairsBelowLowExtrapolateAndAboveHighInterpolate()
    {
        const int dims = 64, position = 1; // every angle ≤ 1 rad, so atan2 recovers it without wrapping
        var table = new RopeTable(DeepSeekV3, 2);
        // Unit vector (1, 0) in every pair: the rotated pair is (cos θ, sin θ)·magnitude.
        float[] x = Enumerable.Range(0, dims).Select(j => j % 2 == 0 ? 1f : 0f).ToArray();
        Rope.Apply(x, 1, dims, position, table, Simd.Best);
        for (int i = 0; i < dims / 2; i++)
        {
            double angle = Math.Atan2(x[2 * i + 1], x[2 * i]);
            double extrap = position * Math.Pow(10000.0, -2.0 * i / dims);
            double interp = extrap / 40;
            if (i <= 10) Assert.Equal(extrap, angle, 1e-6);
            else if (i >= 23) Assert.Equal(interp, angle, 1e-6);
            else Assert.InRange(angle, interp + 1e-6, extrap - 1e-6);
            // The compensated attn_factor cancels YaRN's magnitude boost (SPEC 4.3: cos/sin unscaled for DeepSeek).
            Assert.Equal(1.0, Math.Sqrt(x[2 * i] * x[2 * i] + x[2 * i + 1] * x[2 * i + 1]), 1e-6);
        }
    }

    [Fact]
    public void YarnMagnitudeIsAttnFactorTimesLogCorrection()
    {
        var parameters = RopeParameters.Yarn(64, RopeMode.Neox, 10000f, 40f, 4096, attnFactor: 0.5f);
        var cos = new float[32];
        var sin = new float[32];
        parameters.ComputeRow(123, cos, sin);
        double expected = 0.5 * (1 + 0.1 * Math.Log(40));
        for (int i = 0; i < 32; i++) Assert.Equal(expected, Math.Sqrt(cos[i] * cos[i] + sin[i] * sin[i]), 1e-6);
    }

    [Fact]
    public void BatchedRowsEqualPerTokenCalls()
    {
        const int tokens = 4, heads = 3, stride = 96;
        var table = new RopeTable(DeepSeekV3 with { Mode = RopeMode.Neox }, 64);
        int[] positions = [5, 0, 63, 17];
        float[] x = KernelTestData.Uniform(8, tokens * heads * stride, -1f, 1f);
        float[] batched = (float[])x.Clone();
        Rope.ApplyRows(batched, tokens, heads, stride, positions, table, Simd.Best, 32);
        for (int t = 0; t < tokens; t++)
            Rope.Apply(x.AsSpan(t * heads * stride, heads * stride), heads, stride, positions[t], table, Simd.Best, 32);
        Assert.Equal(x, batched);
    }

    [Fact]
    public void RejectsBadLayoutsAndPositions()
    {
        var table = new RopeTable(Plain(64, RopeMode.Norm), 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Apply(new float[64], 1, 64, 8, table, Simd.Best));
        Assert.Throws<ArgumentException>(() => Rope.Apply(new float[96], 1, 96, 0, table, Simd.Best, 40));
        Assert.Throws<ArgumentException>(() => Rope.Apply(new float[100], 2, 64, 0, table, Simd.Best));
        Assert.Throws<ArgumentException>(() => new RopeTable(Plain(63, RopeMode.Norm), 8));
    }
}
