using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace HybridEngine.Tuner;

/// <summary>
/// Measures how fast this machine streams memory into the cores: the ceiling for a memory-bound matvec, which
/// reads every weight byte once per token.
/// </summary>
/// <remarks>
/// Each of N threads owns 1/N of the buffer (allocated and written by that thread, so first-touch places its pages
/// near it), then all threads XOR their slice with the widest vector loads the CPU accelerates; the XOR result is kept
/// so the JIT cannot drop the loads. The figure is bytes / (last thread's end − first thread's start), best of several passes.
/// The buffer must be much larger than the last-level cache, otherwise the figure is cache bandwidth.
/// </remarks>
public static class MemoryBandwidth
{
    /// <summary>A buffer size that is several times the last-level cache of most servers.</summary>
    public const long DefaultBufferBytes = 1L << 30;

    private const int MinPasses = 2;
    private const int MaxPasses = 20;

    // Keeps every pass's XOR alive (published results cannot be elided).
    private static long s_sink;

    /// <summary>
    /// Read bandwidth in GB/s (10⁹ bytes per second) of <paramref name="threads"/> threads streaming a
    /// <paramref name="bytes"/>-byte buffer, best of as many passes as fit in <paramref name="budget"/> (at least two,
    /// at most twenty). Allocating and writing the buffer once comes on top of the budget.
    /// </summary>
    public static double MeasureRead(int threads, long bytes, TimeSpan budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        long slice = bytes / threads / 64 * 64;
        if (slice < 4096) throw new ArgumentOutOfRangeException(nameof(bytes), $"{bytes} bytes is too small for {threads} threads");
        if (slice > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(bytes), $"{bytes} bytes over {threads} threads exceeds one array per thread");

        using var start = new Barrier(threads + 1);
        using var done = new Barrier(threads + 1);
        bool stop = false;
        var workers = new Thread[threads];
        // Each worker stamps its own start and end: the main thread may be descheduled between barriers.
        var began = new long[threads];
        var ended = new long[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                byte[] chunk = GC.AllocateUninitializedArray<byte>((int)slice, pinned: true);
                // Writing every page makes the OS back it with real memory; an untouched buffer reads the shared zero page.
                Span<ulong> words = MemoryMarshal.Cast<byte, ulong>(chunk.AsSpan());
                for (int i = 0; i < words.Length; i++) words[i] = (ulong)i * 0x9E3779B97F4A7C15UL;
                done.SignalAndWait();
                while (true)
                {
                    start.SignalAndWait();
                    if (Volatile.Read(ref stop)) return;
                    began[id] = Stopwatch.GetTimestamp();
                    ulong x = ReadOnce(chunk);
                    ended[id] = Stopwatch.GetTimestamp();
                    Interlocked.Add(ref s_sink, unchecked((long)x));
                    done.SignalAndWait();
                }
            })
            { IsBackground = true, Name = $"bandwidth-{t}" };
            workers[t].Start();
        }

        done.SignalAndWait(); // every slice allocated and written
        double best = double.MaxValue;
        var clock = Stopwatch.StartNew();
        for (int pass = 0; pass < MaxPasses && (pass < MinPasses || clock.Elapsed < budget); pass++)
        {
            start.SignalAndWait();
            done.SignalAndWait();
            long ticks = ended.Max() - began.Min();
            best = Math.Min(best, (double)ticks / Stopwatch.Frequency);
        }
        Volatile.Write(ref stop, true);
        start.SignalAndWait();
        foreach (var w in workers) w.Join();
        return slice * (double)threads / best / 1e9;
    }

    /// <summary>XORs the whole chunk with four independent accumulators so several loads are in flight.</summary>
    private static ulong ReadOnce(byte[] chunk)
    {
        if (Vector512.IsHardwareAccelerated) return Xor512(chunk);
        if (Vector256.IsHardwareAccelerated) return Xor256(chunk);
        return Xor128(chunk);
    }

    private static ulong Xor512(byte[] chunk)
    {
        ReadOnlySpan<Vector512<ulong>> v = MemoryMarshal.Cast<byte, Vector512<ulong>>(chunk);
        ref Vector512<ulong> p = ref MemoryMarshal.GetReference(v);
        Vector512<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= v.Length - 4; i += 4)
        {
            a0 ^= Unsafe.Add(ref p, i);
            a1 ^= Unsafe.Add(ref p, i + 1);
            a2 ^= Unsafe.Add(ref p, i + 2);
            a3 ^= Unsafe.Add(ref p, i + 3);
        }
        for (; i < v.Length; i++) a0 ^= Unsafe.Add(ref p, i);
        return Vector512.Sum(a0 ^ a1 ^ a2 ^ a3);
    }

    private static ulong Xor256(byte[] chunk)
    {
        ReadOnlySpan<Vector256<ulong>> v = MemoryMarshal.Cast<byte, Vector256<ulong>>(chunk);
        ref Vector256<ulong> p = ref MemoryMarshal.GetReference(v);
        Vector256<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= v.Length - 4; i += 4)
        {
            a0 ^= Unsafe.Add(ref p, i);
            a1 ^= Unsafe.Add(ref p, i + 1);
            a2 ^= Unsafe.Add(ref p, i + 2);
            a3 ^= Unsafe.Add(ref p, i + 3);
        }
        for (; i < v.Length; i++) a0 ^= Unsafe.Add(ref p, i);
        return Vector256.Sum(a0 ^ a1 ^ a2 ^ a3);
    }

    private static ulong Xor128(byte[] chunk)
    {
        ReadOnlySpan<Vector128<ulong>> v = MemoryMarshal.Cast<byte, Vector128<ulong>>(chunk);
        ref Vector128<ulong> p = ref MemoryMarshal.GetReference(v);
        Vector128<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= v.Length - 4; i += 4)
        {
            a0 ^= Unsafe.Add(ref p, i);
            a1 ^= Unsafe.Add(ref p, i + 1);
            a2 ^= Unsafe.Add(ref p, i + 2);
            a3 ^= Unsafe.Add(ref p, i + 3);
        }
        for (; i < v.Length; i++) a0 ^= Unsafe.Add(ref p, i);
        return Vector128.Sum(a0 ^ a1 ^ a2 ^ a3);
    }
}
