using ILGPU;

namespace HybridEngine.Gpu.Kernels;

/// <summary>
/// One GGUF block type as seen by a GPU kernel: the dot product of one part of a raw block (read straight from the
/// uploaded bytes, dequantized in registers) with float activations. 256-value super-blocks split into 8 parts of 32
/// values so that neighbouring lanes of a warp read neighbouring bytes; 32-value and 1-value blocks are one part.
/// Implementations are value types so ILGPU specialises the matrix kernel per format; each names its CPU format.
/// <see cref="PartDot"/> serves one token (<see cref="QuantMatMulKernel"/>), <see cref="PartDotTile"/> a tile of
/// tokens (<see cref="QuantMatMulTiledKernel"/>); both read the same bytes and must decode the same values.
/// </summary>
public interface IGpuBlockFormat
{
    /// <summary>Parts per block (BlockSize / Parts values each).</summary>
    int Parts { get; }

    /// <summary><c>Σ_j dequant(block)[part·n + j] · x[xStart + j]</c> over the n = BlockSize/Parts values of the part.</summary>
    float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart);

    /// <summary>
    /// The same part for a tile of tokens: each value <c>v_j = dequant(block)[part·n + j]</c> is decoded once (scales
    /// applied) and handed to <see cref="TileDot.Add"/>, which adds <c>v_j · x_t[j]</c> to every token's sum.
    /// </summary>
    TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot);
}

/// <summary>Little-endian reads of the block fields shared by every format.</summary>
public static class BlockBits
{
    public static int U16(ArrayView<byte> w, long at) => w[at] | (w[at + 1] << 8);

    public static int I8(ArrayView<byte> w, long at) => (sbyte)w[at];

    /// <summary>IEEE binary16 → float by bit assembly (GPU kernels have no System.Half).</summary>
    public static float Half(ArrayView<byte> w, long at) => HalfBitsToFloat(U16(w, at));

    public static float HalfBitsToFloat(int h)
    {
        int sign = (h >> 15) & 1;
        int exponent = (h >> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        float magnitude;
        if (exponent == 0) magnitude = mantissa * (1.0f / 16777216.0f);          // subnormal: m · 2^-24, exact
        else if (exponent == 31) magnitude = Interop.IntAsFloat((uint)(0x7F800000 | (mantissa << 13)));
        else magnitude = Interop.IntAsFloat((uint)(((exponent + 112) << 23) | (mantissa << 13)));
        return sign != 0 ? -magnitude : magnitude;
    }
}
