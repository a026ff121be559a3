using HybridEngine.Kernels;
using HybridEngine.Quantization;

namespace HybridEngine.Runtime;

/// <summary>Where the copy a tensor is computed from lives: the memory-mapped file (the CPU computes from it) or an accelerator.</summary>
public enum TensorLocation { MappedFile, Accelerator }

/// <summary>
/// The device copy of one handed-out matrix, shared by every handle the store hands out for it: a placement sets
/// <see cref="Weights"/> (an upload) and clears it again on fallback, and the executor dispatches on it per product.
/// </summary>
internal sealed class DeviceSlot(WeightMatrix matrix)
{
    public WeightMatrix Matrix { get; } = matrix;
    public IDeviceWeights? Weights { get; set; }
}

/// <summary>
/// A weight matrix handed out by <see cref="WeightStore"/>: what model code computes with instead of file offsets.
/// <see cref="Matrix"/> is valid while the store is open.
/// </summary>
public readonly struct TensorHandle
{
    private readonly DeviceSlot? _slot;

    internal TensorHandle(string name, WeightMatrix matrix, DeviceSlot? slot = null)
    {
        Name = name;
        Matrix = matrix;
        _slot = slot;
    }

    public string Name { get; }

    /// <summary>The raw rows for the dot kernels: Rows = output width, RowLength = input width.</summary>
    public WeightMatrix Matrix { get; }

    /// <summary>Where the executor computes with this matrix: on the accelerator holding its upload, else on the CPU from the mapping.</summary>
    public TensorLocation Location => DeviceWeights is null ? TensorLocation.MappedFile : TensorLocation.Accelerator;

    /// <summary>The accelerator's copy when a placement uploaded this matrix, else null.</summary>
    public IDeviceWeights? DeviceWeights => _slot?.Weights;

    public GgmlType Type => Matrix.Type;

    /// <summary>Output width (ggml ne[1]).</summary>
    public int Rows => Matrix.Rows;

    /// <summary>Input width (ggml ne[0]).</summary>
    public int RowLength => Matrix.RowLength;

    public bool IsPresent => Name != null;

    /// <summary>Dequantizes row <paramref name="row"/> into <paramref name="output"/> (RowLength values): embedding lookups.</summary>
    public unsafe void DequantizeRow(int row, Span<float> output)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside {Name} (0..{Rows - 1})");
        var info = QuantTypes.Get(Type);
        var bytes = new ReadOnlySpan<byte>(Matrix.Row(row), (int)Matrix.RowBytes);
        info.Dequantize!(bytes, output[..RowLength]);
    }
}

/// <summary>The gate, up and down matrices of one routed expert: the unit experts are requested, cached and placed in.</summary>
public readonly struct ExpertWeights(WeightMatrix gate, WeightMatrix up, WeightMatrix down)
{
    /// <summary>[ffn, hidden]</summary>
    public WeightMatrix Gate { get; } = gate;

    /// <summary>[ffn, hidden]</summary>
    public WeightMatrix Up { get; } = up;

    /// <summary>[hidden, ffn]</summary>
    public WeightMatrix Down { get; } = down;
}

/// <summary>Hands out routed experts by (layer, expert): the weight store's mapping, or an expert cache behind it.</summary>
public interface IExpertSource
{
    /// <summary>The expert's weights; valid until the model asks for experts of another layer.</summary>
    ExpertWeights GetExpert(int layer, int expert);
}

/// <summary>An expert source that reads ahead: told which experts a layer will need before they are asked for.</summary>
public interface IExpertPrefetcher
{
    /// <summary>False when nothing streams (no point computing guesses).</summary>
    bool PrefetchActive { get; }

    /// <summary>
    /// Starts reads of the experts of <paramref name="layer"/> not yet cached. <paramref name="chosen"/>: the router's
    /// choice (kept until the layer is done); otherwise a guess, read only when room can be made.
    /// </summary>
    void Prefetch(int layer, ReadOnlySpan<int> experts, bool chosen);

    /// <summary>Whether the expert can be handed out without waiting for a read (true unless a read is pending or not started).</summary>
    bool IsReady(int layer, int expert) => true;
}

/// <summary>Where one slab (gate, up or down) of a routed expert lies in the model file, and its matrix shape.</summary>
public readonly record struct ExpertSlabLayout(long FileOffset, long Bytes, WeightMatrix Template);
