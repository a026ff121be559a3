using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using HybridEngine.Kernels;
using HybridEngine.Quantization;

namespace HybridEngine.Benchmarks;

/// <summary>
/// One token's matvec over ~48 MB of weights (larger than the last-level cache, so weights stream from memory),
/// per weight type, on 1 thread and on all threads. The "Weights GB/s" column is weight bytes read per second;
/// "Memory GB/s" is the machine's measured read bandwidth for the same thread count, the ceiling it approaches.
/// </summary>
[Config(typeof(BandwidthConfig))]
public unsafe class MatVecBenchmarks
{
    /// <summary>
    /// Target size of the weight matrix in bytes: 48 MiB, or HYBRID_BENCH_MATRIX_MIB. Use a size well above the
    /// last-level cache (some VMs report hundreds of MiB of L3) to measure memory-bound throughput.
    /// </summary>
    public static readonly long TargetBytes =
        (long.TryParse(Environment.GetEnvironmentVariable("HYBRID_BENCH_MATRIX_MIB"), out long mib) && mib > 0 ? mib : 48) << 20;

    /// <summary>Row length shared by all types: a multiple of 256, like a model's hidden size.</summary>
    public const int RowLength = 4096;

    [ParamsSource(nameof(Types))]
    public GgmlType Type { get; set; }

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<GgmlType> Types => Kernels.Dot.DotKernels.SupportedTypes;

    public static IEnumerable<int> ThreadCounts => Environment.ProcessorCount > 1 ? [1, Environment.ProcessorCount] : [1];

    private byte* _weights;
    private WeightMatrix _matrix;
    private float[] _x = [];
    private float[] _y = [];
    private byte[] _scratch = [];
    private ComputePool? _pool;

    /// <summary>Rows for a matrix of about <see cref="TargetBytes"/> of <paramref name="type"/>.</summary>
    public static int Rows(GgmlType type) => (int)(TargetBytes / QuantTypes.Get(type).RowBytes(RowLength));

    public static long WeightBytes(GgmlType type) => Rows(type) * QuantTypes.Get(type).RowBytes(RowLength);

    [GlobalSetup]
    public void Setup()
    {
        int rows = Rows(Type);
        _weights = WeightData.Allocate(Type, (long)rows * RowLength / QuantTypes.Get(Type).BlockSize, seed: 1);
        _matrix = new WeightMatrix(_weights, Type, rows, RowLength);
        var rng = new Random(2);
        _x = Enumerable.Range(0, RowLength).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        _y = new float[rows];
        _scratch = new byte[Kernels.MatVec.ScratchBytes(_matrix)];
        _pool = Threads > 1 ? new ComputePool(Threads) : null;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        NativeMemory.AlignedFree(_weights);
    }

    [Benchmark]
    public float MatVec()
    {
        Kernels.MatVec.Run(_matrix, _x, _y, _scratch, _pool);
        return _y[0];
    }
}
