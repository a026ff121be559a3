using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q5_K (256 values, 176 bytes): half d, half dmin, 12 scale bytes as in Q4_K, qh[32], qs[128]. Value l of 64-value
/// chunk c takes its fifth bit from qh[l] bit 2c (low half) or bit 2c+1 (high half); <c>v = d·sc·q − dmin·m</c>.
/// CPU reference: <c>Q5_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q5_KGpu : IGpuBlockFormat
{
    public float BlockDot(ArrayView<byte> w, long block, ArrayView<float> x, long xStart)
    {
        long at = block * 176;
        float d = BlockBits.Half(w, at), dmin = BlockBits.Half(w, at + 2);
        long scales = at + 4, qh = at + 16, qs = at + 48;
        float sum = 0;
        for (int c = 0; c < 4; c++)
        {
            float qLo = 0, xLo = 0, qHi = 0, xHi = 0;
            for (int l = 0; l < 32; l++)
            {
                int q = w[qs + 32 * c + l];
                int h = w[qh + l];
                float a = x[xStart + 64 * c + l], b = x[xStart + 64 * c + 32 + l];
                qLo += ((q & 15) | (((h >> (2 * c)) & 1) << 4)) * a; xLo += a;
                qHi += ((q >> 4) | (((h >> (2 * c + 1)) & 1) << 4)) * b; xHi += b;
            }
            sum += d * (Q4_KGpu.ScaleK4(w, scales, 2 * c) * qLo + Q4_KGpu.ScaleK4(w, scales, 2 * c + 1) * qHi)
                 - dmin * (Q4_KGpu.MinK4(w, scales, 2 * c) * xLo + Q4_KGpu.MinK4(w, scales, 2 * c + 1) * xHi);
        }
        return sum;
    }
}
