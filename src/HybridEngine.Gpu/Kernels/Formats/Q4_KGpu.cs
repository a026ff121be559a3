using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q4_K (256 values, 144 bytes): half d, half dmin, 12 bytes of eight 6-bit (scale, min) pairs, 128 bytes of nibbles.
/// Sub-block s (32 values) is <c>d·sc_s·q − dmin·m_s</c>; 64-value chunk c holds sub-blocks 2c (low nibbles) and
/// 2c+1 (high nibbles). CPU reference: <c>Q4_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q4_KGpu : IGpuBlockFormat
{
    public int Parts => 8;

    /// <summary>Part p = sub-block p: nibbles (low for even p, high for odd) of qs[32·(p/2) ..], scale and min p.</summary>
    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 144;
        long qs = at + 16 + 32 * (part >> 1);
        int shift = 4 * (part & 1);
        float qx = 0, xs = 0;
        for (int l = 0; l < 32; l++)
        {
            float a = x[xStart + l];
            qx += ((w[qs + l] >> shift) & 15) * a;
            xs += a;
        }
        return BlockBits.Half(w, at) * ScaleK4(w, at + 4, part) * qx - BlockBits.Half(w, at + 2) * MinK4(w, at + 4, part) * xs;
    }

    /// <summary>The 6-bit scale of sub-block j from the packed 12 bytes shared by Q4_K and Q5_K.</summary>
    public static int ScaleK4(ArrayView<byte> w, long s, int j) =>
        j < 4 ? w[s + j] & 63 : (w[s + j + 4] & 15) | ((w[s + j - 4] >> 6) << 4);

    /// <summary>The 6-bit min of sub-block j from the packed 12 bytes shared by Q4_K and Q5_K.</summary>
    public static int MinK4(ArrayView<byte> w, long s, int j) =>
        j < 4 ? w[s + j + 4] & 63 : (w[s + j + 4] >> 4) | ((w[s + j] >> 6) << 4);
}
