using HybridEngine.Quantization;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Quantization;

/// <summary>
/// IQ4_NL and IQ4_XS quantization against ggml's <c>quantize_row_iq4_nl_ref</c> / <c>quantize_row_iq4_xs_ref</c>,
/// byte for byte (tolerance: none; the same float operations in the same order give the same bits).
/// </summary>
public class Iq4QuantizeTests
{
    public static TheoryData<GgmlType, string> Cases()
    {
        var data = new TheoryData<GgmlType, string>();
        foreach (var type in new[] { GgmlType.IQ4_NL, GgmlType.IQ4_XS })
        {
            foreach (string shape in new[] { "gauss", "uniform", "outliers", "positive", "zero-groups", "tiny-and-huge" })
            {
                data.Add(type, shape);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void QuantizedBytesMatchGgml(GgmlType type, string shape)
    {
        var info = QuantTypes.Get(type);
        const int n = 64 * 256;
        float[] x = Input(shape, n, seed: shape.Length * 31 + (int)type);
        byte[] expected = GgmlReference.QuantizeRowRef(info.Name, x, (int)info.RowBytes(n));
        byte[] actual = new byte[expected.Length];
        info.Quantize!(x, actual);

        for (int b = 0; b < n / info.BlockSize; b++)
        {
            var e = expected.AsSpan(b * info.BytesPerBlock, info.BytesPerBlock);
            var a = actual.AsSpan(b * info.BytesPerBlock, info.BytesPerBlock);
            // ggml leaves the codes of an all-zero IQ4_NL block unset (stale stack bytes), so only its d is defined.
            bool zeroNlBlock = type == GgmlType.IQ4_NL && MaxAbs(x.AsSpan(b * 32, 32)) < 1e-15f;
            if (zeroNlBlock) e = e[..2];
            if (!e.SequenceEqual(a[..e.Length]))
            {
                Assert.Fail($"{info.Name}/{shape}: block {b} differs: ours {Convert.ToHexString(a)}, ggml {Convert.ToHexString(e)}");
            }
        }
    }

    [Fact]
    public void ZeroIq4NlBlockHasZeroScale()
    {
        byte[] block = new byte[18];
        block.AsSpan().Fill(0xAB);
        QuantTypes.Get(GgmlType.IQ4_NL).Quantize!(new float[32], block);
        Assert.All(block, b => Assert.Equal(0, b));
    }

    [Fact]
    public void RoundTripErrorIsSmall()
    {
        // IQ4 keeps about 4 bits per value: the RMS error on Gaussian-like data is a few percent of the RMS value.
        // The 0.15 bound is loose on purpose; a wrong code packing or scale would give errors of order 1.
        foreach (var type in new[] { GgmlType.IQ4_NL, GgmlType.IQ4_XS })
        {
            var info = QuantTypes.Get(type);
            float[] x = Input("gauss", 4096, seed: 5);
            byte[] q = new byte[info.RowBytes(x.Length)];
            info.Quantize!(x, q);
            float[] y = new float[x.Length];
            info.Dequantize!(q, y);
            double err = 0, sig = 0;
            for (int i = 0; i < x.Length; i++) { err += (x[i] - y[i]) * (double)(x[i] - y[i]); sig += x[i] * (double)x[i]; }
            Assert.InRange(Math.Sqrt(err / sig), 0.0, 0.15);
        }
    }

    private static float MaxAbs(ReadOnlySpan<float> x)
    {
        float m = 0;
        foreach (float v in x) m = Math.Max(m, Math.Abs(v));
        return m;
    }

    private static float[] Input(string shape, int n, int seed)
    {
        var rng = new Random(seed);
        float Gauss() => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        float[] x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = shape switch
            {
                "gauss" => 0.02f * Gauss(),
                "uniform" => (float)(rng.NextDouble() * 2 - 1),
                "outliers" => rng.Next(50) == 0 ? 3f * Gauss() : 0.01f * Gauss(),
                "positive" => (float)rng.NextDouble() * 0.5f,
                // Whole 32-groups of zeros (and of values below ggml's 1e-15 cut-off) among normal ones.
                "zero-groups" => (i / 32 % 3) switch { 0 => 0f, 1 => 1e-17f * Gauss(), _ => 0.05f * Gauss() },
                // Magnitudes spread over many binades inside each block.
                "tiny-and-huge" => Gauss() * MathF.Pow(10, rng.Next(-6, 4)),
                _ => throw new ArgumentOutOfRangeException(nameof(shape)),
            };
        }
        return x;
    }
}
