using System.Buffers.Binary;

namespace HybridEngine.Quantization;

/// <summary>
/// ggml's lookup tables for the IQ quant formats (grids of magnitude patterns, sign patterns and the
/// non-linear 4-bit levels), loaded once from embedded little-endian resources (see Tables/README.md).
/// </summary>
public static class IqTables
{
    private static readonly ulong[] Iq1s = LoadU64("iq1s_grid.bin", 2048);
    private static readonly ulong[] Iq2xxs = LoadU64("iq2xxs_grid.bin", 256);
    private static readonly ulong[] Iq2xs = LoadU64("iq2xs_grid.bin", 512);
    private static readonly ulong[] Iq2s = LoadU64("iq2s_grid.bin", 1024);
    private static readonly uint[] Iq3xxs = LoadU32("iq3xxs_grid.bin", 256);
    private static readonly uint[] Iq3s = LoadU32("iq3s_grid.bin", 512);
    private static readonly byte[] Ksigns = LoadBytes("ksigns_iq2xs.bin", 128);
    private static readonly sbyte[] Kvalues = Array.ConvertAll(LoadBytes("kvalues_iq4nl.bin", 16), b => (sbyte)b);

    /// <summary>IQ1_S / IQ1_M grid: 2048 entries, each 8 int8 values in {-1, 0, 1} (byte j = value j).</summary>
    public static ReadOnlySpan<ulong> Iq1sGrid => Iq1s;

    /// <summary>IQ2_XXS grid: 256 entries, each 8 unsigned magnitudes (byte j = value j).</summary>
    public static ReadOnlySpan<ulong> Iq2xxsGrid => Iq2xxs;

    /// <summary>IQ2_XS grid: 512 entries of 8 unsigned magnitudes.</summary>
    public static ReadOnlySpan<ulong> Iq2xsGrid => Iq2xs;

    /// <summary>IQ2_S grid: 1024 entries of 8 unsigned magnitudes.</summary>
    public static ReadOnlySpan<ulong> Iq2sGrid => Iq2s;

    /// <summary>IQ3_XXS grid: 256 entries, each 4 unsigned magnitudes (byte j = value j).</summary>
    public static ReadOnlySpan<uint> Iq3xxsGrid => Iq3xxs;

    /// <summary>IQ3_S grid: 512 entries of 4 unsigned magnitudes.</summary>
    public static ReadOnlySpan<uint> Iq3sGrid => Iq3s;

    /// <summary>128 sign patterns: bits 0..6 are the index, bit 7 makes the count of set bits even.</summary>
    public static ReadOnlySpan<byte> KsignsIq2xs => Ksigns;

    /// <summary>Bit masks 1, 2, 4, …, 128 used with <see cref="KsignsIq2xs"/>: bit j set means value j is negative.</summary>
    public static ReadOnlySpan<byte> KmaskIq2xs => [1, 2, 4, 8, 16, 32, 64, 128];

    /// <summary>The 16 non-linear levels of IQ4_NL and IQ4_XS.</summary>
    public static ReadOnlySpan<sbyte> KvaluesIq4nl => Kvalues;

    private static byte[] LoadBytes(string file, int expectedBytes)
    {
        string name = "HybridEngine.Quantization.Tables." + file;
        using Stream stream = typeof(IqTables).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing from the engine assembly.");
        if (stream.Length != expectedBytes)
            throw new InvalidOperationException($"Embedded resource {name} has {stream.Length} bytes, expected {expectedBytes}.");
        var bytes = new byte[expectedBytes];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static ulong[] LoadU64(string file, int count)
    {
        byte[] bytes = LoadBytes(file, count * 8);
        var values = new ulong[count];
        for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8 * i));
        return values;
    }

    private static uint[] LoadU32(string file, int count)
    {
        byte[] bytes = LoadBytes(file, count * 4);
        var values = new uint[count];
        for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4 * i));
        return values;
    }
}
