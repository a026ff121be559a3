using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q6_K (256 values, 210 bytes): ql[128] low nibbles, qh[64] high 2-bit pairs, int8 scales[16], half d.
/// In 128-value half n, position l (0..31) yields four values l, l+32, l+64, l+96 from
/// ql[l], ql[l+32] (low then high nibbles) and the four 2-bit fields of qh[l]; <c>v = d·sc·(q − 32)</c> with the scale
/// of each 16 values. CPU reference: <c>Q6_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q6_KGpu : IGpuBlockFormat
{
    public float BlockDot(ArrayView<byte> w, long block, ArrayView<float> x, long xStart)
    {
        long at = block * 210;
        long ql0 = at, qh0 = at + 128, sc0 = at + 192;
        float d = BlockBits.Half(w, at + 208);
        float sum = 0;
        for (int n = 0; n < 2; n++)
        {
            long ql = ql0 + 64 * n, qh = qh0 + 32 * n, sc = sc0 + 8 * n;
            long xs = xStart + 128 * n;
            for (int half = 0; half < 2; half++)
            {
                // Positions 16·half .. 16·half+15 share one scale per output quarter.
                float s1 = 0, s2 = 0, s3 = 0, s4 = 0;
                for (int l = 16 * half; l < 16 * half + 16; l++)
                {
                    int a = w[ql + l], b = w[ql + l + 32], h = w[qh + l];
                    s1 += (((a & 15) | ((h & 3) << 4)) - 32) * x[xs + l];
                    s2 += (((b & 15) | (((h >> 2) & 3) << 4)) - 32) * x[xs + l + 32];
                    s3 += (((a >> 4) | (((h >> 4) & 3) << 4)) - 32) * x[xs + l + 64];
                    s4 += (((b >> 4) | (((h >> 6) & 3) << 4)) - 32) * x[xs + l + 96];
                }
                sum += BlockBits.I8(w, sc + half) * s1 + BlockBits.I8(w, sc + half + 2) * s2
                     + BlockBits.I8(w, sc + half + 4) * s3 + BlockBits.I8(w, sc + half + 6) * s4;
            }
        }
        return d * sum;
    }
}
