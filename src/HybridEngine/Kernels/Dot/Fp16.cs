namespace HybridEngine.Kernels.Dot;

/// <summary>
/// fp16 → float through a 65,536-entry table (256 KiB, built once): block scales are converted once per block
/// on the hottest loops, and a table load is cheaper than a software half conversion.
/// </summary>
internal static class Fp16
{
    private static readonly float[] Table = Build();

    private static float[] Build()
    {
        var table = new float[65536];
        for (int i = 0; i < table.Length; i++) table[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return table;
    }

    /// <summary>The float value of the IEEE binary16 bits <paramref name="bits"/> (exact).</summary>
    public static unsafe float ToFloat(ushort bits) => Table[bits];

    /// <summary>Reads the little-endian fp16 at <paramref name="p"/>.</summary>
    public static unsafe float Load(byte* p) => Table[*(ushort*)p];
}
