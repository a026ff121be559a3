using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// IQ1_S (256 values, 50 bytes): half d, qs[32] low 8 bits of grid indices, qh[8] u16 per 32-value sub-block
/// (three 3-bit index tops, a 3-bit scale s in bits 12–14, the delta sign in bit 15). Group l of 8 values is
/// <c>d·(2s + 1)·(grid[qs | top_l &lt;&lt; 8][j] ± 0.125)</c> with signed grid bytes (<c>IqTables.Iq1sGrid</c>, uploaded once).
/// CPU reference: <c>IQ1_SBlock.Dequantize</c>.
/// </summary>
public readonly struct IQ1_SGpu(ArrayView<ulong> grid) : IGpuBlockFormat
{
    private const float Delta = 0.125f;
    private readonly ArrayView<ulong> _grid = grid;

    public int Parts => 8;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 50;
        long qs = at + 2 + 4 * part;
        int h = BlockBits.U16(w, at + 34 + 2 * part);
        float delta = (h & 0x8000) != 0 ? -Delta : Delta;
        float sum = 0;
        for (int l = 0; l < 4; l++)
        {
            ulong entry = _grid[w[qs + l] | (((h >> (3 * l)) & 7) << 8)];
            for (int j = 0; j < 8; j++)
            {
                // Sign-extend the grid byte with integer arithmetic: a (sbyte) cast of the shifted ulong came out
                // unsigned in the CUDA (PTX) build (-1 read as 255), though the CPU accelerator got it right.
                int v = (int)((entry >> (8 * j)) & 0xFF);
                v -= (v & 0x80) << 1;
                sum += (v + delta) * x[xStart + 8 * l + j];
            }
        }
        return BlockBits.Half(w, at) * (2 * ((h >> 12) & 7) + 1) * sum;
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 50;
        long qs = at + 2 + 4 * part;
        int h = BlockBits.U16(w, at + 34 + 2 * part);
        float delta = (h & 0x8000) != 0 ? -Delta : Delta;
        float scale = BlockBits.Half(w, at) * (2 * ((h >> 12) & 7) + 1);
        for (int l = 0; l < 4; l++)
        {
            ulong entry = _grid[w[qs + l] | (((h >> (3 * l)) & 7) << 8)];
            for (int j = 0; j < 8; j++)
            {
                int v = (int)((entry >> (8 * j)) & 0xFF);
                v -= (v & 0x80) << 1;   // sign-extended by integer arithmetic, as in PartDot
                dot.Add(8 * l + j, scale * (v + delta));
            }
        }
        return dot;
    }
}
