namespace HybridEngine.Runtime;

/// <summary>
/// Keys and values of every layer for every position of the context, allocated once. Row <c>p</c> of layer
/// <c>l</c>'s keys is the key vector(s) of position p ([kvHeads·headDim] for GQA; [latent + rope] for MLA, which
/// keeps no separate values). F32, so attention matches an F32-cache reference exactly up to summation order.
/// Layers whose attention runs on an accelerator keep their keys and values there: their host rows are not allocated
/// unless a fallback to the CPU needs them (<see cref="Allocate"/>).
/// </summary>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;

    /// <param name="onHost">Whether a layer's rows are allocated now (all when null).</param>
    public KvCache(int layers, int context, int keyWidth, int valueWidth, Func<int, bool>? onHost = null)
    {
        Context = context;
        KeyWidth = keyWidth;
        ValueWidth = valueWidth;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = _values[l] = [];
            if (onHost is null || onHost(l)) Allocate(l);
        }
    }

    /// <summary>Whether layer <paramref name="layer"/>'s rows exist on the host.</summary>
    public bool HasLayer(int layer) => _keys[layer].Length > 0 || Context == 0 || KeyWidth == 0;

    /// <summary>Allocates layer <paramref name="layer"/>'s rows (zeroed) when they do not exist yet.</summary>
    public void Allocate(int layer)
    {
        if (HasLayer(layer)) return;
        _keys[layer] = new float[(long)Context * KeyWidth];
        _values[layer] = ValueWidth > 0 ? new float[(long)Context * ValueWidth] : [];
    }

    public int Layers => _keys.Length;
    public int Context { get; }
    public int KeyWidth { get; }
    public int ValueWidth { get; }

    /// <summary>Bytes of the layers allocated on the host.</summary>
    public long Bytes => ((long)_keys.Sum(k => (long)k.Length) + _values.Sum(v => (long)v.Length)) * sizeof(float);

    /// <summary>[context, keyWidth] of one layer.</summary>
    public Span<float> Keys(int layer) => _keys[layer];

    /// <summary>[context, valueWidth] of one layer.</summary>
    public Span<float> Values(int layer) => _values[layer];

    public Span<float> KeyRow(int layer, int position) => _keys[layer].AsSpan(position * KeyWidth, KeyWidth);

    public Span<float> ValueRow(int layer, int position) => _values[layer].AsSpan(position * ValueWidth, ValueWidth);
}
