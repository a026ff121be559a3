using HybridEngine.Kernels;
using HybridEngine.Runtime;

namespace HybridEngine.Models.Blocks;

/// <summary>
/// MLA in the non-absorbed form (SPEC 4.2), for legacy files that store <c>attn_kv_b</c>: the latent is expanded
/// into per-head keys and values, and attention runs as ordinary multi-head attention over a cache of full keys
/// [heads·(nope + rope)] and values [heads·value]:
/// <code>
///   q        = q_b · rmsnorm(q_a · x)   (or attn_q · x)          [tokens, heads, nope + rope]
///   [c, kpe] = kv_a_mqa · x;  c = rmsnorm(c, kv_a_norm)           [tokens, kvLoraRank + rope]
///   q_pe, kpe ← RoPE (NORM, YaRN)
///   [k_nope, v] = kv_b · c                                        [tokens, heads, nope + value]
///   k[h] = [k_nope[h], kpe]   (the roped key shared by every head)
///   out  = attn_output · concat_h(Σ_j softmax_j(scale·q[h]·k_j[h]) · v_j[h])
/// </code>
/// This is how llama.cpp runs these files, so kv_b multiplies the same quantized latent rows in both engines.
/// It costs more cache than the absorbed form; files with attn_k_b / attn_v_b use <see cref="MlaAttention"/>.
/// </summary>
public sealed class MlaExpandedAttention(int layer, MlaSpec spec, TensorHandle qA, float[]? qANorm, TensorHandle qB, TensorHandle q,
    TensorHandle kvA, float[] kvANorm, TensorHandle kvB, TensorHandle output) : IAttentionBlock
{
    /// <summary>Cached key floats per token: heads·(nope + rope).</summary>
    public static int KeyWidth(MlaSpec p) => p.Heads * p.KeyDim;

    /// <summary>Cached value floats per token: heads·value.</summary>
    public static int ValueWidth(MlaSpec p) => p.Heads * p.ValueDim;

    /// <summary>Per-token scratch floats in <c>State.Extra</c>: q latent, kv_a output, the latent alone, kv_b output.</summary>
    public static int ScratchWidth(MlaSpec p) =>
        p.QLoraRank + p.CacheWidth + p.KvLoraRank + p.Heads * (p.NopeDim + p.ValueDim);

    public void Forward(Executor ex, int tokens)
    {
        var s = ex.State;
        var p = spec;
        int heads = p.Heads, kr = p.KvLoraRank, nope = p.NopeDim, rd = p.RopeDim, dk = p.KeyDim, dv = p.ValueDim, cw = p.CacheWidth;
        int per = nope + dv, b = s.BatchSize;
        var extra = s.Extra.AsSpan();
        var qLatent = extra[..(b * p.QLoraRank)]; extra = extra[(b * p.QLoraRank)..];
        var kvLatent = extra[..(b * cw)]; extra = extra[(b * cw)..];          // [tokens, kr + rope]
        var compressed = extra[..(b * kr)]; extra = extra[(b * kr)..];        // [tokens, kr]
        var expanded = extra[..(b * heads * per)];                            // [tokens, heads·(nope + value)]

        var query = s.Query.AsSpan(0, tokens * heads * dk);
        if (qA.IsPresent)
        {
            ex.Linear(qA, s.Normed, tokens, qLatent);
            RmsNorm.ApplyRows(qLatent[..(tokens * p.QLoraRank)], qANorm!, qLatent, tokens, p.Eps, ex.Level);
            ex.Linear(qB, qLatent, tokens, query);
        }
        else ex.Linear(q, s.Normed, tokens, query);

        ex.Linear(kvA, s.Normed, tokens, kvLatent);
        for (int t = 0; t < tokens; t++)
        {
            RmsNorm.ApplyInPlace(kvLatent.Slice(t * cw, kr), kvANorm, p.Eps, ex.Level);
            kvLatent.Slice(t * cw, kr).CopyTo(compressed.Slice(t * kr, kr));
        }
        var positions = s.Positions.AsSpan(0, tokens);
        var rope = ex.RopeTable(p.Rope);
        Rope.ApplyRows(query, tokens, heads, dk, positions, rope, ex.Level, offset: nope);
        Rope.ApplyRows(kvLatent[..(tokens * cw)], tokens, 1, cw, positions, rope, ex.Level, offset: kr);
        ex.Linear(kvB, compressed, tokens, expanded);

        int kw = heads * dk, vw = heads * dv;
        // Rows are assembled where attention reads them: in the host cache, or in State.Key/Value for a device cache.
        var deviceCache = ex.DeviceCache(layer, out int slot);
        for (int t = 0; t < tokens; t++)
        {
            var keyRow = deviceCache is null ? ex.Cache.KeyRow(layer, positions[t]) : s.Key.AsSpan(t * kw, kw);
            var valueRow = deviceCache is null ? ex.Cache.ValueRow(layer, positions[t]) : s.Value.AsSpan(t * vw, vw);
            var kpe = kvLatent.Slice(t * cw + kr, rd);
            for (int h = 0; h < heads; h++)
            {
                var source = expanded.Slice((t * heads + h) * per, per);
                source[..nope].CopyTo(keyRow.Slice(h * dk, nope));
                kpe.CopyTo(keyRow.Slice(h * dk + nope, rd));
                source[nope..].CopyTo(valueRow.Slice(h * dv, dv));
            }
        }
        var layout = new CausalAttention.Layout(heads, heads, dk, dv, kw, vw);
        if (deviceCache is not null)
        {
            deviceCache.Device.WriteKv(deviceCache, slot, s.Key.AsSpan(0, tokens * kw), s.Value.AsSpan(0, tokens * vw), positions);
            deviceCache.Device.Attention(deviceCache, slot, query, tokens, positions, layout, p.Scale, s.Attention.AsSpan(0, tokens * vw));
        }
        else
            CausalAttention.Run(query, tokens, positions, ex.Cache.Keys(layer), ex.Cache.Values(layer), layout, p.Scale,
                s.Attention, s.Scores, ex.Pool, ex.Level);
        ex.Linear(output, s.Attention, tokens, s.BlockOut);
    }
}
