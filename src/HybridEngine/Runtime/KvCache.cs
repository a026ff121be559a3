namespace HybridEngine.Runtime;

/// <summary>
/// Keys and values of every layer for every position of the context, allocated once. Row <c>p</c> of layer
/// <c>l</c>'s keys is the key vector(s) of position p ([kvHeads·headDim] for GQA; [latent + rope] for MLA, which
/// keeps no separate values). F32, so attention matches an F32-cache reference exactly up to summation order.
/// </summary>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;

    public KvCache(int layers, int context, int keyWidth, int valueWidth)
    {
        Context = context;
        KeyWidth = keyWidth;
        ValueWidth = valueWidth;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = new float[(long)context * keyWidth];
            _values[l] = valueWidth > 0 ? new float[(long)context * valueWidth] : [];
        }
    }

    public int Layers => _keys.Length;
    public int Context { get; }
    public int KeyWidth { get; }
    public int ValueWidth { get; }

    public long Bytes => (long)_keys.Length * Context * (KeyWidth + ValueWidth) * sizeof(float);

    /// <summary>[context, keyWidth] of one layer.</summary>
    public Span<float> Keys(int layer) => _keys[layer];

    /// <summary>[context, valueWidth] of one layer.</summary>
    public Span<float> Values(int layer) => _values[layer];

    public Span<float> KeyRow(int layer, int position) => _keys[layer].AsSpan(position * KeyWidth, KeyWidth);

    public Span<float> ValueRow(int layer, int position) => _values[layer].AsSpan(position * ValueWidth, ValueWidth);
}
