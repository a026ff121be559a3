using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// A real GPU device presented with less memory, or as another kind (an integrated GPU): an upload that would take the
/// bytes held past <see cref="MemoryBytes"/> fails as a driver's allocation does (a <see cref="ComputeDeviceException"/>
/// around an out-of-memory error). Every op runs on the wrapped device.
/// </summary>
public sealed class ConstrainedDevice(IComputeDevice inner, long memoryBytes, DeviceKind? kind = null) : IComputeDevice
{
    public long HeldBytes { get; private set; }
    public string Name => "constrained:" + inner.Name;
    public DeviceKind Kind => kind ?? inner.Kind;
    public long MemoryBytes => memoryBytes;
    public bool Supports(GgmlType type) => inner.Supports(type);

    public IDeviceWeights Upload(in WeightMatrix weights)
    {
        if (HeldBytes + weights.TotalBytes > memoryBytes)
            throw new ComputeDeviceException(Name, "upload", new OutOfMemoryException($"out of memory: {HeldBytes} of {memoryBytes} bytes held, {weights.TotalBytes} more asked"));
        HeldBytes += weights.TotalBytes;
        return new Held(this, inner.Upload(weights), weights.TotalBytes);
    }

    public void MatMul(IDeviceWeights weights, ReadOnlySpan<float> x, int tokens, Span<float> y) => inner.MatMul(((Held)weights).Inner, x, tokens, y);
    public void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, int tokens, float eps) => inner.RmsNorm(x, weight, y, tokens, eps);
    public void Rope(Span<float> x, int tokens, int heads, int headStride, ReadOnlySpan<int> positions, RopeParameters parameters, int offset = 0) =>
        inner.Rope(x, tokens, heads, headStride, positions, parameters, offset);
    public void Softmax(Span<float> x, int rows, float scale) => inner.Softmax(x, rows, scale);
    public void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> h) => inner.SwiGlu(gate, up, h);
    public IDeviceKvCache AllocateKvCache(int layers, int context, int keyWidth, int valueWidth) => inner.AllocateKvCache(layers, context, keyWidth, valueWidth);
    public void WriteKv(IDeviceKvCache cache, int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, ReadOnlySpan<int> positions) =>
        inner.WriteKv(cache, layer, keys, values, positions);
    public void Attention(IDeviceKvCache cache, int layer, ReadOnlySpan<float> queries, int tokens, ReadOnlySpan<int> positions,
        in CausalAttention.Layout layout, float scale, Span<float> output) => inner.Attention(cache, layer, queries, tokens, positions, layout, scale, output);
    public void ExpertProduct(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down, ReadOnlySpan<float> x, int tokens, Span<float> y) =>
        inner.ExpertProduct(((Held)gate).Inner, ((Held)up).Inner, ((Held)down).Inner, x, tokens, y);
    public void Dispose() { }

    private sealed class Held(ConstrainedDevice owner, IDeviceWeights inner, long bytes) : IDeviceWeights
    {
        public IDeviceWeights Inner => inner;
        public IComputeDevice Device => owner;
        public GgmlType Type => inner.Type;
        public int Rows => inner.Rows;
        public int RowLength => inner.RowLength;
        public long DeviceBytes => inner.DeviceBytes;

        public void Dispose()
        {
            owner.HeldBytes -= bytes;
            inner.Dispose();
        }
    }
}
