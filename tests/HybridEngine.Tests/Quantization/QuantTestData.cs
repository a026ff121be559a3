using System.Buffers.Binary;
using HybridEngine.Quantization;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Quantization;

/// <summary>Seeded inputs and blocks shared by the quant-format tests, and bit-exact comparisons against ggml.</summary>
internal static class QuantTestData
{
    /// <summary>Names of the quantizer input sets, for xunit theories.</summary>
    public static readonly string[] InputKinds =
        ["gaussian", "uniform", "outliers", "zeros", "tiny", "subnormal", "huge", "positive", "sparse", "steps", "rows", "nan"];

    /// <summary>
    /// Seeded input of <paramref name="length"/> values: gaussian; uniform in [-1, 1]; gaussian with a few ×40
    /// outliers; all zeros; tiny values (1e-6 and 1e-30, below fp16's range); float subnormals; huge values (1e4); all positive
    /// (the min-offset formats); sparse (whole 16- and 32-groups of zeros); small integers (ties for round-half
    /// rules); several rows of different scales; NaNs sprinkled in.
    /// </summary>
    public static float[] Input(string kind, int length, int seed)
    {
        var rng = new Random(seed);
        var x = new float[length];
        switch (kind)
        {
            case "gaussian":
                for (int i = 0; i < length; i++) x[i] = Gaussian(rng);
                break;
            case "uniform":
                for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
                break;
            case "outliers":
                for (int i = 0; i < length; i++) x[i] = Gaussian(rng) * (rng.Next(50) == 0 ? 40f : 1f);
                break;
            case "zeros":
                break;
            case "tiny":
                for (int i = 0; i < length; i++) x[i] = Gaussian(rng) * (i < length / 2 ? 1e-6f : 1e-30f);
                break;
            case "subnormal":
                // Float subnormals: 1/d overflows to infinity, the path where C's float-to-int conversion shows.
                for (int i = 0; i < length; i++) x[i] = Gaussian(rng) * 1e-39f;
                break;
            case "huge":
                for (int i = 0; i < length; i++) x[i] = Gaussian(rng) * 1e4f;
                break;
            case "positive":
                for (int i = 0; i < length; i++) x[i] = (float)rng.NextDouble() * 3f + 0.5f;
                break;
            case "sparse":
                for (int i = 0; i < length; i++) x[i] = (i / 16) % 3 == 0 ? 0f : Gaussian(rng);
                break;
            case "steps":
                for (int i = 0; i < length; i++) x[i] = rng.Next(-8, 9) * 0.5f;
                break;
            case "rows":
                for (int i = 0; i < length; i++) x[i] = Gaussian(rng) * MathF.Pow(10f, (i / 256) % 5 - 2);
                break;
            case "nan":
                // Garbage in must still give ggml's garbage out: NaN at a few places, once at the start of a block.
                for (int i = 0; i < length; i++) x[i] = Gaussian(rng);
                for (int i = 0; i < length; i += 97) x[i] = float.NaN;
                x[0] = float.NaN;
                break;
            default:
                throw new ArgumentException($"unknown input kind {kind}", nameof(kind));
        }
        return x;
    }

    public static float Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    /// <summary>
    /// Random blocks of <paramref name="type"/>: random bytes everywhere, then the scale fields overwritten with
    /// finite fp16 values of moderate magnitude (random bytes there would give NaN/inf, which no file holds).
    /// </summary>
    public static byte[] RandomBlocks(GgmlType type, int blockCount, int seed)
    {
        var info = QuantTypes.Get(type);
        var rng = new Random(seed);
        var data = new byte[blockCount * info.BytesPerBlock];
        rng.NextBytes(data);
        for (int b = 0; b < blockCount; b++)
        {
            var block = data.AsSpan(b * info.BytesPerBlock, info.BytesPerBlock);
            if (type == GgmlType.Q8_K)
            {
                BinaryPrimitives.WriteSingleLittleEndian(block, SaneScale(rng));
                continue;
            }
            foreach (int offset in HalfFieldOffsets(type))
            {
                BinaryPrimitives.WriteHalfLittleEndian(block.Slice(offset, 2), (Half)SaneScale(rng));
            }
        }
        return data;
    }

    /// <summary>Magnitude 1e-4..2 (log-uniform), either sign.</summary>
    private static float SaneScale(Random rng) =>
        (rng.Next(2) == 0 ? -1f : 1f) * MathF.Pow(10f, (float)(rng.NextDouble() * 4.3 - 4));

    /// <summary>Byte offsets of the fp16 scale fields (d, m/dmin/s) inside one block (SPEC 2.1).</summary>
    private static int[] HalfFieldOffsets(GgmlType type) => type switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => [0],
        GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q8_1 => [0, 2],
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        GgmlType.Q6_K => [208],
        _ => throw new ArgumentException($"no scale layout for {type}", nameof(type)),
    };

    /// <summary>ggml's name for a type in its function names (dequantize_row_&lt;name&gt;).</summary>
    public static string GgmlName(GgmlType type) => QuantTypes.Get(type).Name;

    /// <summary>Asserts two float arrays are identical bit for bit, naming the first differing index.</summary>
    public static void AssertBitsEqual(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: value {i} is {actual[i]:R}, ggml gives {expected[i]:R}");
            }
        }
    }

    /// <summary>Asserts two block buffers are byte-identical, naming the first differing block and byte.</summary>
    public static void AssertBytesEqual(byte[] expected, byte[] actual, int bytesPerBlock, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i])
            {
                Assert.Fail($"{what}: block {i / bytesPerBlock} byte {i % bytesPerBlock} is 0x{actual[i]:X2}, ggml gives 0x{expected[i]:X2}");
            }
        }
    }

    /// <summary>Quantizes with ours and with ggml's reference quantizer and asserts the bytes agree.</summary>
    public static void AssertQuantizeMatchesGgml(GgmlType type, float[] input, string what)
    {
        var info = QuantTypes.Get(type);
        int bytes = (int)info.RowBytes(input.Length);
        byte[] expected = GgmlReference.QuantizeRowRef(GgmlName(type), input, bytes);
        // Pre-fill with garbage so a field the quantizer forgets to write shows up.
        byte[] actual = new byte[bytes];
        Array.Fill(actual, (byte)0xA5);
        Assert.NotNull(info.Quantize);
        info.Quantize!(input, actual);
        AssertBytesEqual(expected, actual, info.BytesPerBlock, what);
    }

    /// <summary>Dequantizes random blocks with ours and with ggml's dequantize_row and asserts bit equality.</summary>
    public static void AssertDequantizeMatchesGgml(GgmlType type, int blockCount, int seed)
    {
        var info = QuantTypes.Get(type);
        byte[] blocks = RandomBlocks(type, blockCount, seed);
        int count = blockCount * info.BlockSize;
        float[] expected = GgmlReference.DequantizeRow(GgmlName(type), blocks, count);
        float[] actual = new float[count];
        Assert.NotNull(info.Dequantize);
        info.Dequantize!(blocks, actual);
        AssertBitsEqual(expected, actual, $"{type} dequantize, seed {seed}");
    }

    /// <summary>Every (type, input kind) pair, for theories that quantize each kind with each type.</summary>
    public static TheoryData<GgmlType, string> TypesAndKinds(IEnumerable<GgmlType> types)
    {
        var data = new TheoryData<GgmlType, string>();
        foreach (var type in types)
        {
            foreach (string kind in InputKinds) data.Add(type, kind);
        }
        return data;
    }
}
