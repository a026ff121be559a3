using System.Runtime.InteropServices;
using HybridEngine.Gpu;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;

namespace HybridEngine.Tests.Gpu;

/// <summary>The shape of a random absorbed-MLA test block; k_b of <see cref="KbType"/>, v_b of <see cref="VbType"/>, every other matrix F32.</summary>
internal sealed record MlaTestShape(int Heads, GgmlType KbType, GgmlType VbType, int KvLoraRank, int NopeDim, bool LowRankQuery, bool StackedHeads)
{
    public const int Hidden = 32, QLoraRank = 16, RopeDim = 4, ValueDim = 8;
    public int KeyDim => NopeDim + RopeDim;
    public int CacheWidth => KvLoraRank + RopeDim;
}

/// <summary>
/// A random absorbed-MLA block uploaded to a <see cref="GpuDevice"/> (k_b/v_b as one stacked upload per tensor, or head
/// by head), and the same block composed from <see cref="CpuDevice"/> ops with F32 weights: the quantized k_b/v_b
/// dequantized by their type's CPU dequantizer, so both sides compute the same math and differ only in summation order.
/// </summary>
internal sealed unsafe class MlaBlockHarness : IDisposable
{
    private readonly GpuDevice _gpu;
    private readonly CpuDevice _cpu = new();
    private readonly List<IDeviceWeights> _owned = [];
    private readonly List<GCHandle> _pins = [];
    private readonly Random _random;
    private readonly MlaTestShape _s;
    private readonly float[] _qANorm, _kvANorm;
    private readonly IDeviceWeights _cqA, _cqB, _cq, _ckvA, _co;
    private readonly IDeviceWeights[] _ckB, _cvB;
    private readonly RopeParameters _rope = new() { RotaryDims = MlaTestShape.RopeDim, Mode = RopeMode.Norm, FreqBase = 10000f };
    private readonly float _scale;
    private const float Eps = 1e-6f;

    public MlaBlockHarness(GpuDevice gpu, MlaTestShape shape, int seed)
    {
        (_gpu, _s, _random) = (gpu, shape, new Random(seed));
        int heads = shape.Heads, hidden = MlaTestShape.Hidden, qr = MlaTestShape.QLoraRank, kr = shape.KvLoraRank, dk = shape.KeyDim;
        int dv = MlaTestShape.ValueDim, cw = shape.CacheWidth;
        _scale = 1f / MathF.Sqrt(dk);
        var (gqA, cqA) = Both(Floats(qr * hidden), qr, hidden);
        _qANorm = Floats(qr);
        var (gqB, cqB) = Both(Floats(heads * dk * qr), heads * dk, qr);
        var (gq, cq) = Both(Floats(heads * dk * hidden), heads * dk, hidden);
        var (gkvA, ckvA) = Both(Floats(cw * hidden), cw, hidden);
        _kvANorm = Floats(kr);
        var (go, co) = Both(Floats(hidden * heads * dv), hidden, heads * dv);
        var (gkB, ckB) = Heads(shape.KbType, kr, shape.NopeDim);
        var (gvB, cvB) = Heads(shape.VbType, dv, kr);
        (_cqA, _cqB, _cq, _ckvA, _co, _ckB, _cvB) = (cqA, cqB, cq, ckvA, co, ckB, cvB);
        Block = new MlaDeviceBlock(shape.LowRankQuery ? gqA : null, shape.LowRankQuery ? _qANorm : null, shape.LowRankQuery ? gqB : null,
            shape.LowRankQuery ? null : gq, gkvA, _kvANorm, gkB, gvB, go, heads, kr, shape.NopeDim, MlaTestShape.RopeDim, dv, _rope, _scale, Eps);
    }

    public MlaDeviceBlock Block { get; }

    public float[] Input(int tokens) => Floats(tokens * MlaTestShape.Hidden);

    public IDeviceKvCache GpuCache(int context) => _gpu.AllocateKvCache(1, context, _s.CacheWidth, 0);

    public IDeviceKvCache CpuCache(int context) => _cpu.AllocateKvCache(1, context, _s.CacheWidth, 0);

    public float[] RunGpu(IDeviceKvCache cache, float[] x, int[] positions)
    {
        float[] y = new float[positions.Length * MlaTestShape.Hidden];
        _gpu.MlaBlock(Block, cache, 0, x, positions.Length, positions, y);
        return y;
    }

