using HybridEngine.Gguf;
using HybridEngine.Kernels;
using HybridEngine.Kernels.Dot;
using HybridEngine.Quantization;

namespace HybridEngine.Runtime;

/// <summary>
/// The weights of one model, handed out by GGUF tensor name (and routed experts by (layer, expert)) after checking
/// presence, shape and quant type. Every handle is a view of the memory-mapped file; a <see cref="DevicePlacement"/>
/// may give a handle an accelerator copy as well (model code never sees a file offset or a device).
/// </summary>
public sealed unsafe class WeightStore : IExpertSource, IExpertPrefetcher
{
    private readonly GgufFile _file;
    private readonly Dictionary<int, StackedExperts> _experts = [];
    private readonly HashSet<string> _used = [];
    private readonly List<float[]> _owned = [];
    private readonly Dictionary<string, List<DeviceSlot>> _slots = new(StringComparer.Ordinal);

    public WeightStore(GgufFile file) => _file = file;

    public string FileName => Path.GetFileName(_file.Path);

    /// <summary>
    /// A source that serves the routed experts instead of the mapping (an expert cache); it calls
    /// <see cref="MappedExpert"/> for the experts it does not stream.
    /// </summary>
    public IExpertSource? ExpertOverride { get; set; }

    /// <summary>
    /// Experts held in private buffers (read once, not through the mapping); served before <see cref="ExpertOverride"/>
    /// and the mapping.
    /// </summary>
    public Streaming.PrivateExperts? PrivateExperts { get; set; }

    /// <inheritdoc/>
    public bool PrefetchActive => ExpertOverride is IExpertPrefetcher { PrefetchActive: true };

    /// <inheritdoc/>
    public void Prefetch(int layer, ReadOnlySpan<int> experts, bool chosen)
    {
        if (ExpertOverride is IExpertPrefetcher p) p.Prefetch(layer, experts, chosen);
    }

    /// <inheritdoc/>
    public bool IsReady(int layer, int expert) =>
        (PrivateExperts is { } own && own.TryGet(layer, expert, out _)) || ExpertOverride is not IExpertPrefetcher p || p.IsReady(layer, expert);

    /// <summary>Layers with routed experts and their expert counts.</summary>
    public IEnumerable<(int Layer, int Experts)> ExpertLayers => _experts.Select(p => (p.Key, p.Value.Count));

    /// <summary>The gate, up and down slabs of an expert in the file, for readers that bypass the mapping.</summary>
    public ExpertSlabLayout[] ExpertLayout(int layer, int expert)
    {
        var s = Stacked(layer, expert);
        ExpertSlabLayout Of(GgufTensorInfo info, in WeightMatrix first) =>
            new(_file.TensorFileOffset(info) + expert * first.TotalBytes, first.TotalBytes, first);
        return [Of(s.GateInfo, s.Gate), Of(s.UpInfo, s.Up), Of(s.DownInfo, s.Down)];
    }

    /// <summary>The largest quantized activation row any handed-out matrix needs: sizes the scratch once.</summary>
    public int MaxActivationRowBytes { get; private set; }

    /// <summary>Names of the tensors handed out so far.</summary>
    public IReadOnlyCollection<string> UsedTensors => _used;

    public bool Contains(string name) => _file.FindTensor(name) != null;

    /// <summary>A 2-D weight of shape {rowLength, rows} (ggml order: input width first).</summary>
    public TensorHandle Matrix(string name, int rowLength, int rows)
    {
        var info = Require(name, rowLength, rows);
        var matrix = MakeMatrix(info, _file.GetTensorPointer(info), rows, rowLength);
        return new TensorHandle(name, matrix, Slot(name, matrix));
    }

    /// <summary>The device slots of every matrix handed out for tensor <paramref name="name"/> (one, or one per head).</summary>
    internal IReadOnlyList<DeviceSlot> SlotsOf(string name) => _slots.TryGetValue(name, out var list) ? list : [];

