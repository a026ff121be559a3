using System.Diagnostics;
using System.Runtime.Intrinsics;
using HybridEngine.Kernels;
using HybridEngine.Kernels.Dot;

namespace HybridEngine.Benchmarks;

/// <summary>
/// <c>dot-bench [--mb N] [--reps R] [--only KERNEL]</c>: GB/s of weights one thread pushes through each single-token Q4_K dot kernel,
/// over a cache-resident 256 KiB matrix (the kernel's own speed) and over an N MiB one (default 256, from memory).
/// Best of R passes, so other load on the machine shows less; ad hoc, not BenchmarkDotNet, to finish in seconds.
/// </summary>
public static unsafe class DotThroughput
{
    private const int Blocks = 8;   // 2048-wide rows, as the medium preset's experts

    public static int Run(string[] args)
    {
        int mb = 256, reps = 15;
        string? only = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--mb") mb = int.Parse(args[i + 1]);
            else if (args[i] == "--reps") reps = int.Parse(args[i + 1]);
            else if (args[i] == "--only") only = args[i + 1];
        }
        var kernels = new List<(string Name, nint Kernel)>
        {
            ("scalar", (nint)Q4_KDot.For(SimdLevel.Scalar)),
            ("avx2", (nint)Q4_KDot.For(SimdLevel.Avx2)),
            ("avx512", (nint)(delegate*<byte*, byte*, int, float>)&Q4_KAvx512.Dot),
        };
        kernels.Add(("read-only", (nint)(delegate*<byte*, byte*, int, float>)&ReadOnly));
        if (Q4_KAvx512Vbmi.IsSupported) kernels.Add(("avx512-vbmi", (nint)(delegate*<byte*, byte*, int, float>)&Q4_KAvx512Vbmi.Dot));
        foreach (long bytes in new[] { 24L << 10, 256L << 10, (long)mb << 20 })
        {
            int rows = (int)(bytes / (Blocks * Q4_KDot.WeightBytes));
            var weights = RandomQ4K(rows * Blocks);
            var act = RandomQ8K(Blocks);
            foreach (var (name, kernel) in kernels)
            {
                if ((name == "scalar" && bytes > (1 << 20)) || (only != null && name != only)) continue;
                double best = double.MaxValue;
                for (int r = 0; r < reps; r++)
                {
                    var sw = Stopwatch.StartNew();
                    Pass((delegate*<byte*, byte*, int, float>)kernel, weights, act, rows);
                    best = Math.Min(best, sw.Elapsed.TotalSeconds);
                }
                Console.WriteLine($"q4_k {name,-12} {bytes >> 10,8} KiB  {(double)rows * Blocks * Q4_KDot.WeightBytes / best / 1e9,6:F2} GB/s");
            }
        }
        return 0;
    }

    /// <summary>Reads the row's bytes and does nothing else: the memory-read ceiling for the kernels.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static float ReadOnly(byte* w, byte* a, int blocks)
    {
        var x = Vector256<byte>.Zero;
        byte* end = w + blocks * Q4_KDot.WeightBytes;
        for (; w + 32 <= end; w += 32) x |= Vector256.Load(w);
        return x.AsSingle().ToScalar();
    }

    private static float Pass(delegate*<byte*, byte*, int, float> kernel, byte[] weights, byte[] act, int rows)
    {
        float sink = 0;
        fixed (byte* w = weights)
        fixed (byte* a = act)
        {
            for (int r = 0; r < rows; r++) sink += kernel(w + (long)r * Blocks * Q4_KDot.WeightBytes, a, Blocks);
        }
        return sink;
    }

    private static byte[] RandomQ4K(int blocks)
    {
        var random = new Random(3);
        var data = new byte[(long)blocks * Q4_KDot.WeightBytes];
        random.NextBytes(data);
        for (long b = 0; b < blocks; b++)
        {
            BitConverter.TryWriteBytes(data.AsSpan((int)(b * Q4_KDot.WeightBytes)), (Half)0.01f);
            BitConverter.TryWriteBytes(data.AsSpan((int)(b * Q4_KDot.WeightBytes) + 2), (Half)0.002f);
        }
        return data;
    }

    private static byte[] RandomQ8K(int blocks)
    {
        var random = new Random(4);
        var data = new byte[blocks * KQuantScales.ActBytes];
        random.NextBytes(data);
        for (int b = 0; b < blocks; b++) BitConverter.TryWriteBytes(data.AsSpan(b * KQuantScales.ActBytes), 0.05f);
        return data;
    }
}
