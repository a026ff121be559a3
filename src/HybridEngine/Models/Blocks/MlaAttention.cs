using HybridEngine.Kernels;
using HybridEngine.Runtime;

namespace HybridEngine.Models.Blocks;

/// <summary>The shape of multi-head latent attention (SPEC 4.2).</summary>
/// <param name="QLoraRank">0 when queries come straight from attn_q (the "lite" models).</param>
/// <param name="Scale">kq_scale = mscale² / √(nope + rope).</param>
public sealed record MlaSpec(int Heads, int QLoraRank, int KvLoraRank, int NopeDim, int RopeDim, int ValueDim,
    RopeParameters Rope, float Scale, float Eps)
{
    public int KeyDim => NopeDim + RopeDim;

    /// <summary>One cached row per token and layer: the normalised latent then the roped key.</summary>
    public int CacheWidth => KvLoraRank + RopeDim;

    /// <summary>Per-token scratch floats the block needs in <c>State.Extra</c>.</summary>
    public int ScratchWidth => QLoraRank + Math.Max(NopeDim, KvLoraRank) + Math.Max(KvLoraRank, ValueDim) + Heads * CacheWidth + Heads * KvLoraRank;
}

/// <summary>
/// MLA in the absorbed form (SPEC 4.2): the cache holds only [c_kv | k_pe] per token, and each head reads it as one
/// shared key/value head:
/// <code>
///   q        = q_b · rmsnorm(q_a · x)   (or attn_q · x)          [tokens, heads, nope + rope]
///   [c, kpe] = kv_a_mqa · x;  c = rmsnorm(c, kv_a_norm)           [tokens, kvLoraRank + rope]
///   q_pe, kpe ← RoPE (NORM, YaRN)
///   q_abs[h] = k_b[h] · q_nope[h]                                 [kvLoraRank]
///   o_lat[h] = Σ_j softmax_j(scale·([q_abs[h], q_pe[h]] · cache[j])) · c[j]
///   out      = attn_output · concat_h(v_b[h] · o_lat[h])
/// </code>
/// Files with the legacy attn_kv_b run through <see cref="MlaExpandedAttention"/> instead. When every projection and
/// the layer's KV cache live on one <see cref="IResidentDevice"/>, the whole block runs there as one op
/// (<see cref="IResidentDevice.MlaBlock"/>: x up once, the output down once); otherwise product by product.
/// </summary>
public sealed class MlaAttention : IAttentionBlock
{
    private readonly int _layer;
    private readonly MlaSpec _spec;
    private readonly TensorHandle _qA, _qB, _q, _kvA, _output;
    private readonly float[]? _qANorm;
    private readonly float[] _kvANorm;
    private readonly TensorHandle[] _kB, _vB;   // per head: [kvLoraRank, nope] and [value, kvLoraRank]
    private MlaDeviceBlock? _deviceBlock;        // built once per placement (its per-head arrays), checked every call

    public MlaAttention(int layer, MlaSpec spec, TensorHandle qA, float[]? qANorm, TensorHandle qB, TensorHandle q,
        TensorHandle kvA, float[] kvANorm, TensorHandle[] kB, TensorHandle[] vB, TensorHandle output)
    {
        (_layer, _spec, _qA, _qANorm, _qB, _q, _kvA, _kvANorm, _kB, _vB, _output) = (layer, spec, qA, qANorm, qB, q, kvA, kvANorm, kB, vB, output);
    }

