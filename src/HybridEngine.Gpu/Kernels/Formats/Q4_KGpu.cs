using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q4_K (256 values, 144 bytes): half d, half dmin, 12 bytes of eight 6-bit (scale, min) pairs, 128 bytes of nibbles.
/// Sub-block s (32 values) is <c>d·sc_s·q − dmin·m_s</c>; 64-value chunk c holds sub-blocks 2c (low nibbles) and
/// 2c+1 (high nibbles). CPU reference: <c>Q4_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q4_KGpu : IGpuBlockFormat
{
    public float BlockDot(ArrayView<byte> w, long block, ArrayView<float> x, long xStart)
    {
        long at = block * 144;
        float d = BlockBits.Half(w, at), dmin = BlockBits.Half(w, at + 2);
        long scales = at + 4, qs = at + 16;
        float sum = 0;
        for (int c = 0; c < 4; c++)
        {
            float qLo = 0, xLo = 0, qHi = 0, xHi = 0;
            for (int l = 0; l < 32; l++)
            {
                int q = w[qs + 32 * c + l];
                float a = x[xStart + 64 * c + l], b = x[xStart + 64 * c + 32 + l];
                qLo += (q & 15) * a; xLo += a;
                qHi += (q >> 4) * b; xHi += b;
            }
            sum += d * (ScaleK4(w, scales, 2 * c) * qLo + ScaleK4(w, scales, 2 * c + 1) * qHi)
                 - dmin * (MinK4(w, scales, 2 * c) * xLo + MinK4(w, scales, 2 * c + 1) * xHi);
        }
        return sum;
    }

    /// <summary>The 6-bit scale of sub-block j from the packed 12 bytes shared by Q4_K and Q5_K.</summary>
    public static int ScaleK4(ArrayView<byte> w, long s, int j) =>
        j < 4 ? w[s + j] & 63 : (w[s + j + 4] & 15) | ((w[s + j - 4] >> 6) << 4);

    /// <summary>The 6-bit min of sub-block j from the packed 12 bytes shared by Q4_K and Q5_K.</summary>
    public static int MinK4(ArrayView<byte> w, long s, int j) =>
        j < 4 ? w[s + j + 4] & 63 : (w[s + j + 4] >> 4) | ((w[s + j] >> 6) << 4);
}
