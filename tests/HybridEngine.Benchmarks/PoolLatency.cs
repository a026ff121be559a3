using System.Diagnostics;
using System.Runtime.InteropServices;
using HybridEngine.Kernels;
using HybridEngine.Quantization;

namespace HybridEngine.Benchmarks;

/// <summary>
/// <c>pool-bench [--threads N] [--calls C]</c>: microseconds per call of a small Q4_K matvec (512 × 2048, one expert's
/// slice) run through a <see cref="ComputePool"/>, and on the calling thread alone for comparison. Small products
/// are where waiting on workers shows, especially when the machine is oversubscribed. Median of 5 rounds.
/// </summary>
public static unsafe class PoolLatency
{
    public static int Run(string[] args)
    {
        int threads = 2, calls = 20000;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--threads") threads = int.Parse(args[i + 1]);
            else if (args[i] == "--calls") calls = int.Parse(args[i + 1]);
        }
        const int rows = 512, cols = 2048;
        byte* weights = WeightData.Allocate(GgmlType.Q4_K, (long)rows * cols / 256, seed: 1);
        var matrix = new WeightMatrix(weights, GgmlType.Q4_K, rows, cols);
        var x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = MathF.Sin(i);
        var y = new float[rows];
        var scratch = new byte[MatVec.ScratchBytes(matrix)];
        using var pool = new ComputePool(threads);
        foreach (var (name, p) in new[] { ("1 thread", (ComputePool?)null), ($"pool of {threads}", pool) })
        {
            var rounds = new double[5];
            for (int r = 0; r < rounds.Length; r++)
            {
                var sw = Stopwatch.StartNew();
                for (int c = 0; c < calls; c++) MatVec.Run(matrix, x, y, scratch, p);
                rounds[r] = sw.Elapsed.TotalMicroseconds / calls;
            }
            Array.Sort(rounds);
            Console.WriteLine($"q4_k 512x2048 matvec, {name,-10}: {rounds[2],7:F2} us/call (min {rounds[0]:F2}, max {rounds[^1]:F2})");
        }
        NativeMemory.AlignedFree(weights);
        return 0;
    }
}
