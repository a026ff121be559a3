using HybridEngine.Kernels;
using HybridEngine.Runtime;

namespace HybridEngine.Models.Blocks;

/// <summary>The shape of grouped-query attention: heads share kvHeads key/value heads of headDim each.</summary>
/// <param name="Scale">The softmax scale, normally 1/√headDim.</param>
/// <param name="HeadNormEps">Epsilon of the optional per-head q/k RMS norms (qwen3moe).</param>
public sealed record AttentionSpec(int Heads, int KvHeads, int HeadDim, RopeParameters Rope, float Scale, float HeadNormEps = 0f);

/// <summary>
/// Grouped-query self-attention of one layer:
/// <code>
///   q = Wq·x  [tokens, heads·headDim];  k = Wk·x, v = Wv·x  [tokens, kvHeads·headDim]
///   q, k ← per-head rmsnorm (when the model has q/k norms), then RoPE at each token's position
///   cache[pos] ← k, v                    (the host cache, or the device's when attention runs on an accelerator)
///   out = Wo · attention(q, cache)       (see <see cref="CausalAttention"/>)
/// </code>
/// When the four projections and the layer's KV cache live on one <see cref="IResidentDevice"/>, the whole block runs
/// there as one op (<see cref="IResidentDevice.AttentionBlock"/>); otherwise product by product, each on its weight's device.
/// </summary>
public sealed class GqaAttention(int layer, AttentionSpec spec, TensorHandle q, TensorHandle k, TensorHandle v, TensorHandle output,
    float[]? qNorm = null, float[]? kNorm = null) : IAttentionBlock
{
    public int Layer { get; } = layer;

    /// <summary>Reads <c>State.Normed</c> and writes <c>State.BlockOut</c> for <paramref name="tokens"/> tokens.</summary>
    public void Forward(Executor ex, int tokens)
    {
        var s = ex.State;
        if (ex.DeviceCache(Layer, out int slot) is { Device: IResidentDevice resident } cache && OnDevice(resident) is { } block)
        {
            // The whole block on the device that holds its weights and cache: x goes up once, the output comes back once.
            resident.AttentionBlock(block, cache, slot, s.Normed, tokens, s.Positions.AsSpan(0, tokens), s.BlockOut);
            ex.CountAcceleratorProducts(4);
            return;
        }
        int hd = spec.HeadDim, qWidth = spec.Heads * hd, kvWidth = spec.KvHeads * hd;
        var query = s.Query.AsSpan(0, tokens * qWidth);
        var key = s.Key.AsSpan(0, tokens * kvWidth);
        var value = s.Value.AsSpan(0, tokens * kvWidth);
        ex.Linear(q, s.Normed, tokens, query);
        ex.Linear(k, s.Normed, tokens, key);
        ex.Linear(v, s.Normed, tokens, value);
        if (qNorm != null) RmsNorm.ApplyRows(query, qNorm, query, tokens * spec.Heads, spec.HeadNormEps, ex.Level);
        if (kNorm != null) RmsNorm.ApplyRows(key, kNorm, key, tokens * spec.KvHeads, spec.HeadNormEps, ex.Level);
        var positions = s.Positions.AsSpan(0, tokens);
        var rope = ex.RopeTable(spec.Rope);
        Rope.ApplyRows(query, tokens, spec.Heads, hd, positions, rope, ex.Level);
        Rope.ApplyRows(key, tokens, spec.KvHeads, hd, positions, rope, ex.Level);
        var layout = new CausalAttention.Layout(spec.Heads, spec.KvHeads, hd, hd, kvWidth, kvWidth);
        if (ex.DeviceCache(Layer, out slot) is { } kv)
        {
            // The plan put this layer's attention on an accelerator: its keys and values live only there.
            kv.Device.WriteKv(kv, slot, key, value, positions);
            kv.Device.Attention(kv, slot, query, tokens, positions, layout, spec.Scale, s.Attention.AsSpan(0, tokens * qWidth));
        }
        else
        {
            for (int t = 0; t < tokens; t++)
            {
                key.Slice(t * kvWidth, kvWidth).CopyTo(ex.Cache.KeyRow(Layer, positions[t]));
                value.Slice(t * kvWidth, kvWidth).CopyTo(ex.Cache.ValueRow(Layer, positions[t]));
            }
            CausalAttention.Run(query, tokens, positions, ex.Cache.Keys(Layer), ex.Cache.Values(Layer), layout, spec.Scale,
                s.Attention, s.Scores, ex.Pool, ex.Level);
        }
        ex.Linear(output, s.Attention, tokens, s.BlockOut);
    }

    // The block's device description when all four projections live on that device, else null (per-op path).
    private GqaDeviceBlock? OnDevice(IResidentDevice device) =>
        q.DeviceWeights is { } wq && k.DeviceWeights is { } wk && v.DeviceWeights is { } wv && output.DeviceWeights is { } wo
        && wq.Device == device && wk.Device == device && wv.Device == device && wo.Device == device
            ? new GqaDeviceBlock(wq, wk, wv, wo, qNorm, kNorm, spec.HeadNormEps, spec.Heads, spec.KvHeads, spec.HeadDim, spec.Rope, spec.Scale)
            : null;
}
