using System.Runtime.InteropServices;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q6_K (SPEC 2.4): 256 values per 210-byte block: <c>ql[128]</c> (low 4 bits), <c>qh[64]</c> (high 2 bits),
/// <c>scales[16]</c> (int8, one per 16 values), <c>d</c> (fp16, last). Value = <c>d·sc·(q − 32)</c>, q in 0..63.
/// Half n (128 values) uses <c>ql[64n..]</c>, <c>qh[32n..]</c>, <c>scales[8n..]</c>; for l in 0..31, values
/// l, l+32, l+64, l+96 take ql[l] low, ql[l+32] low, ql[l] high, ql[l+32] high and qh[l] bits 0-1, 2-3, 4-5, 6-7.
/// </summary>
public static class Q6_KBlock
{
    public const int BlockSize = QuantMath.SuperBlock;
    public const int BytesPerBlock = 210;

    /// <summary>As ggml's dequantize_row_q6_K: <c>y = (d·sc)·(q − 32)</c>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            float d = QuantMath.ReadHalf(block, 208);
            var allScales = MemoryMarshal.Cast<byte, sbyte>(block.Slice(192, 16));
            for (int n = 0; n < 2; n++)
            {
                var ql = block.Slice(64 * n, 64);
                var qh = block.Slice(128 + 32 * n, 32);
                var sc = allScales.Slice(8 * n, 8);
                var y = output.Slice(b * BlockSize + 128 * n, 128);
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l] = d * sc[s] * q1;
                    y[l + 32] = d * sc[s + 2] * q2;
                    y[l + 64] = d * sc[s + 4] * q3;
                    y[l + 96] = d * sc[s + 6] * q4;
                }
            }
        }
    }

    /// <summary>
    /// ggml's quantize_row_q6_K_ref: a signed scale per 16 values from <see cref="SignedScaleFit.FitSignedScale"/> (nmax 32,
    /// weights x²), the block scale <c>d = max_scale/−128</c> from the scale of largest magnitude, 8-bit
    /// scales <c>min(127, nearest_int(−128·scale/max_scale))</c>, then requantization with the stored values.
    /// A block whose scales are all below 1e-15 is written as zeros.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        Quantize(input, blocks, KQuantFit.LanesByDefault);

    /// <summary>As <see cref="Quantize(ReadOnlySpan{float}, Span{byte})"/>, choosing the search path (same bytes either way).</summary>
    internal static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks, bool useLanes)
    {
        Span<byte> levels = stackalloc byte[BlockSize];
        Span<float> scales = stackalloc float[16];
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var x = input.Slice(b * BlockSize, BlockSize);
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            if (useLanes)
            {
                SignedScaleFit.FitSignedScaleLanes(32, 16, x[..128], levels[..128], scales[..8]);
                SignedScaleFit.FitSignedScaleLanes(32, 16, x[128..], levels[128..], scales[8..]);
            }
            else
            {
                for (int g = 0; g < 16; g++) scales[g] = SignedScaleFit.FitSignedScale(32, x.Slice(16 * g, 16), levels.Slice(16 * g, 16));
            }
            float maxScale = 0, maxAbsScale = 0;
            for (int g = 0; g < 16; g++)
            {
                if (MathF.Abs(scales[g]) > maxAbsScale) { maxAbsScale = MathF.Abs(scales[g]); maxScale = scales[g]; }
            }
            if (maxAbsScale < QuantMath.GroupMaxEps)
            {
                block.Clear();
                continue;
            }

            float iscale = -128f / maxScale;
            QuantMath.WriteHalf(block, 208, 1 / iscale);
            var blockScales = MemoryMarshal.Cast<byte, sbyte>(block.Slice(192, 16));
            for (int g = 0; g < 16; g++) blockScales[g] = (sbyte)Math.Min(127, QuantMath.NearestInt(iscale * scales[g]));

            float dAll = QuantMath.ReadHalf(block, 208);
            for (int g = 0; g < 16; g++)
            {
                float d = dAll * blockScales[g];
                // A group whose scale rounds to zero keeps the levels of the search, as in ggml.
                if (d == 0) continue;
                var xs = x.Slice(16 * g, 16);
                var ls = levels.Slice(16 * g, 16);
                for (int i = 0; i < 16; i++) ls[i] = (byte)(Math.Clamp(QuantMath.NearestInt(xs[i] / d), -32, 31) + 32);
            }

            for (int n = 0; n < 2; n++)
            {
                var ql = block.Slice(64 * n, 64);
                var qh = block.Slice(128 + 32 * n, 32);
                var ls = levels.Slice(128 * n, 128);
                for (int l = 0; l < 32; l++)
                {
                    int l1 = ls[l], l2 = ls[l + 32], l3 = ls[l + 64], l4 = ls[l + 96];
                    ql[l] = (byte)((l1 & 0xF) | ((l3 & 0xF) << 4));
                    ql[l + 32] = (byte)((l2 & 0xF) | ((l4 & 0xF) << 4));
                    qh[l] = (byte)((l1 >> 4) | ((l2 >> 4) << 2) | ((l3 >> 4) << 4) | ((l4 >> 4) << 6));
                }
            }
        }
    }
}
