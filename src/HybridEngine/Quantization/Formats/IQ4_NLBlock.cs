using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ4_NL: 32 values in 18 bytes, <c>d (fp16), qs[16]</c> (SPEC 2.2). Each 4-bit code picks one of 16
/// non-linear levels: <c>y[j] = d·kvalues[qs[j] &amp; 15]</c>, <c>y[j+16] = d·kvalues[qs[j] &gt;&gt; 4]</c>.
/// </summary>
public static class IQ4_NLBlock
{
    public const int BlockSize = 32;
    public const int BlockBytes = 18;

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        ReadOnlySpan<sbyte> levels = IqTables.KvaluesIq4nl;
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            Span<float> y = output.Slice(b * BlockSize, BlockSize);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            ReadOnlySpan<byte> qs = block.Slice(2, 16);
            for (int j = 0; j < 16; j++)
            {
                y[j] = d * levels[qs[j] & 0xF];
                y[j + 16] = d * levels[qs[j] >> 4];
            }
        }
    }
}
