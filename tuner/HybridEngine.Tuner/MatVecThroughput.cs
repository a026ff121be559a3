using System.Diagnostics;
using System.Runtime.InteropServices;
using HybridEngine.Hardware;
using HybridEngine.Kernels;
using HybridEngine.Quantization;

namespace HybridEngine.Tuner;

/// <summary>
/// Throughput of the CPU matrix-vector product y = W·x (the decode-time operation) per weight type, thread count and
/// kernel path. W is one tall matrix of about <c>weightBytes</c> (bigger than the last-level cache, so every product
/// streams W from memory as decode does); its rows are copies of one row quantized from seeded random values, which
/// gives the kernels valid scales at no quantization cost. The figure is W's bytes over the best time of repeated
/// products within the budget.
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

    /// <summary>Measures one weight type at each of <paramref name="threadCounts"/> and each of <paramref name="paths"/>.</summary>
    /// <param name="maxBytes">Caps the matrix size (slow paths need not stream the whole buffer to be ranked).</param>
    public List<MatVecPoint> Measure(GgmlType type, IReadOnlyList<int> threadCounts, IReadOnlyList<SimdLevel> paths,
        TimeSpan budget, CancellationToken cancel, Action? afterEach = null, long maxBytes = long.MaxValue)
    {
        ObjectDisposedException.ThrowIf(_weights == null, this);
        var points = new List<MatVecPoint>();
        var info = QuantTypes.Get(type);
        var quantize = info.Quantize ?? throw new NotSupportedException($"weight type {info.Name} has no quantizer to build test rows from");
        long rowBytes = info.RowBytes(_columns);
        int rows = (int)Math.Min(int.MaxValue, Math.Min(_capacity, maxBytes) / rowBytes);
        if (rows < 1) throw new ArgumentException($"a {_capacity}-byte buffer holds no {info.Name} row of {_columns} values");

        var random = new Random(1234);
        var values = new float[_columns];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        var row = new byte[rowBytes];
        quantize(values, row);
        for (int r = 0; r < rows; r++) row.AsSpan().CopyTo(new Span<byte>(_weights + r * rowBytes, (int)rowBytes));

        var weights = new WeightMatrix(_weights, type, rows, _columns);
        var x = new float[_columns];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        var y = new float[rows];
        var scratch = new byte[MatVec.ScratchBytes(weights)];
        double bytes = rowBytes * (double)rows;
        double flops = 2.0 * rows * _columns;

        foreach (var path in paths)
        {
            foreach (int threads in threadCounts)
            {
                cancel.ThrowIfCancellationRequested();
                using var pool = new ComputePool(threads);
                double best = Best(() => MatVec.Run(weights, x, y, scratch, pool, path), budget, cancel);
                if (!float.IsFinite(y[0])) throw new InvalidOperationException($"{info.Name} matvec produced {y[0]}: the kernel or the test rows are broken");
                points.Add(new MatVecPoint(info.Name, path.ToString().ToLowerInvariant(), threads, rows, _columns, bytes / best / 1e9, flops / best / 1e9));
                afterEach?.Invoke();
            }
        }
        return points;
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
