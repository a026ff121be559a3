using System.Buffers.Binary;
using HybridEngine.Quantization;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Quantization;

/// <summary>
/// Every IQ format's dequantization against ggml's own <c>dequantize_row_*</c>, bit for bit (tolerance: none;
/// both sides do the same float operations in the same order, so any difference is a bug).
/// IQ1_S, IQ1_M and IQ2_XXS cannot be produced by ggml without an importance matrix, so the blocks are random
/// bytes (every bit pattern of these formats is a valid block) with only the fp16 scales forced to be finite.
/// </summary>
public class IqFormatTests
{
    private const int Blocks = 96;

    public static TheoryData<GgmlType> RandomBlockTypes =>
    [
        GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.IQ1_S, GgmlType.IQ1_M,
        GgmlType.IQ2_XXS, GgmlType.IQ2_XS, GgmlType.IQ3_XXS,
    ];

    [Theory]
    [MemberData(nameof(RandomBlockTypes))]
    public void RandomBlocksDequantizeLikeGgml(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        for (int seed = 1; seed <= 4; seed++)
        {
            byte[] blocks = RandomBlocks(info, Blocks, seed);
            AssertSameAsGgml(info, blocks);
        }
    }

    [Theory]
    [InlineData(GgmlType.IQ4_NL)]
    [InlineData(GgmlType.IQ4_XS)]
    public void GgmlQuantizedBlocksDequantizeLikeGgml(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        var rng = new Random(7);
        int n = 32 * 256;
        // Gaussian-like weights with a few outliers, the shape real weight rows have.
        float[] x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double g = (rng.NextDouble() + rng.NextDouble() + rng.NextDouble() - 1.5) * 0.05;
            x[i] = (float)(rng.Next(64) == 0 ? g * 20 : g);
        }
        byte[] blocks = GgmlReference.QuantizeRowRef(info.Name, x, (int)info.RowBytes(n));
        AssertSameAsGgml(info, blocks);
    }

    [Fact]
    public void Iq1mScaleIsAssembledFromTopNibbles()
    {
        // A hand-built IQ1_M block: d = 1.0 (fp16 0x3C00) spread over the top nibbles of the four scale words,
        // sub-scale 0 of sub-block 0 = 3 (dl = 7), grid index 0 (all −1), delta +0.125: y = 7·(−1 + 0.125).
        byte[] block = new byte[56];
        // Nibble i of d's bits sits in the top nibble of word i: 0x3C00 -> words' top nibbles 0, 0, 0xC, 0x3.
        ushort[] sc = [3, 0, 0xC << 12, 0x3 << 12];
        for (int i = 0; i < 4; i++) BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(48 + 2 * i), sc[i]);
        float[] y = new float[256];
        QuantTypes.Get(GgmlType.IQ1_M).Dequantize!(block, y);
        float expected = 7f * ((sbyte)(IqTables.Iq1sGrid[0] & 0xFF) + 0.125f);
        Assert.Equal(expected, y[0]);
        AssertSameAsGgml(QuantTypes.Get(GgmlType.IQ1_M), block);
    }

    private static void AssertSameAsGgml(QuantTypeInfo info, byte[] blocks)
    {
        int n = blocks.Length / info.BytesPerBlock * info.BlockSize;
        float[] expected = GgmlReference.DequantizeRow(info.Name, blocks, n);
        float[] actual = new float[n];
        info.Dequantize!(blocks, actual);
        for (int i = 0; i < n; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{info.Name}: value {i} (block {i / info.BlockSize}) is {actual[i]:R}, ggml gives {expected[i]:R}");
            }
        }
    }

    /// <summary>Random bytes with every fp16 scale set to a random finite value (normal or subnormal).</summary>
    private static byte[] RandomBlocks(QuantTypeInfo info, int count, int seed)
    {
        var rng = new Random(seed * 1000 + (int)info.Type);
        byte[] blocks = new byte[count * info.BytesPerBlock];
        rng.NextBytes(blocks);
        for (int b = 0; b < count; b++)
        {
            Span<byte> block = blocks.AsSpan(b * info.BytesPerBlock, info.BytesPerBlock);
            ushort d = RandomFiniteHalfBits(rng);
            if (info.Type == GgmlType.IQ1_M)
            {
                // IQ1_M keeps d's four nibbles in the top nibbles of its four u16 scale words (bytes 48..55).
                for (int i = 0; i < 4; i++)
                {
                    Span<byte> word = block.Slice(48 + 2 * i, 2);
                    ushort w = BinaryPrimitives.ReadUInt16LittleEndian(word);
                    BinaryPrimitives.WriteUInt16LittleEndian(word, (ushort)((w & 0x0FFF) | (((d >> (4 * i)) & 0xF) << 12)));
                }
            }
            else
            {
                BinaryPrimitives.WriteUInt16LittleEndian(block, d);
            }
        }
        return blocks;
    }

    private static ushort RandomFiniteHalfBits(Random rng)
    {
        while (true)
        {
            ushort bits = (ushort)rng.Next(0x10000);
            if (((bits >> 10) & 0x1F) != 0x1F) return bits;
        }
    }
}
