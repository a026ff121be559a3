using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using HybridEngine.Kernels;
using HybridEngine.Quantization;

namespace HybridEngine.Benchmarks;

/// <summary>
/// The prefill matrix-matrix product on one thread at a routed expert's shape (gate/up: 512 rows of 2048), for a
/// batch of tokens, per weight type and SIMD path: the cache-resident, compute-bound case where weight unpacking
/// shared across tokens (<see cref="Kernels.Dot.DotKernels.GetDot4"/>) pays off. Compare the levels of one type.
/// </summary>
public unsafe class MatMulBenchmarks
{
    private const int Rows = 512, RowLength = 2048;

    [Params(GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q8_0)]
    public GgmlType Type { get; set; }

    [ParamsSource(nameof(Levels))]
    public SimdLevel Level { get; set; }

    public static IEnumerable<SimdLevel> Levels => Simd.Available.Where(l => l >= SimdLevel.Avx2);

    [Params(1, 4, 16)]
    public int Tokens { get; set; }

    private byte* _weights;
    private WeightMatrix _matrix;
    private float[] _x = [];
    private float[] _y = [];
    private byte[] _scratch = [];

    [GlobalSetup]
    public void Setup()
    {
        _weights = WeightData.Allocate(Type, (long)Rows * RowLength / QuantTypes.Get(Type).BlockSize, seed: 1);
        _matrix = new WeightMatrix(_weights, Type, Rows, RowLength);
        var rng = new Random(2);
        _x = Enumerable.Range(0, Tokens * RowLength).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        _y = new float[Tokens * Rows];
        _scratch = new byte[MatMul.ScratchBytes(_matrix, Tokens)];
    }

    [GlobalCleanup]
    public void Cleanup() => NativeMemory.AlignedFree(_weights);

    [Benchmark]
    public float Product()
    {
        MatMul.Run(_matrix, _x, Tokens, _y, _scratch, pool: null, Level);
        return _y[0];
    }
}
