using HybridEngine.Kernels;
using HybridEngine.Kernels.Dot;
using HybridEngine.Quantization;

namespace HybridEngine.Runtime;

/// <summary>
/// The always-present device: the SIMD CPU kernels in <see cref="Kernels"/>. Weights stay where they are (memory-mapped
/// or pinned by the owner); scratch for quantized activations grows once and is reused.
/// </summary>
public sealed class CpuDevice(ComputePool? pool = null, SimdLevel? level = null) : IComputeDevice
{
    private readonly SimdLevel _level = level ?? Simd.Best;
    private byte[] _scratch = [];

    public string Name => pool is null ? $"cpu ({_level})" : $"cpu ({pool.Threads} threads, {_level})";

    public ComputePool? Pool => pool;

    public SimdLevel Level => _level;
    public DeviceKind Kind => DeviceKind.Cpu;
    public long MemoryBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    public bool Supports(GgmlType type) => DotKernels.IsSupported(type);

    public IDeviceWeights Upload(in WeightMatrix weights) => new CpuWeights(this, weights);

    public void MatMul(IDeviceWeights weights, ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        var w = Own(weights).Matrix;
        int need = Kernels.MatMul.ScratchBytes(w, tokens);
        if (_scratch.Length < need) _scratch = new byte[need];
        Kernels.MatMul.Run(w, x, tokens, y, _scratch.AsSpan(0, need), pool, _level);
    }

    /// <summary>
    /// The executor's hot path: <c>y[t] = W·x[t]</c> straight from the weights where they lie (no upload handle),
    /// matrix-vector for one token and matrix-matrix for a batch; <paramref name="scratch"/> holds the quantized activations.
    /// </summary>
    public void MatMul(in WeightMatrix w, ReadOnlySpan<float> x, int tokens, Span<float> y, Span<byte> scratch)
    {
        if (tokens == 1) Kernels.MatVec.Run(w, x, y, scratch, pool, _level);
        else Kernels.MatMul.Run(w, x, tokens, y, scratch, pool, _level);
    }

    public void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, int tokens, float eps) =>
        Kernels.RmsNorm.ApplyRows(x, weight, y, tokens, eps, _level);

    public void Rope(Span<float> x, int tokens, int heads, int headStride, ReadOnlySpan<int> positions, RopeParameters parameters, int offset = 0)
    {
        // The scalar twin computes each position's angles itself (allocation-free), so no table per call.
        int width = heads * headStride;
        if (positions.Length < tokens) throw new ArgumentException($"{positions.Length} positions for {tokens} tokens", nameof(positions));
        for (int t = 0; t < tokens; t++)
            Kernels.Rope.Reference(x.Slice(t * width, width), heads, headStride, positions[t], parameters, offset);
    }

    public void Softmax(Span<float> x, int rows, float scale)
    {
        int n = x.Length / rows;
        for (int r = 0; r < rows; r++) Kernels.Softmax.ApplyInPlace(x.Slice(r * n, n), scale, n, _level);
    }

    public void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> h) => Kernels.SwiGlu.Apply(gate, up, h, _level);

    public void Dispose() { }

    private CpuWeights Own(IDeviceWeights weights) =>
        weights as CpuWeights is { } w && ReferenceEquals(w.Device, this)
            ? w : throw new ArgumentException("weights were uploaded to another device", nameof(weights));

    private sealed class CpuWeights(CpuDevice device, WeightMatrix matrix) : IDeviceWeights
    {
        public WeightMatrix Matrix { get; } = matrix;
        public IComputeDevice Device => device;
        public GgmlType Type => Matrix.Type;
        public int Rows => Matrix.Rows;
        public int RowLength => Matrix.RowLength;
        public long DeviceBytes => 0;
        public void Dispose() { }
    }
}
