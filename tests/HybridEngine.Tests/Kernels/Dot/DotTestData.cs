using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Quantization.Formats;
using HybridEngine.Tests.Reference;

namespace HybridEngine.Tests.Kernels.Dot;

/// <summary>
/// Seeded weight rows for every dot-kernel type and the double-precision oracle
/// <c>Σ dequant(W)·dequant(q(x))</c>, with ggml's own dequantizers for the quantized types.
/// </summary>
internal static class DotTestData
{
    public static readonly GgmlType[] QuantizedTypes =
    [
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K,
        GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.IQ1_S, GgmlType.IQ1_M, GgmlType.IQ2_XXS,
        GgmlType.IQ2_XS, GgmlType.IQ3_XXS,
    ];

    public static readonly GgmlType[] AllTypes = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, .. QuantizedTypes];

    public static IEnumerable<object[]> Types() => AllTypes.Select(t => new object[] { t });

    public static IEnumerable<object[]> TypesAndLevels() =>
        from t in AllTypes from l in Simd.Available select new object[] { t, l };

    /// <summary>Block counts swept: single blocks, odd counts, and a few model-like row lengths.</summary>
    public static int[] BlockCounts(GgmlType type) => QuantTypes.Get(type).BlockSize switch
    {
        1 => [1, 7, 8, 15, 16, 31, 33, 64, 100, 256, 1000],
        32 => [1, 2, 3, 7, 8, 16, 33, 64, 224],
        _ => [1, 2, 3, 5, 8, 28],
    };

    /// <summary>
    /// Random bytes for <paramref name="blocks"/> weight blocks, with every fp16 scale field replaced by a finite value
    /// in ±[2^-10, 2^-6): every bit pattern of the quants is exercised, scales stay realistic.
    /// </summary>
    public static byte[] RandomWeights(GgmlType type, int blocks, int seed)
    {
        var info = QuantTypes.Get(type);
        var rng = new Random(seed);
        if (info.BlockSize == 1)
        {
            var values = new float[blocks];
            for (int i = 0; i < blocks; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
            var bytes = new byte[blocks * info.BytesPerBlock];
            switch (type)
            {
                case GgmlType.F32: FloatFormats.QuantizeF32(values, bytes); break;
                case GgmlType.F16: FloatFormats.QuantizeF16(values, bytes); break;
                default:
                    for (int i = 0; i < blocks; i++) BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16));
                    break;
            }
            return bytes;
        }
        var data = new byte[blocks * info.BytesPerBlock];
        rng.NextBytes(data);
        for (int b = 0; b < blocks; b++)
        {
            var block = data.AsSpan(b * info.BytesPerBlock, info.BytesPerBlock);
            if (type == GgmlType.IQ1_M)
            {
                // d is spread over the top nibbles of the four u16 scales.
                ushort d = RandomScale(rng);
                for (int i = 0; i < 4; i++)
                {
                    ushort s = BitConverter.ToUInt16(block[(48 + 2 * i)..]);
                    s = (ushort)((s & 0x0FFF) | (((d >> (4 * i)) & 0xF) << 12));
                    BitConverter.TryWriteBytes(block[(48 + 2 * i)..], s);
                }
                continue;
            }
            foreach (int offset in ScaleOffsets(type)) BitConverter.TryWriteBytes(block[offset..], RandomScale(rng));
        }
        return data;
    }

    private static ushort RandomScale(Random rng)
    {
        float magnitude = MathF.Pow(2, -10 + 4 * (float)rng.NextDouble());
        return BitConverter.HalfToUInt16Bits((Half)(rng.Next(2) == 0 ? magnitude : -magnitude));
    }

    /// <summary>Byte offsets of the fp16 d / dmin / m fields in one block (SPEC 2.1).</summary>
    private static int[] ScaleOffsets(GgmlType type) => type switch
    {
        GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q6_K => [208],
        _ => [0],
    };

    /// <summary>Gaussian activations with a few larger values, like hidden states.</summary>
    public static float[] Activations(int length, int seed)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            x[i] = (float)(g * (rng.Next(64) == 0 ? 8 : 1));
        }
        return x;
    }

    public static byte[] Quantize(GgmlType weightType, float[] x)
    {
        var dot = QuantTypes.Get(weightType).DotType;
        var bytes = new byte[ActivationQuantizer.RowBytes(dot, x.Length)];
        ActivationQuantizer.QuantizeRow(dot, x, bytes, SimdLevel.Scalar);
        return bytes;
    }

    /// <summary>The weights as floats: ggml's dequantize_row for quantized types, the exact widening for float types.</summary>
    public static float[] DequantizeWeights(GgmlType type, byte[] weights, int count)
    {
        var y = new float[count];
        switch (type)
        {
            case GgmlType.F32: FloatFormats.DequantizeF32(weights, y); return y;
            case GgmlType.F16: FloatFormats.DequantizeF16(weights, y); return y;
            case GgmlType.BF16: FloatFormats.DequantizeBF16(weights, y); return y;
            default: return GgmlReference.DequantizeRow(QuantTypes.Get(type).Name, weights, count);
        }
    }

    /// <summary>The quantized activations as doubles (d·q per block; float rows as they are).</summary>
    public static double[] DequantizeActivations(GgmlType weightType, byte[] act, int count)
    {
        var dot = QuantTypes.Get(weightType).DotType;
        var y = new double[count];
        switch (dot)
        {
            case GgmlType.Q8_0:
            case GgmlType.Q8_1:
                int stride = dot == GgmlType.Q8_0 ? 34 : 36, qs = dot == GgmlType.Q8_0 ? 2 : 4;
                for (int i = 0; i < count; i++)
                {
                    int b = i / 32;
                    y[i] = (double)BitConverter.ToHalf(act, b * stride) * (sbyte)act[b * stride + qs + i % 32];
                }
                return y;
            case GgmlType.Q8_K:
                for (int i = 0; i < count; i++)
                {
                    int b = i / 256;
                    y[i] = (double)BitConverter.ToSingle(act, b * 292) * (sbyte)act[b * 292 + 4 + i % 256];
                }
                return y;
            default:
                for (int i = 0; i < count; i++) y[i] = BitConverter.ToSingle(act, 4 * i);
                return y;
        }
    }

    /// <summary>
    /// The oracle Σ w·a in double, and Σ|w·a|, the scale that float rounding errors are measured against.
    /// </summary>
    public static (double Dot, double AbsSum) Oracle(float[] w, double[] a)
    {
        double dot = 0, abs = 0;
        for (int i = 0; i < w.Length; i++)
        {
            dot += w[i] * a[i];
            abs += Math.Abs(w[i] * a[i]);
        }
        return (dot, abs);
    }

    /// <summary>
    /// Q4_1 / Q5_1 only: ggml stores the activation block sum as s = fp16(d·Σq), so the m·s term carries an fp16
    /// rounding (relative 2^-11) that the float oracle does not have. Returns Σ_b |m_b·s_b| (0 for other types).
    /// </summary>
    public static double OffsetTermMagnitude(GgmlType type, byte[] weights, byte[] act, int blocks)
    {
        if (type is not (GgmlType.Q4_1 or GgmlType.Q5_1)) return 0;
        int stride = QuantTypes.Get(type).BytesPerBlock;
        double sum = 0;
        for (int b = 0; b < blocks; b++)
            sum += Math.Abs((double)BitConverter.ToHalf(weights, b * stride + 2) * (double)BitConverter.ToHalf(act, b * 36 + 2));
        return sum;
    }
}
