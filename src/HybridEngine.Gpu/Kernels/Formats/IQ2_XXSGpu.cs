using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// IQ2_XXS (256 values, 66 bytes): half d, then per 32-value sub-block 8 bytes: four grid indices q[0..3] and a u32
/// whose top 4 bits are the scale and whose four 7-bit fields pick sign patterns. Group l of 8 values is
/// <c>d·(0.5 + s)·0.25 · grid[q[l]][j] · (−1 if bit j of ksigns[field l])</c>. Grid and sign table are uploaded once
/// (<c>IqTables.Iq2xxsGrid</c>, <c>IqTables.KsignsIq2xs</c>). CPU reference: <c>IQ2_XXSBlock.Dequantize</c>.
/// </summary>
public readonly struct IQ2_XXSGpu(ArrayView<ulong> grid, ArrayView<byte> signs) : IGpuBlockFormat
{
    private readonly ArrayView<ulong> _grid = grid;
    private readonly ArrayView<byte> _signs = signs;

    public int Parts => 8;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 66;
        long q = at + 2 + 8 * part;
        uint a1 = (uint)(w[q + 4] | (w[q + 5] << 8) | (w[q + 6] << 16) | (w[q + 7] << 24));
        float sum = 0;
        for (int l = 0; l < 4; l++)
        {
            ulong entry = _grid[(int)w[q + l]];
            int sign = _signs[(int)((a1 >> (7 * l)) & 127)];
            for (int j = 0; j < 8; j++)
            {
                float v = (int)((entry >> (8 * j)) & 0xFF) * x[xStart + 8 * l + j];
                sum += (sign & (1 << j)) != 0 ? -v : v;
            }
        }
        return BlockBits.Half(w, at) * (0.5f + (a1 >> 28)) * 0.25f * sum;
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 66;
        long q = at + 2 + 8 * part;
        uint a1 = (uint)(w[q + 4] | (w[q + 5] << 8) | (w[q + 6] << 16) | (w[q + 7] << 24));
        float scale = BlockBits.Half(w, at) * (0.5f + (a1 >> 28)) * 0.25f;
        for (int l = 0; l < 4; l++)
        {
            ulong entry = _grid[(int)w[q + l]];
            int sign = _signs[(int)((a1 >> (7 * l)) & 127)];
            for (int j = 0; j < 8; j++)
            {
                float v = scale * (int)((entry >> (8 * j)) & 0xFF);
                dot.Add(8 * l + j, (sign & (1 << j)) != 0 ? -v : v);
            }
        }
        return dot;
    }
}
