using HybridEngine.Gpu.Kernels;
using HybridEngine.Kernels;
using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;

namespace HybridEngine.Gpu;

/// <summary>
/// The absorbed MLA attention block as one resident op (<see cref="IResidentDevice.MlaBlock"/>). Per-head k_b and v_b
/// uploaded with <see cref="UploadHeads"/> sit back to back in one buffer, and each of the two per-head products is one
/// launch over every token and head (<see cref="MatShape.Heads"/>), so a layer's launches do not grow with its heads;
/// heads uploaded one by one still work, at one launch per head.
/// </summary>
public sealed partial class GpuDevice
{
    /// <summary>One device buffer for all heads' raw blocks; the handles are views of it (freed with the last one).</summary>
    public unsafe IDeviceWeights[] UploadHeads(in WeightMatrix first, int heads)
    {
        if (!Supports(first.Type)) throw GpuMatMulKernels.Unsupported(first.Type);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        var stack = new WeightMatrix(first.Data, first.Type, checked(heads * first.Rows), first.RowLength);
        var (type, rows, rowLength, slabBytes) = (first.Type, first.Rows, first.RowLength, first.TotalBytes);
        return Guard("upload", () => GpuWeights.Heads(this, Copy(stack), heads, slabBytes, type, rows, rowLength));
    }

    public void MlaBlock(in MlaDeviceBlock block, IDeviceKvCache cache, int layer, ReadOnlySpan<float> x, int tokens,
        ReadOnlySpan<int> positions, Span<float> y)
    {
        var kv = Own(cache);
        var (kvA, wo) = (Own(block.KvA), Own(block.Output));
        int heads = block.Heads, kr = block.KvLoraRank, nope = block.NopeDim, rope = block.RopeDim, dv = block.ValueDim;
        int dk = nope + rope, cw = kr + rope, hidden = kvA.RowLength;
        GpuWeights? qa = block.QA is null ? null : Own(block.QA);
        GpuWeights wq = qa is null ? Own(block.Q ?? throw new ArgumentException("an MLA block needs QA and QB, or Q", nameof(block)))
            : Own(block.QB ?? throw new ArgumentException("an MLA block with QA needs QB", nameof(block)));
        if (qa is not null && (qa.RowLength != hidden || wq.RowLength != qa.Rows || block.QANorm is null || block.QANorm.Length != qa.Rows))
            throw new ArgumentException("the MLA block's query latent weights do not match", nameof(block));
        if (qa is null && wq.RowLength != hidden) throw new ArgumentException("the MLA block's query weights do not match its input", nameof(block));
        if (wq.Rows != heads * dk || kvA.Rows != cw || block.KvANorm.Length != kr || wo.RowLength != heads * dv
            || block.KB.Length != heads || block.VB.Length != heads)
            throw new ArgumentException("the MLA block's weights do not match its heads and widths", nameof(block));
        for (int h = 0; h < heads; h++)
        {
            var (kb, vb) = (Own(block.KB[h]), Own(block.VB[h]));
            if (kb.Rows != kr || kb.RowLength != nope || vb.Rows != dv || vb.RowLength != kr)
                throw new ArgumentException($"the MLA block's head {h} k_b/v_b do not match its widths", nameof(block));
        }
        if (kv.KeyWidth != cw) throw new ArgumentException($"the KV cache holds rows of {kv.KeyWidth} values, the block {cw}", nameof(cache));
        if ((uint)layer >= (uint)kv.Layers) throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is outside the cache's {kv.Layers}");
        if (positions.Length < tokens) throw new ArgumentException($"{positions.Length} positions for {tokens} tokens", nameof(positions));
        for (int t = 0; t < tokens; t++)
            if ((uint)positions[t] >= (uint)kv.Context) throw new ArgumentOutOfRangeException(nameof(positions), $"position {positions[t]} is outside the cache's context {kv.Context}");
        if (block.Rope.RotaryDims != rope) throw new ArgumentException("the MLA block rotates exactly its rope slice", nameof(block));
        CheckLength(x, (long)tokens * hidden, nameof(x));
        CheckLength(y, (long)tokens * wo.Rows, nameof(y));
        int pairs = rope / 2, angleCount = tokens * 2 * pairs;
        if (_angles.Length < angleCount) _angles = new float[angleCount];
        for (int t = 0; t < tokens; t++)
            block.Rope.ComputeRow(positions[t], _angles.AsSpan(t * 2 * pairs, pairs), _angles.AsSpan(t * 2 * pairs + pairs, pairs));
        try
        {
            Fault("mla-block");
            var gx = In(0, x[..(tokens * hidden)]);
            var angles = In(SlotAngles, _angles.AsSpan(0, angleCount));
            var gp = Positions(positions[..tokens]);
            var gq = Scratch(SlotQ, (long)tokens * heads * dk);
            var gkv = Scratch(SlotK, (long)tokens * cw);
            var gLatentQ = Scratch(SlotV, qa is null ? 1 : (long)tokens * qa.Rows);
            var gAbs = Scratch(SlotAbsorbed, (long)tokens * heads * cw);
            var gLatent = Scratch(SlotLatent, (long)tokens * heads * kr);
            var go = Scratch(SlotAttention, (long)tokens * heads * dv);
            var gy = Scratch(1, (long)tokens * wo.Rows);
            if (tokens > 0)
            {
                if (qa is not null)
                {
                    Product(qa, gx, gLatentQ, tokens);
                    _rmsNorm(new KernelConfig(tokens, Accelerator.WarpSize), gLatentQ, Constant(block.QANorm!), gLatentQ, qa.Rows, qa.Rows, block.Eps);
                    Product(wq, gLatentQ, gq, tokens);
                }
                else Product(wq, gx, gq, tokens);
                Product(kvA, gx, gkv, tokens);
                // The latent's leading kr values of each [kr + rope] row, in place.
                _rmsNorm(new KernelConfig(tokens, Accelerator.WarpSize), gkv, Constant(block.KvANorm), gkv, kr, cw, block.Eps);
                if (pairs > 0)
                {
                    bool norm = block.Rope.Mode == RopeMode.Norm;
                    var shape = new RopeShape { Pairs = pairs, PairStep = norm ? 1 : pairs, PairStride = norm ? 2 : 1 };
                    _rope(new Index2D(tokens * heads, pairs), gq, angles, shape with { Heads = heads, HeadStride = dk, Offset = nope });
                    _rope(new Index2D(tokens, pairs), gkv, angles, shape with { Heads = 1, HeadStride = cw, Offset = kr });
                }
                StoreRows(gkv, kv.Keys(layer).View, positions[..tokens], cw);
                // q_abs[t][h] = [k_b[h]·q_nope[t][h], q_pe[t][h]]: strided products read and write one head of every token.
                HeadProducts(block.KB, gq, dk, gAbs, cw, tokens);
                if (rope > 0)
                    _stridedCopy(new Index2D(tokens * heads, rope), gq, gAbs,
                        new CopyShape { Width = rope, SourceStride = dk, SourceOffset = nope, DestinationStride = cw, DestinationOffset = kr });
                var layout = new CausalAttention.Layout(heads, 1, cw, kr, cw, cw);
                LaunchAttention(kv, layer, gAbs, gp, positions[..tokens], layout, block.Scale, gLatent);
                HeadProducts(block.VB, gLatent, kr, go, dv, tokens);
                Product(wo, go, gy, tokens);
            }
            Out(gy, y[..(tokens * wo.Rows)]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "mla-block", e); }
    }