    /// <summary>Reads <c>State.Normed</c>, writes <c>State.BlockOut</c>.</summary>
    public void Forward(Executor ex, int tokens)
    {
        var s = ex.State;
        var p = _spec;
        if (ex.DeviceCache(_layer, out int residentSlot) is { Device: IResidentDevice resident } residentCache && OnDevice(resident) is { } block)
        {
            resident.MlaBlock(block, residentCache, residentSlot, s.Normed, tokens, s.Positions.AsSpan(0, tokens), s.BlockOut);
            ex.CountAcceleratorProducts((_qA.IsPresent ? 2 : 1) + 2 + 2 * p.Heads);
            return;
        }
        int heads = p.Heads, kr = p.KvLoraRank, dk = p.KeyDim, cw = p.CacheWidth;
        int b = s.BatchSize;
        // Scratch regions of State.Extra, each sized for a full batch.
        var extra = s.Extra.AsSpan();
        var qLatent = extra[..(b * p.QLoraRank)]; extra = extra[(b * p.QLoraRank)..];
        var gathered = extra[..(b * Math.Max(p.NopeDim, kr))]; extra = extra[(b * Math.Max(p.NopeDim, kr))..];
        var product = extra[..(b * Math.Max(kr, p.ValueDim))]; extra = extra[(b * Math.Max(kr, p.ValueDim))..];
        var qAbs = extra[..(b * heads * cw)]; extra = extra[(b * heads * cw)..];
        var latent = extra[..(b * heads * kr)];

        var query = s.Query.AsSpan(0, tokens * heads * dk);
        if (_qA.IsPresent)
        {
            ex.Linear(_qA, s.Normed, tokens, qLatent);
            RmsNorm.ApplyRows(qLatent[..(tokens * p.QLoraRank)], _qANorm!, qLatent, tokens, p.Eps, ex.Level);
            ex.Linear(_qB, qLatent, tokens, query);
        }
        else ex.Linear(_q, s.Normed, tokens, query);

        var kv = s.Key.AsSpan(0, tokens * cw);
        ex.Linear(_kvA, s.Normed, tokens, kv);
        for (int t = 0; t < tokens; t++) RmsNorm.ApplyInPlace(kv.Slice(t * cw, kr), _kvANorm, p.Eps, ex.Level);
        var positions = s.Positions.AsSpan(0, tokens);
        var rope = ex.RopeTable(p.Rope);
        Rope.ApplyRows(query, tokens, heads, dk, positions, rope, ex.Level, offset: p.NopeDim);
        Rope.ApplyRows(kv, tokens, 1, cw, positions, rope, ex.Level, offset: kr);
        var deviceCache = ex.DeviceCache(_layer, out int slot);
        if (deviceCache is not null) deviceCache.Device.WriteKv(deviceCache, slot, kv, [], positions);
        else for (int t = 0; t < tokens; t++) kv.Slice(t * cw, cw).CopyTo(ex.Cache.KeyRow(_layer, positions[t]));

        // Absorb k_b into the queries: qAbs[t][h] = [k_b[h]·q_nope[t][h], q_pe[t][h]].
        for (int h = 0; h < heads; h++)
        {
            for (int t = 0; t < tokens; t++)
                query.Slice((t * heads + h) * dk, p.NopeDim).CopyTo(gathered.Slice(t * p.NopeDim, p.NopeDim));
            ex.Linear(_kB[h], gathered, tokens, product);
            for (int t = 0; t < tokens; t++)
            {
                var row = qAbs.Slice((t * heads + h) * cw, cw);
                product.Slice(t * kr, kr).CopyTo(row);
                query.Slice((t * heads + h) * dk + p.NopeDim, p.RopeDim).CopyTo(row[kr..]);
            }
        }

        var layout = new CausalAttention.Layout(heads, 1, cw, kr, cw, cw);
        if (deviceCache is not null)
            deviceCache.Device.Attention(deviceCache, slot, qAbs[..(tokens * heads * cw)], tokens, positions, layout, p.Scale, latent[..(tokens * heads * kr)]);
        else
        {
            var cache = ex.Cache.Keys(_layer);
            CausalAttention.Run(qAbs[..(tokens * heads * cw)], tokens, positions, cache, cache, layout, p.Scale, latent, s.Scores, ex.Pool, ex.Level);
        }

        // Decompress each head's latent output through v_b.
        int dv = p.ValueDim;
        for (int h = 0; h < heads; h++)
        {
            for (int t = 0; t < tokens; t++)
                latent.Slice((t * heads + h) * kr, kr).CopyTo(gathered.Slice(t * kr, kr));
            ex.Linear(_vB[h], gathered, tokens, product);
            for (int t = 0; t < tokens; t++)
                product.Slice(t * dv, dv).CopyTo(s.Attention.AsSpan((t * heads + h) * dv, dv));
        }
        ex.Linear(_output, s.Attention, tokens, s.BlockOut);
    }

    // The block's device description when every projection lives on that device, else null (per-op path). The arrays of
    // per-head weights are built once and reused while the handles still point at the same device weights.
    private MlaDeviceBlock? OnDevice(IResidentDevice device)
    {
        if (_deviceBlock is { } cached && cached.KvA.Device == device && Same(cached)) return cached;
        _deviceBlock = null;
        if (!On(_kvA, device) || !On(_output, device) || (_qA.IsPresent ? !On(_qA, device) || !On(_qB, device) : !On(_q, device))) return null;
        for (int h = 0; h < _kB.Length; h++)
            if (!On(_kB[h], device) || !On(_vB[h], device)) return null;
        var p = _spec;
        _deviceBlock = new MlaDeviceBlock(_qA.IsPresent ? _qA.DeviceWeights : null, _qANorm, _qA.IsPresent ? _qB.DeviceWeights : null,
            _qA.IsPresent ? null : _q.DeviceWeights, _kvA.DeviceWeights!, _kvANorm, [.. _kB.Select(k => k.DeviceWeights!)],
            [.. _vB.Select(v => v.DeviceWeights!)], _output.DeviceWeights!, p.Heads, p.KvLoraRank, p.NopeDim, p.RopeDim, p.ValueDim,
            p.Rope, p.Scale, p.Eps);
        return _deviceBlock;
    }

    private static bool On(TensorHandle handle, IResidentDevice device) => handle.DeviceWeights is { } w && w.Device == device;

    private bool Same(in MlaDeviceBlock block)
    {
        if (!ReferenceEquals(block.KvA, _kvA.DeviceWeights) || !ReferenceEquals(block.Output, _output.DeviceWeights)) return false;
        if (_qA.IsPresent ? !ReferenceEquals(block.QA, _qA.DeviceWeights) || !ReferenceEquals(block.QB, _qB.DeviceWeights)
            : !ReferenceEquals(block.Q, _q.DeviceWeights)) return false;
        for (int h = 0; h < _kB.Length; h++)
            if (!ReferenceEquals(block.KB[h], _kB[h].DeviceWeights) || !ReferenceEquals(block.VB[h], _vB[h].DeviceWeights)) return false;
        return true;
    }
}
