using System.Diagnostics;
using System.Runtime.InteropServices;
using HybridEngine.Hardware;
using HybridEngine.Kernels;
using HybridEngine.Quantization;

namespace HybridEngine.Tuner;

/// <summary>
/// Throughput of the CPU products y = W·x (matrix-vector, the decode-time operation) and Y = X·Wᵀ over a batch of
/// tokens (matrix-matrix, prompt processing) per weight type, thread count and kernel path. W is one tall matrix of
/// about <c>weightBytes</c> (bigger than the last-level cache, so every matvec streams W from memory as decode does);
/// its rows are copies of one row quantized from seeded random values, which gives the kernels valid scales at no
/// quantization cost. A figure is W's bytes (or the product's 2·rows·columns·tokens flops) over the best time of
/// repeated products within the budget.
/// </summary>
public sealed unsafe class MatVecThroughput : IDisposable
{
    private byte* _weights;
    private readonly long _capacity;
    private readonly int _columns;

    /// <param name="weightBytes">Size of the weight buffer shared by every type measured.</param>
    /// <param name="columns">Values per row; a multiple of 256 so every block size divides it.</param>
    public MatVecThroughput(long weightBytes, int columns)
    {
        if (columns <= 0 || columns % 256 != 0) throw new ArgumentException($"columns {columns} must be a positive multiple of 256");
        _capacity = weightBytes;
        _columns = columns;
        _weights = (byte*)NativeMemory.AlignedAlloc((nuint)weightBytes, 64);
    }

    public int Columns => _columns;

    /// <summary>Measures the matvec of one weight type at each of <paramref name="threadCounts"/> and each of <paramref name="paths"/>.</summary>
    /// <param name="maxBytes">Caps the matrix size (slow paths need not stream the whole buffer to be ranked).</param>
    public List<MatVecPoint> Measure(GgmlType type, IReadOnlyList<int> threadCounts, IReadOnlyList<SimdLevel> paths,
        TimeSpan budget, CancellationToken cancel, Action? afterEach = null, long maxBytes = long.MaxValue)
    {
        var points = new List<MatVecPoint>();
        foreach (var p in Products(type, 1, threadCounts, paths, budget, cancel, afterEach, maxBytes))
            points.Add(new MatVecPoint(p.Type, p.Path, p.Threads, p.Rows, _columns, p.GBps, p.Gflops));
        return points;
    }

    /// <summary>Measures the matrix-matrix product of one weight type over <paramref name="tokens"/> token rows at each thread count.</summary>
    public List<MatMulPoint> MeasureMatMul(GgmlType type, int tokens, IReadOnlyList<int> threadCounts, SimdLevel path,
        TimeSpan budget, CancellationToken cancel, Action? afterEach = null, long maxBytes = long.MaxValue)
    {
        var points = new List<MatMulPoint>();
        foreach (var p in Products(type, tokens, threadCounts, [path], budget, cancel, afterEach, maxBytes))
            points.Add(new MatMulPoint(p.Type, p.Path, p.Threads, p.Rows, _columns, tokens, p.GBps, p.Gflops));
        return points;
    }

    private List<(string Type, string Path, int Threads, int Rows, double GBps, double Gflops)> Products(GgmlType type, int tokens,
        IReadOnlyList<int> threadCounts, IReadOnlyList<SimdLevel> paths, TimeSpan budget, CancellationToken cancel, Action? afterEach, long maxBytes)
    {
        var weights = Fill(type, maxBytes);
        var info = QuantTypes.Get(type);
        var random = new Random(4321);
        var x = new float[(long)tokens * _columns];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        var y = new float[(long)tokens * weights.Rows];
        var scratch = new byte[MatMul.ScratchBytes(weights, tokens)];
        double bytes = weights.TotalBytes;
        double flops = 2.0 * weights.Rows * _columns * tokens;

        var results = new List<(string, string, int, int, double, double)>();
        foreach (var path in paths)
        {
            foreach (int threads in threadCounts)
            {
                cancel.ThrowIfCancellationRequested();
                using var pool = new ComputePool(threads);
                double best = Best(() => MatMul.Run(weights, x, tokens, y, scratch, pool, path), budget, cancel);
                if (!float.IsFinite(y[0]) || !float.IsFinite(y[^1]))
                    throw new InvalidOperationException($"{info.Name} product produced {y[0]}: the kernel or the test rows are broken");
                results.Add((info.Name, path.ToString().ToLowerInvariant(), threads, weights.Rows, bytes / best / 1e9, flops / best / 1e9));
                afterEach?.Invoke();
            }
        }
        return results;
    }

    /// <summary>
    /// Fills the buffer with as many rows of <paramref name="type"/> as fit (at most <paramref name="maxBytes"/>), each a
    /// copy of one row quantized from seeded random values in [-1, 1), and returns them as a matrix.
    /// </summary>
    public WeightMatrix Fill(GgmlType type, long maxBytes = long.MaxValue)
    {
        ObjectDisposedException.ThrowIf(_weights == null, this);
        var info = QuantTypes.Get(type);
        var quantize = info.Quantize ?? throw new NotSupportedException($"weight type {info.Name} has no quantizer to build test rows from");
        long rowBytes = info.RowBytes(_columns);
        int rows = (int)Math.Min(int.MaxValue, Math.Min(_capacity, maxBytes) / rowBytes);
        if (rows < 1) throw new ArgumentException($"a {Math.Min(_capacity, maxBytes)}-byte buffer holds no {info.Name} row of {_columns} values");

        var random = new Random(1234);
        var values = new float[_columns];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        var row = new byte[rowBytes];
        quantize(values, row);
        for (int r = 0; r < rows; r++) row.AsSpan().CopyTo(new Span<byte>(_weights + r * rowBytes, (int)rowBytes));
        return new WeightMatrix(_weights, type, rows, _columns);
    }

    /// <summary>Best wall time in seconds of <paramref name="action"/> after one warm-up run: at least 2 runs, then until the budget is spent.</summary>
    internal static double Best(Action action, TimeSpan budget, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        action();
        double best = double.MaxValue;
        for (int run = 0; run < 2 || clock.Elapsed < budget; run++)
        {
            cancel.ThrowIfCancellationRequested();
            long t0 = Stopwatch.GetTimestamp();
            action();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            if (run >= 1000) break;
        }
        return best;
    }

    public void Dispose()
    {
        if (_weights == null) return;
        NativeMemory.AlignedFree(_weights);
        _weights = null;
    }
}
