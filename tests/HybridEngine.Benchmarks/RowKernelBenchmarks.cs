using BenchmarkDotNet.Attributes;
using HybridEngine.Kernels;

namespace HybridEngine.Benchmarks;

/// <summary>The per-token row kernels at DeepSeek-V3 sizes, on each SIMD path this machine has.</summary>
[MemoryDiagnoser]
public class RowKernelBenchmarks
{
    private const int Hidden = 7168, Heads = 128, QkHead = 192, RopeDims = 64, Experts = 256, MoeFfn = 2048;

    private readonly float[] _x = new float[Hidden];
    private readonly float[] _weight = new float[Hidden];
    private readonly float[] _y = new float[Hidden];
    private readonly float[] _q = new float[Heads * QkHead];      // [heads, 192]: q_nope 128 | q_pe 64
    private readonly float[] _scores = new float[4096];          // one head's attention row
    private readonly float[] _gate = new float[MoeFfn];
    private readonly float[] _up = new float[MoeFfn];
    private readonly float[] _router = new float[Experts];
    private readonly int[] _chosen = new int[8];
    private RopeTable _rope = null!;

    [ParamsSource(nameof(Levels))]
    public SimdLevel Level { get; set; }

    public static IEnumerable<SimdLevel> Levels => Simd.Available;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        foreach (float[] a in new[] { _x, _weight, _q, _scores, _gate, _up, _router })
            for (int i = 0; i < a.Length; i++) a[i] = (float)(random.NextDouble() * 2 - 1);
        _rope = new RopeTable(RopeParameters.Yarn(RopeDims, RopeMode.Norm, 10000f, 40f, 4096,
            RopeParameters.UnitMagnitudeAttnFactor(1f / 40f)), 4096);
    }

    [Benchmark] public void RmsNorm7168() => RmsNorm.Apply(_x, _weight, _y, 1e-6f, Level);

    [Benchmark] public void RopeQPe128Heads() => Rope.Apply(_q, Heads, QkHead, 1234, _rope, Level, offset: 128);

    [Benchmark] public void Softmax4096() => Softmax.Apply(_scores, _y.AsSpan(0, 4096), 0.1352338f, 4096, Level);

    [Benchmark] public void SwiGlu2048() => SwiGlu.Apply(_gate, _up, _y.AsSpan(0, MoeFfn), Level);

    [Benchmark] public void Top8Of256() => TopK.Select(_router, _chosen);
}