    /// <summary>Whether <paramref name="layer"/> registered routed experts.</summary>
    public bool HasExperts(int layer) => _experts.ContainsKey(layer);

    // One slot per distinct matrix: a tensor handed out twice (a tied output head) shares its upload.
    private DeviceSlot Slot(string name, in WeightMatrix matrix)
    {
        if (!_slots.TryGetValue(name, out var list)) _slots[name] = list = [];
        foreach (var existing in list)
            if (existing.Matrix.Data == matrix.Data && existing.Matrix.Rows == matrix.Rows) return existing;
        var slot = new DeviceSlot(matrix);
        list.Add(slot);
        return slot;
    }

    /// <summary>As <see cref="Matrix"/>, or an absent handle when the file has no such tensor.</summary>
    public TensorHandle OptionalMatrix(string name, int rowLength, int rows) =>
        Contains(name) ? Matrix(name, rowLength, rows) : default;

    /// <summary>A 1-D tensor (norm weights, biases) as floats, copied once at load.</summary>
    public float[] Vector(string name, int length)
    {
        var info = Require(name, length);
        var type = QuantTypes.Get(info.Type);
        if (type.Dequantize is null || length % type.BlockSize != 0)
            throw new ModelLoadException($"tensor '{name}' in {FileName} has quant type {type.Name}, which cannot be read as a vector.");
        var values = new float[length];
        type.Dequantize(_file.GetTensorData(info), values);
        return values;
    }

    /// <summary>As <see cref="Vector"/>, or null when absent.</summary>
    public float[]? OptionalVector(string name, int length) => Contains(name) ? Vector(name, length) : null;

    /// <summary>
    /// Declares the stacked routed-expert tensors of one layer: gate and up {hidden, ffn, experts}, down
    /// {ffn, hidden, experts}. Expert e is the contiguous slab e of each (SPEC 3.2).
    /// </summary>
    public void RegisterExperts(int layer, string gate, string up, string down, int hidden, int ffn, int experts)
    {
        var g = Require(gate, hidden, ffn, experts);
        var u = Require(up, hidden, ffn, experts);
        var d = Require(down, ffn, hidden, experts);
        var stacked = new StackedExperts(
            MakeMatrix(g, _file.GetTensorPointer(g), ffn, hidden),
            MakeMatrix(u, _file.GetTensorPointer(u), ffn, hidden),
            MakeMatrix(d, _file.GetTensorPointer(d), hidden, ffn),
            experts, g, u, d);
        _experts[layer] = stacked;
    }

    /// <inheritdoc/>
    public ExpertWeights GetExpert(int layer, int expert) =>
        PrivateExperts is { } own && own.TryGet(layer, expert, out var weights) ? weights
        : ExpertOverride is { } source ? source.GetExpert(layer, expert) : MappedExpert(layer, expert);

    /// <summary>The expert as a view of the mapped file (read through the page cache on first touch).</summary>
    public ExpertWeights MappedExpert(int layer, int expert)
    {
        var s = Stacked(layer, expert);
        return new ExpertWeights(Slice(s.Gate, expert), Slice(s.Up, expert), Slice(s.Down, expert));
    }

    private StackedExperts Stacked(int layer, int expert)
    {
        if (!_experts.TryGetValue(layer, out var s)) throw new ArgumentException($"layer {layer} has no routed experts");
        if ((uint)expert >= (uint)s.Count) throw new ArgumentOutOfRangeException(nameof(expert), $"expert {expert} of {s.Count}");
        return s;
    }

    /// <summary>
    /// The per-head matrices of a 3-D tensor {rowLength, rows, heads} (e.g. MLA's attn_k_b, attn_v_b): head h is the
    /// contiguous slab h, a [rows, rowLength] matrix.
    /// </summary>
    public TensorHandle[] HeadMatrices(string name, int rowLength, int rows, int heads)
    {
        var info = Require(name, rowLength, rows, heads);
        var first = MakeMatrix(info, _file.GetTensorPointer(info), rows, rowLength);
        return Enumerable.Range(0, heads).Select(h =>
        {
            var head = Slice(first, h);
            return new TensorHandle(name, head, Slot(name, head));
        }).ToArray();
    }

