using System.Runtime.InteropServices;
using HybridEngine.Quantization;

namespace HybridEngine.Benchmarks;

/// <summary>Seeded random weight bytes with finite, normal fp16 scales (so no NaN or subnormal slows a path down).</summary>
internal static class WeightData
{
    public static unsafe byte* Allocate(GgmlType type, long blocks, int seed)
    {
        var info = QuantTypes.Get(type);
        long bytes = blocks * info.BytesPerBlock;
        byte* data = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        var rng = new Random(seed);
        var span = new Span<byte>(data, (int)bytes);
        rng.NextBytes(span);
        if (info.BlockSize == 1)
        {
            // Float weights: rewrite every element as a value in [-1, 1).
            for (long i = 0; i < blocks; i++)
            {
                float v = (float)(rng.NextDouble() * 2 - 1);
                if (type == GgmlType.F32) ((float*)data)[i] = v;
                else if (type == GgmlType.F16) ((Half*)data)[i] = (Half)v;
                else ((ushort*)data)[i] = (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16);
            }
            return data;
        }
        for (long b = 0; b < blocks; b++)
        {
            byte* block = data + b * info.BytesPerBlock;
            if (type == GgmlType.IQ1_M)
            {
                ushort* sc = (ushort*)(block + 48);
                ushort d = Scale(rng);
                for (int i = 0; i < 4; i++) sc[i] = (ushort)((sc[i] & 0x0FFF) | (((d >> (4 * i)) & 0xF) << 12));
                continue;
            }
            foreach (int offset in ScaleOffsets(type)) *(ushort*)(block + offset) = Scale(rng);
        }
        return data;
    }

    private static ushort Scale(Random rng) => BitConverter.HalfToUInt16Bits((Half)(0.001 + 0.01 * rng.NextDouble()));

    private static int[] ScaleOffsets(GgmlType type) => type switch
    {
        GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q6_K => [208],
        _ => [0],
    };
}
