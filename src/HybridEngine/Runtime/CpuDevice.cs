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
    private float[] _scores = [];
    private float[] _hidden = [];

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

    /// <summary>
    /// <c>ya = A·x</c> and <c>yb = B·x</c> (an FFN's gate and up): where both matrices take the same activation type and
    /// row length, x is quantized once for both; the results are those of two <see cref="MatMul(in WeightMatrix, ReadOnlySpan{float}, int, Span{float}, Span{byte})"/> calls.
    /// </summary>
    public void MatMulPair(in WeightMatrix a, in WeightMatrix b, ReadOnlySpan<float> x, int tokens, Span<float> ya, Span<float> yb, Span<byte> scratch)
    {
        if (a.DotType != b.DotType || a.RowLength != b.RowLength)
        {
            MatMul(a, x, tokens, ya, scratch);
            MatMul(b, x, tokens, yb, scratch);
            return;
        }
        var activations = Kernels.MatMul.Quantize(a, x, tokens, scratch, pool, _level);
        Kernels.MatMul.RunQuantized(a, activations, tokens, ya, pool, _level);
        Kernels.MatMul.RunQuantized(b, activations, tokens, yb, pool, _level);
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

    /// <summary>The MoE block's sequence (gate and up products, SwiGLU in place, down product) on host scratch.</summary>
    public void ExpertProduct(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down, ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        var (g, u, d) = (Own(gate).Matrix, Own(up).Matrix, Own(down).Matrix);
        ExpertShape.Check(gate, up, down, x.Length, tokens, y.Length);
        int ff = g.Rows;
        if (_hidden.Length < 2 * tokens * ff) _hidden = new float[2 * tokens * ff];
        int need = Math.Max(Kernels.MatMul.ScratchBytes(g, tokens), Kernels.MatMul.ScratchBytes(d, tokens));
        if (_scratch.Length < need) _scratch = new byte[need];
        var h = _hidden.AsSpan(0, tokens * ff);
        var second = _hidden.AsSpan(tokens * ff, tokens * ff);
        MatMul(g, x, tokens, h, _scratch);
        MatMul(u, x, tokens, second, _scratch);
        Kernels.SwiGlu.Apply(h, second, h, _level);
        MatMul(d, h, tokens, y[..(tokens * d.Rows)], _scratch);
    }

    public IDeviceKvCache AllocateKvCache(int layers, int context, int keyWidth, int valueWidth)
    {
        DeviceKvChecks.Allocation(layers, context, keyWidth, valueWidth);
        return new CpuKvCache(this, new KvCache(layers, context, keyWidth, valueWidth));
    }

    /// <summary>Presents an existing host cache through the device API (no copy): both views see the same rows.</summary>
    public CpuKvCache Wrap(KvCache cache) => new(this, cache);

    public void WriteKv(IDeviceKvCache cache, int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, ReadOnlySpan<int> positions)
    {
        var kv = Own(cache).Cache;
        int tokens = DeviceKvChecks.Write(cache, layer, keys, values, positions);
        int kw = kv.KeyWidth, vw = kv.ValueWidth;
        for (int t = 0; t < tokens; t++)
        {
            keys.Slice(t * kw, kw).CopyTo(kv.KeyRow(layer, positions[t]));
            if (vw > 0) values.Slice(t * vw, vw).CopyTo(kv.ValueRow(layer, positions[t]));
        }
    }

    public void Attention(IDeviceKvCache cache, int layer, ReadOnlySpan<float> queries, int tokens, ReadOnlySpan<int> positions,
        in CausalAttention.Layout layout, float scale, Span<float> output)
    {
        var kv = Own(cache).Cache;
        DeviceKvChecks.Attention(cache, layer, queries, tokens, positions, layout, output);
        // CausalAttention reads the context length off the scores scratch, so it gets exactly [heads, context].
        int need = layout.Heads * kv.Context;
        if (_scores.Length < need) _scores = new float[need];
        var keys = kv.Keys(layer);
        var values = kv.ValueWidth == 0 ? keys : kv.Values(layer);
        CausalAttention.Run(queries, tokens, positions, keys, values, layout, scale, output, _scores.AsSpan(0, need), pool, _level);
    }

    public void Dispose() { }

    private CpuKvCache Own(IDeviceKvCache cache) =>
        cache as CpuKvCache is { } c && ReferenceEquals(c.Device, this)
            ? c : throw new ArgumentException("the KV cache belongs to another device", nameof(cache));

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

/// <summary>The CPU device's KV cache: a host <see cref="KvCache"/>, readable directly by CPU kernels.</summary>
public sealed class CpuKvCache : IDeviceKvCache
{
    internal CpuKvCache(CpuDevice device, KvCache cache) => (Device, Cache) = (device, cache);

    public KvCache Cache { get; }
    public IComputeDevice Device { get; }
    public int Layers => Cache.Layers;
    public int Context => Cache.Context;
    public int KeyWidth => Cache.KeyWidth;
    public int ValueWidth => Cache.ValueWidth;
    public long DeviceBytes => Cache.Bytes;
    public void Dispose() { }
}