    /// <summary>
    /// Queues <c>y[t][h·yHead ..] = W[h]·x[t][h·xHead ..]</c> for every token and head (tokens' rows hold all heads): one
    /// launch when the heads are one stacked upload, else one per head.
    /// </summary>
    private void HeadProducts(IDeviceWeights[] weights, ArrayView<float> x, int xHead, ArrayView<float> y, int yHead, int tokens)
    {
        int heads = weights.Length;
        if (heads == 0) return;
        var first = Own(weights[0]);
        bool stacked = true;
        for (int h = 1; h < heads && stacked; h++) stacked = Own(weights[h]).Follows(first, h);
        if (stacked)
        {
            var shape = Shape(first, tokens);
            (shape.Heads, shape.XHeadStride, shape.YHeadStride, shape.XStride, shape.YStride) = (heads, xHead, yHead, heads * xHead, heads * yHead);
            _matMul.For(first.Type)(first.Stack(heads).View, x, y, shape);
            return;
        }
        for (int h = 0; h < heads; h++)
            Product(Own(weights[h]), x.SubView((long)h * xHead), y.SubView((long)h * yHead), tokens, heads * xHead, heads * yHead);
    }

    /// <summary>Queues y = W·x for packed rows, or with the given distances between tokens' inputs and outputs.</summary>
    private void Product(GpuWeights w, ArrayView<float> x, ArrayView<float> y, int tokens, int xStride = 0, int yStride = 0)
    {
        var shape = Shape(w, tokens);
        if (xStride > 0) shape.XStride = xStride;
        if (yStride > 0) shape.YStride = yStride;
        _matMul.For(w.Type)(w.Blocks.View, x, y, shape);
    }
}
