using HybridEngine.Kernels;
using HybridEngine.Quantization;

namespace HybridEngine.Runtime;

/// <summary>What kind of memory a device computes from: its own (discrete) or system RAM (CPU, integrated GPU).</summary>
public enum DeviceKind
{
    Cpu,
    DiscreteGpu,
    IntegratedGpu,
}

/// <summary>
/// One place ops can run. The CPU device always exists; GPUs are a list that may be empty. Activations come in and go
/// out as host spans (an <see cref="IResidentDevice"/> also runs whole blocks with one copy in and one out); weights are
/// uploaded once and referred to by handle. Instances are not thread-safe: one
/// executor drives a device at a time. Any failure inside a device op surfaces as <see cref="ComputeDeviceException"/>
/// so a caller can fall back to the CPU.
/// </summary>
public interface IComputeDevice : IDisposable
{
    string Name { get; }
    DeviceKind Kind { get; }

    /// <summary>Bytes of memory the device computes from (system RAM for the CPU and integrated GPUs).</summary>
    long MemoryBytes { get; }

    /// <summary>Whether <see cref="Upload"/> accepts weights of this type.</summary>
    bool Supports(GgmlType type);

    /// <summary>Makes the raw GGUF blocks of <paramref name="weights"/> available to this device (a copy on a GPU).</summary>
    IDeviceWeights Upload(in WeightMatrix weights);

    /// <summary>
    /// Uploads <paramref name="heads"/> matrices shaped like <paramref name="first"/> that lie back to back from
    /// first.Data (the per-head slabs of a 3-D tensor such as MLA's attn_k_b), one handle per head. A device may keep
    /// them as one stacked copy so a block can apply every head in one launch; by default each is uploaded alone.
    /// </summary>
    unsafe IDeviceWeights[] UploadHeads(in WeightMatrix first, int heads)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        var result = new List<IDeviceWeights>(heads);
        try
        {
            for (int h = 0; h < heads; h++)
                result.Add(Upload(new WeightMatrix(first.Data + h * first.TotalBytes, first.Type, first.Rows, first.RowLength)));
            return [.. result];
        }
        catch
        {
            foreach (var w in result) w.Dispose();
            throw;
        }
    }

    /// <summary><c>y[t][n] = Σ_k W[n][k]·x[t][k]</c> for <paramref name="tokens"/> rows of x ([tokens, RowLength] → [tokens, Rows]).</summary>
    void MatMul(IDeviceWeights weights, ReadOnlySpan<float> x, int tokens, Span<float> y);

    /// <summary>The one-token case of <see cref="MatMul"/>.</summary>
    void MatVec(IDeviceWeights weights, ReadOnlySpan<float> x, Span<float> y) => MatMul(weights, x, 1, y);

    /// <summary><c>y = x / sqrt(mean(x²) + eps) · weight</c> for each of <paramref name="tokens"/> rows of weight.Length values.</summary>
    void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, int tokens, float eps);

    /// <summary>
    /// Rotary embedding in place on x = [tokens, heads·headStride], token t at <c>positions[t]</c>, rotating
    /// RotaryDims values starting <paramref name="offset"/> into each head (angles from <see cref="RopeParameters"/>).
    /// </summary>
    void Rope(Span<float> x, int tokens, int heads, int headStride, ReadOnlySpan<int> positions, RopeParameters parameters, int offset = 0);

    /// <summary><c>p = softmax(scale·x)</c> in place on each of <paramref name="rows"/> equal rows of x.</summary>
    void Softmax(Span<float> x, int rows, float scale);

    /// <summary><c>h = silu(gate) · up</c>, element by element.</summary>
    void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> h);

    /// <summary>
    /// One expert's SwiGLU feed-forward on a token group, intermediates kept on the device:
    /// <c>y[t] = down · (silu(gate·x[t]) ⊙ (up·x[t]))</c>, x [tokens, gate.RowLength] → y [tokens, down.Rows].
    /// The caller applies the router weight when it adds y into the layer output.
    /// </summary>
    void ExpertProduct(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down, ReadOnlySpan<float> x, int tokens, Span<float> y);

    /// <summary>
    /// A KV cache held by this device, allocated once: per layer [context, keyWidth] keys and [context, valueWidth]
    /// values; <paramref name="valueWidth"/> 0 means values alias the keys (MLA reads the first part of each key row).
    /// </summary>
    IDeviceKvCache AllocateKvCache(int layers, int context, int keyWidth, int valueWidth);

    /// <summary>
    /// Stores keys [tokens, keyWidth] and values [tokens, valueWidth] (empty when values alias the keys) at rows
    /// <c>positions[t]</c> of <paramref name="layer"/>; tokens = positions.Length. Only these rows cross to the device.
    /// </summary>
    void WriteKv(IDeviceKvCache cache, int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, ReadOnlySpan<int> positions);

    /// <summary>
    /// <see cref="CausalAttention.Run"/> over the cache's <paramref name="layer"/>: queries [tokens, heads·keyDim] →
    /// output [tokens, heads·valueDim], token t attending to positions 0..positions[t]. The layout's strides must be
    /// the cache's widths (ValueStride = KeyWidth when values alias the keys).
    /// </summary>
    void Attention(IDeviceKvCache cache, int layer, ReadOnlySpan<float> queries, int tokens, ReadOnlySpan<int> positions,
        in CausalAttention.Layout layout, float scale, Span<float> output);
}

/// <summary>
/// A KV cache held by one device: per layer [context, keyWidth] keys and [context, valueWidth] values
/// (valueWidth 0 = values alias the keys, MLA).
/// </summary>
public interface IDeviceKvCache : IDisposable
{
    IComputeDevice Device { get; }
    int Layers { get; }
    int Context { get; }
    int KeyWidth { get; }
    int ValueWidth { get; }

    /// <summary>Bytes the cache holds on its device (host RAM for the CPU device).</summary>
    long DeviceBytes { get; }
}

/// <summary>A weight matrix as held by one device.</summary>
public interface IDeviceWeights : IDisposable
{
    IComputeDevice Device { get; }
    GgmlType Type { get; }
    int Rows { get; }
    int RowLength { get; }

    /// <summary>Bytes this handle holds on the device (0 when it only points at host memory).</summary>
    long DeviceBytes { get; }
}
