using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ4_XS: 256 values in 136 bytes, <c>d (fp16), scales_h (u16), scales_l[4], qs[128]</c> (SPEC 2.1).
/// Eight 32-value sub-blocks, each an IQ4_NL block without its own d: a 6-bit scale
/// <c>ls = (low nibble ib of scales_l) | (bits 2ib..2ib+1 of scales_h) &lt;&lt; 4</c> gives <c>dl = d·(ls − 32)</c>,
/// and <c>y[j] = dl·kvalues[qs[j] &amp; 15]</c>, <c>y[j+16] = dl·kvalues[qs[j] &gt;&gt; 4]</c> over the sub-block's 16 bytes.
/// Quantization reproduces ggml's <c>quantize_row_iq4_xs_ref</c> (no importance weights) bit for bit.
/// </summary>
public static class IQ4_XSBlock
{
    public const int BlockSize = 256;
    public const int BlockBytes = 136;

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        ReadOnlySpan<sbyte> levels = IqTables.KvaluesIq4nl;
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            Span<float> y = output.Slice(b * BlockSize, BlockSize);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            int scalesHigh = BinaryPrimitives.ReadUInt16LittleEndian(block[2..]);
            ReadOnlySpan<byte> scalesLow = block.Slice(4, 4);
            ReadOnlySpan<byte> qs = block.Slice(8, 128);
            for (int ib = 0; ib < 8; ib++)
            {
                int ls = ((scalesLow[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesHigh >> (2 * ib)) & 3) << 4);
                float dl = d * (ls - 32);
                ReadOnlySpan<byte> q = qs.Slice(16 * ib, 16);
                Span<float> ys = y.Slice(32 * ib, 32);
                for (int j = 0; j < 16; j++)
                {
                    ys[j] = dl * levels[q[j] & 0xF];
                    ys[j + 16] = dl * levels[q[j] >> 4];
                }
            }
        }
    }

    /// <summary>
    /// Per block: each sub-block's own least-squares scale <c>s_ib</c> (weights x², 15 trial scales, see
    /// <see cref="IQ4_NLBlock.FitScale"/>); with <c>m</c> the scale of largest magnitude, <c>d = −m/32</c> and
    /// <c>ls_ib = clamp(round(s_ib/d), −32, 31) + 32</c> (round half to even); the codes are then the levels nearest
    /// to <c>x/(d·(ls − 32))</c>, using the float d, not its fp16 rounding, as ggml does.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        ReadOnlySpan<sbyte> levels = IqTables.KvaluesIq4nl;
        Span<float> scales = stackalloc float[8];
        Span<byte> codes = stackalloc byte[32];
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<float> x = input.Slice(b * BlockSize, BlockSize);
            Span<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            float maxScale = 0, amaxScale = 0;
            for (int ib = 0; ib < 8; ib++)
            {
                scales[ib] = IQ4_NLBlock.FitScale(x.Slice(32 * ib, 32), codes, tries: 7);
                float abs = MathF.Abs(scales[ib]);
                if (abs > amaxScale) { amaxScale = abs; maxScale = scales[ib]; }
            }

            float d = -maxScale / 32;
            float id = d != 0 ? 1 / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(block, (Half)d);
            int scalesHigh = 0;
            Span<byte> scalesLow = block.Slice(4, 4);
            scalesLow.Clear();
            for (int ib = 0; ib < 8; ib++)
            {
                int l = Math.Clamp(NearestInt(id * scales[ib]), -32, 31);
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0f;
                ReadOnlySpan<float> xb = x.Slice(32 * ib, 32);
                for (int j = 0; j < 32; j++) codes[j] = (byte)IQ4_NLBlock.BestLevel(levels, idl * xb[j]);
                IQ4_NLBlock.PackCodes(codes, block.Slice(8 + 16 * ib, 16));
                l += 32;
                scalesLow[ib / 2] |= (byte)((l & 0xF) << (4 * (ib % 2)));
                scalesHigh |= (l >> 4) << (2 * ib);
            }
            BinaryPrimitives.WriteUInt16LittleEndian(block[2..], (ushort)scalesHigh);
        }
    }

    /// <summary>
    /// ggml's nearest_int: round half to even by adding 1.5·2²³ and reading the low mantissa bits
    /// (valid for |x| &lt; 2²²; the scale ratios here are at most 32 in magnitude).
    /// </summary>
    private static int NearestInt(float x)
    {
        float shifted = x + 12582912f;
        return (BitConverter.SingleToInt32Bits(shifted) & 0x007FFFFF) - 0x00400000;
    }
}
