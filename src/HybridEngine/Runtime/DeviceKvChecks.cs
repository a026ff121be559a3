using HybridEngine.Kernels;

namespace HybridEngine.Runtime;

/// <summary>
/// Argument checks every device runs before touching its KV cache, so a bad call fails the same way (an
/// <see cref="ArgumentException"/> naming the culprit) on the CPU and on a GPU, and never as a device fault.
/// </summary>
public static class DeviceKvChecks
{
    public static void Allocation(int layers, int context, int keyWidth, int valueWidth)
    {
        if (layers <= 0 || context <= 0 || keyWidth <= 0 || valueWidth < 0)
            throw new ArgumentException($"a KV cache needs positive layers, context and key width and a non-negative value width; got {layers}, {context}, {keyWidth}, {valueWidth}");
    }

    /// <summary>Checks a <see cref="IComputeDevice.WriteKv"/> call; returns the number of tokens.</summary>
    public static int Write(IDeviceKvCache cache, int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, ReadOnlySpan<int> positions)
    {
        Layer(cache, layer);
        int tokens = positions.Length;
        if (keys.Length < (long)tokens * cache.KeyWidth)
            throw new ArgumentException($"{keys.Length} key values for {tokens} tokens of width {cache.KeyWidth}", nameof(keys));
        if (values.Length < (long)tokens * cache.ValueWidth)
            throw new ArgumentException($"{values.Length} value values for {tokens} tokens of width {cache.ValueWidth}", nameof(values));
        Positions(cache, positions, tokens);
        return tokens;
    }

    /// <summary>Checks a <see cref="IComputeDevice.Attention"/> call against the cache's geometry.</summary>
    public static void Attention(IDeviceKvCache cache, int layer, ReadOnlySpan<float> queries, int tokens, ReadOnlySpan<int> positions,
        in CausalAttention.Layout layout, Span<float> output)
    {
        Layer(cache, layer);
        if (tokens < 0) throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens");
        if (layout.Heads <= 0 || layout.KvHeads <= 0 || layout.Heads % layout.KvHeads != 0)
            throw new ArgumentException($"{layout.Heads} heads do not share {layout.KvHeads} kv heads evenly", nameof(layout));
        int valueStride = cache.ValueWidth == 0 ? cache.KeyWidth : cache.ValueWidth;
        if (layout.KeyStride != cache.KeyWidth || layout.ValueStride != valueStride)
            throw new ArgumentException($"layout strides {layout.KeyStride}/{layout.ValueStride} differ from the cache's rows {cache.KeyWidth}/{valueStride}", nameof(layout));
        if ((long)layout.KvHeads * layout.KeyDim > layout.KeyStride || (long)layout.KvHeads * layout.ValueDim > layout.ValueStride)
            throw new ArgumentException($"{layout.KvHeads} kv heads of {layout.KeyDim}/{layout.ValueDim} values do not fit rows of {layout.KeyStride}/{layout.ValueStride}", nameof(layout));
        if (queries.Length < (long)tokens * layout.Heads * layout.KeyDim)
            throw new ArgumentException($"{queries.Length} query values for {tokens} tokens of {layout.Heads}×{layout.KeyDim}", nameof(queries));
        if (output.Length < (long)tokens * layout.Heads * layout.ValueDim)
            throw new ArgumentException($"{output.Length} output values for {tokens} tokens of {layout.Heads}×{layout.ValueDim}", nameof(output));
        Positions(cache, positions, tokens);
    }

    private static void Layer(IDeviceKvCache cache, int layer)
    {
        if ((uint)layer >= (uint)cache.Layers) throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} of a {cache.Layers}-layer cache");
    }

    private static void Positions(IDeviceKvCache cache, ReadOnlySpan<int> positions, int tokens)
    {
        if (positions.Length < tokens) throw new ArgumentException($"{positions.Length} positions for {tokens} tokens", nameof(positions));
        for (int t = 0; t < tokens; t++)
            if ((uint)positions[t] >= (uint)cache.Context)
                throw new ArgumentOutOfRangeException(nameof(positions), $"position {positions[t]} is outside the {cache.Context}-position cache");
    }
}
