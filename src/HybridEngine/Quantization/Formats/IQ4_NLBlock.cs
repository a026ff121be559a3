using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ4_NL: 32 values in 18 bytes, <c>d (fp16), qs[16]</c> (SPEC 2.2). Each 4-bit code picks one of 16
/// non-linear levels: <c>y[j] = d·kvalues[qs[j] &amp; 15]</c>, <c>y[j+16] = d·kvalues[qs[j] &gt;&gt; 4]</c>.
/// Quantization reproduces ggml's <c>quantize_row_iq4_nl_ref</c> (no importance weights) bit for bit.
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

    /// <summary>
    /// Per block: the scale that minimises Σ w·(x − d·level)² with weights <c>w = x²</c>, the levels chosen as the
    /// nearest to <c>x/d₀</c> for the start scale <c>d₀ = max/kvalues[0]</c> (max: the value of largest magnitude),
    /// i.e. <c>d = Σ w·q·x / Σ w·q²</c>. A block whose largest magnitude is below 1e-15 gets d = 0 and zero codes
    /// (ggml leaves those code bytes unset).
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        Span<byte> codes = stackalloc byte[BlockSize];
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<float> x = input.Slice(b * BlockSize, BlockSize);
            Span<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            float d = FitScale(x, codes, tries: -1);
            BinaryPrimitives.WriteHalfLittleEndian(block, (Half)d);
            PackCodes(codes, block.Slice(2, 16));
        }
    }

    /// <summary>ggml's GROUP_MAX_EPS: sub-blocks whose largest magnitude is below this are all-zero.</summary>
    internal const float GroupMaxEps = 1e-15f;

    /// <summary>
    /// Weighted least-squares scale of one 32-value sub-block (weights x²), as ggml's shared IQ4 quantizer computes it:
    /// codes from the start scale <c>max/−kvalues[0]</c> when <paramref name="tries"/> &gt; 0, else <c>max/kvalues[0]</c>;
    /// then, for each of the <c>2·tries+1</c> inverse scales <c>(t + kvalues[0])/max</c>, the fitted scale replaces
    /// the current one when it explains more of the block (larger (Σwqx)²/Σwq²). Returns 0 and zero codes for an
    /// all-zero block; otherwise <paramref name="codes"/> receives the codes of the start scale, not of the returned one.
    /// </summary>
    internal static float FitScale(ReadOnlySpan<float> x, Span<byte> codes, int tries)
    {
        ReadOnlySpan<sbyte> levels = IqTables.KvaluesIq4nl;
        float amax = 0, max = 0;
        for (int j = 0; j < x.Length; j++)
        {
            float ax = MathF.Abs(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax < GroupMaxEps)
        {
            codes.Clear();
            return 0;
        }

        float d = tries > 0 ? -max / levels[0] : max / levels[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < x.Length; j++)
        {
            int l = BestLevel(levels, id * x[j]);
            codes[j] = (byte)l;
            float q = levels[l];
            float w = x[j] * x[j];
            // Same association as ggml, (w·q)·x and (w·q)·q, so the sums round identically.
            sumqx += w * q * x[j];
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int t = -tries; t <= tries; t++)
        {
            id = (t + levels[0]) / max;
            sumqx = 0;
            sumq2 = 0;
            for (int j = 0; j < x.Length; j++)
            {
                float q = levels[BestLevel(levels, id * x[j])];
                float w = x[j] * x[j];
                sumqx += w * q * x[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
            {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }

    /// <summary>Index of the level nearest to <paramref name="x"/> (binary search; ties go to the upper level).</summary>
    internal static int BestLevel(ReadOnlySpan<sbyte> levels, float x)
    {
        if (x <= levels[0]) return 0;
        if (x >= levels[^1]) return levels.Length - 1;
        int low = 0, high = levels.Length - 1;
        while (high - low > 1)
        {
            int mid = (low + high) / 2;
            if (x < levels[mid]) high = mid; else low = mid;
        }
        return x - levels[high - 1] < levels[high] - x ? high - 1 : high;
    }

    /// <summary>Codes 0..15 of a 32-value sub-block into 16 bytes: value j in the low nibble, value j+16 in the high.</summary>
    internal static void PackCodes(ReadOnlySpan<byte> codes, Span<byte> qs)
    {
        for (int j = 0; j < 16; j++) qs[j] = (byte)(codes[j] | (codes[j + 16] << 4));
    }
}