    /// <summary>The block op by op on the CPU device, each head's k_b and v_b applied token by token.</summary>
    public float[] RunCpu(IDeviceKvCache cache, float[] x, int[] positions)
    {
        int tokens = positions.Length, heads = _s.Heads, dk = _s.KeyDim, cw = _s.CacheWidth, kr = _s.KvLoraRank, nope = _s.NopeDim;
        int dv = MlaTestShape.ValueDim, ropeDim = MlaTestShape.RopeDim;
        float[] query = new float[tokens * heads * dk], kv = new float[tokens * cw];
        if (_s.LowRankQuery)
        {
            float[] latentQ = new float[tokens * MlaTestShape.QLoraRank];
            _cpu.MatMul(_cqA, x, tokens, latentQ);
            _cpu.RmsNorm(latentQ, _qANorm, latentQ, tokens, Eps);
            _cpu.MatMul(_cqB, latentQ, tokens, query);
        }
        else _cpu.MatMul(_cq, x, tokens, query);
        _cpu.MatMul(_ckvA, x, tokens, kv);
        for (int t = 0; t < tokens; t++) _cpu.RmsNorm(kv.AsSpan(t * cw, kr), _kvANorm, kv.AsSpan(t * cw, kr), 1, Eps);
        _cpu.Rope(query, tokens, heads, dk, positions, _rope, offset: nope);
        _cpu.Rope(kv, tokens, 1, cw, positions, _rope, offset: kr);
        _cpu.WriteKv(cache, 0, kv, [], positions);
        float[] absorbed = new float[tokens * heads * cw], nopePart = new float[nope], product = new float[kr];
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < heads; h++)
            {
                query.AsSpan((t * heads + h) * dk, nope).CopyTo(nopePart);
                _cpu.MatMul(_ckB[h], nopePart, 1, product);
                product.CopyTo(absorbed.AsSpan((t * heads + h) * cw, kr));
                query.AsSpan((t * heads + h) * dk + nope, ropeDim).CopyTo(absorbed.AsSpan((t * heads + h) * cw + kr, ropeDim));
            }
        float[] latent = new float[tokens * heads * kr], attention = new float[tokens * heads * dv], expected = new float[tokens * MlaTestShape.Hidden];
        _cpu.Attention(cache, 0, absorbed, tokens, positions, new CausalAttention.Layout(heads, 1, cw, kr, cw, cw), _scale, latent);
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < heads; h++)
                _cpu.MatMul(_cvB[h], latent.AsSpan((t * heads + h) * kr, kr), 1, attention.AsSpan((t * heads + h) * dv, dv));
        _cpu.MatMul(_co, attention, tokens, expected);
        return expected;
    }

    public void Dispose()
    {
        foreach (var w in _owned) w.Dispose();
        foreach (var pin in _pins) pin.Free();
        _cpu.Dispose();
    }

    private float[] Floats(int n) => GpuMatMulTests.RandomFloats(_random, n);

    // An F32 matrix on both devices (the CPU device computes from the pinned array, so it stays pinned).
    private (IDeviceWeights Gpu, IDeviceWeights Cpu) Both(float[] values, int rows, int rowLength)
    {
        var m = new WeightMatrix(Pin(values), GgmlType.F32, rows, rowLength);
        var pair = (_gpu.Upload(m), _cpu.Upload(m));
        _owned.Add(pair.Item1);
        _owned.Add(pair.Item2);
        return pair;
    }

    // Per-head [rows, rowLength] matrices of the head type, back to back as in a 3-D tensor: the GPU gets the raw
    // blocks (stacked or head by head), the CPU their dequantized values as F32.
    private (IDeviceWeights[] Gpu, IDeviceWeights[] Cpu) Heads(GgmlType type, int rows, int rowLength)
    {
        int heads = _s.Heads;
        var info = QuantTypes.Get(type);
        byte[] raw = GpuMatMulTests.RandomWeights(info, heads * rows, rowLength, _random);
        float[] values = GpuMatMulTests.Dequantized(info, raw, heads * rows, rowLength);
        long slab = rows * info.RowBytes(rowLength);
        byte* data = Pin(raw);
        IDeviceWeights[] gpu = _s.StackedHeads
            ? _gpu.UploadHeads(new WeightMatrix(data, type, rows, rowLength), heads)
            : [.. Enumerable.Range(0, heads).Select(h => _gpu.Upload(new WeightMatrix(data + h * slab, type, rows, rowLength)))];
        _owned.AddRange(gpu);
        byte* floats = Pin(values);
        IDeviceWeights[] cpu = [.. Enumerable.Range(0, heads).Select(h =>
            _cpu.Upload(new WeightMatrix(floats + (long)h * rows * rowLength * sizeof(float), GgmlType.F32, rows, rowLength)))];
        _owned.AddRange(cpu);
        return (gpu, cpu);
    }

    private byte* Pin(Array array)
    {
        var pin = GCHandle.Alloc(array, GCHandleType.Pinned);
        _pins.Add(pin);
        return (byte*)pin.AddrOfPinnedObject();
    }
}