    /// <summary>Rows [first, first + count) of a handed-out matrix, as a matrix of their own.</summary>
    public static WeightMatrix Rows(in TensorHandle handle, int first, int count)
    {
        if (first < 0 || count < 0 || first + count > handle.Rows) throw new ArgumentOutOfRangeException(nameof(first));
        var m = handle.Matrix;
        return new WeightMatrix(m.Data + first * m.RowBytes, m.Type, count, m.RowLength);
    }

    /// <summary>
    /// An F32 matrix computed at load from other weights (e.g. a transposed slice for a layout the file does not
    /// store). The store owns and pins its memory for the model's lifetime.
    /// </summary>
    public WeightMatrix Derived(float[] values, int rows, int rowLength)
    {
        if (values.Length != rows * rowLength) throw new ArgumentException($"{values.Length} values for [{rows}, {rowLength}]");
        var pinned = GC.AllocateArray<float>(values.Length, pinned: true);
        values.CopyTo(pinned, 0);
        _owned.Add(pinned);
        fixed (float* p = pinned)
        {
            var matrix = new WeightMatrix((byte*)p, GgmlType.F32, rows, rowLength);
            MaxActivationRowBytes = Math.Max(MaxActivationRowBytes, ActivationQuantizer.RowBytes(matrix.DotType, rowLength));
            return matrix;
        }
    }

    /// <summary>Row <paramref name="row"/> of a handed-out matrix as floats.</summary>
    public static void DequantizeRow(in WeightMatrix m, int row, Span<float> output) =>
        QuantTypes.Get(m.Type).Dequantize!(new ReadOnlySpan<byte>(m.Row(row), (int)m.RowBytes), output[..m.RowLength]);

    // The expert's rows inside a stacked tensor whose first matrix has the expert's own shape.
    private static WeightMatrix Slice(in WeightMatrix first, int expert) =>
        new(first.Data + expert * first.TotalBytes, first.Type, first.Rows, first.RowLength);

    private GgufTensorInfo Require(string name, params long[] shape)
    {
        var info = _file.FindTensor(name)
            ?? throw new ModelLoadException($"tensor '{name}' is missing from {FileName}.");
        bool same = info.Shape.Length >= shape.Length && info.Shape.Skip(shape.Length).All(d => d == 1);
        for (int i = 0; same && i < shape.Length; i++) same = info.Shape[i] == shape[i];
        if (!same)
            throw new ModelLoadException(
                $"tensor '{name}' in {FileName} has shape {info.ShapeText}, expected {{{string.Join(", ", shape)}}}.");
        _used.Add(name);
        return info;
    }

    private WeightMatrix MakeMatrix(GgufTensorInfo info, byte* data, int rows, int rowLength)
    {
        if (!DotKernels.IsSupported(info.Type))
        {
            string name = QuantTypes.TryGet((uint)info.Type, out var t) ? t.Name : $"id {(uint)info.Type}";
            throw new ModelLoadException(
                $"tensor '{info.Name}' in {FileName} has quant type {name}, which has no CPU kernel; supported: " +
                $"{string.Join(", ", DotKernels.SupportedTypes.Select(s => QuantTypes.Get(s).Name))}.");
        }
        var matrix = new WeightMatrix(data, info.Type, rows, rowLength);
        MaxActivationRowBytes = Math.Max(MaxActivationRowBytes, ActivationQuantizer.RowBytes(matrix.DotType, rowLength));
        return matrix;
    }

    private sealed record StackedExperts(WeightMatrix Gate, WeightMatrix Up, WeightMatrix Down, int Count,
        GgufTensorInfo GateInfo, GgufTensorInfo UpInfo, GgufTensorInfo DownInfo);
}
