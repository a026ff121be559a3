using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Software prefetch of weight bytes a fixed distance ahead of the block a dot kernel is working on. One decode thread
/// streams each matrix once from memory; without it the loads of a block wait for memory while the arithmetic of the
/// previous block is done, so the time per block is roughly memory time plus compute time. Asking for the lines
/// <see cref="Distance"/> bytes ahead overlaps the two. Rows of a matrix are contiguous, so the lines ahead are the
/// next rows' blocks; past a matrix's end the prefetch only touches an unrelated line (it never faults).
/// </summary>
internal static unsafe class WeightPrefetch
{
    /// <summary>Bytes ahead: several memory latencies' worth at one core's read rate (~100 ns × ~10 GB/s = 1 KB);
    /// on a 256 MiB Q4_K matrix 4, 8 and 16 KiB measured the same, 0.5 to 2 KiB less.</summary>
    public const int Distance = 4096;

    /// <summary>Prefetches the cache lines that hold the block of <paramref name="blockBytes"/> bytes at <c>w + Distance</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block(byte* w, int blockBytes)
    {
        if (!Sse.IsSupported) return;
        // Blocks are contiguous, so a block's tail line not reached here is the next block's first.
        for (int offset = 0; offset < blockBytes; offset += 64) Sse.Prefetch0(w + Distance + offset);
    }
}
