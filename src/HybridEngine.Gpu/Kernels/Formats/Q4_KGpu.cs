using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q4_K (256 values, 144 bytes): half d, half dmin, 12 bytes of eight 6-bit (scale, min) pairs, 128 bytes of nibbles.
/// Sub-block s (32 values) is <c>d·sc_s·q − dmin·m_s</c>; 64-value chunk c holds sub-blocks 2c (low nibbles) and
/// 2c+1 (high nibbles). CPU reference: <c>Q4_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q4_KGpu : IGpuBlockFormat
{
    public int Parts => 16;

    /// <summary>
    /// Part p = half p%2 of sub-block s = p/2: 16 nibbles (low for even s, high for odd) of qs[32·(s/2) + 16·(p%2) ..],
    /// read as four 32-bit words (blocks are 144 bytes and qs starts at byte 16, so the words are aligned); scale and
    /// min s. Half sub-blocks put twice as many lanes on a block, so a warp's loads span fewer memory sectors.
    /// </summary>
    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 144;
        int sub = part >> 1;
        long word = (at + 16 + 32 * (sub >> 1) + 16 * (part & 1)) >> 2;
        int shift = 4 * (sub & 1);
        var words = w.Cast<uint>();
        float qx = 0, xs = 0;
        for (int k = 0; k < 4; k++)
        {
            uint bits = words[word + k] >> shift;
            for (int j = 0; j < 4; j++)
            {
                float a = x[xStart + 4 * k + j];
                qx += (int)((bits >> (8 * j)) & 15) * a;
                xs += a;
            }
        }
        return BlockBits.Half(w, at) * ScaleK4(w, at + 4, sub) * qx - BlockBits.Half(w, at + 2) * MinK4(w, at + 4, sub) * xs;
    }

    /// <summary>The part of <see cref="PartDot"/>, each value decoded to <c>d·sc·q − dmin·m</c> once for the tile.</summary>
    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 144;
        int sub = part >> 1;
        long word = (at + 16 + 32 * (sub >> 1) + 16 * (part & 1)) >> 2;
        int shift = 4 * (sub & 1);
        var words = w.Cast<uint>();
        float scale = BlockBits.Half(w, at) * ScaleK4(w, at + 4, sub), min = BlockBits.Half(w, at + 2) * MinK4(w, at + 4, sub);
        for (int k = 0; k < 4; k++)
        {
            uint bits = words[word + k] >> shift;
            for (int j = 0; j < 4; j++) dot.Add(4 * k + j, scale * (int)((bits >> (8 * j)) & 15) - min);
        }
        return dot;
    }

    /// <summary>The 6-bit scale of sub-block j from the packed 12 bytes shared by Q4_K and Q5_K.</summary>
    public static int ScaleK4(ArrayView<byte> w, long s, int j) =>
        j < 4 ? w[s + j] & 63 : (w[s + j + 4] & 15) | ((w[s + j - 4] >> 6) << 4);

    /// <summary>The 6-bit min of sub-block j from the packed 12 bytes shared by Q4_K and Q5_K.</summary>
    public static int MinK4(ArrayView<byte> w, long s, int j) =>
        j < 4 ? w[s + j + 4] & 63 : (w[s + j + 4] >> 4) | ((w[s + j] >> 6) << 4);
}
