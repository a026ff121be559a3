namespace HybridEngine.Kernels.Dot;

/// <summary>
/// fp16 → float through a 65,536-entry table (256 KiB, built once, pinned): block scales are converted once per block
/// on the hottest loops, and a table load is cheaper than a software half conversion.
/// </summary>
internal static unsafe class Fp16
{
    private static readonly float[] Table = Build();

    /// <summary>
    /// The table's address, for kernels that read it once before their loop: indexing through it inside the loop
    /// needs no class-initialisation check or bounds check, whose possible helper call would make the JIT keep vector
    /// registers on the stack across every iteration.
    /// </summary>
    public static float* Pointer { get; } = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref Table[0]);

    private static float[] Build()
    {
        var table = GC.AllocateArray<float>(65536, pinned: true);
        for (int i = 0; i < table.Length; i++) table[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return table;
    }

    /// <summary>The float value of the IEEE binary16 bits <paramref name="bits"/> (exact).</summary>
    public static float ToFloat(ushort bits) => Table[bits];

    /// <summary>Reads the little-endian fp16 at <paramref name="p"/>.</summary>
    public static float Load(byte* p) => Table[*(ushort*)p];
}
