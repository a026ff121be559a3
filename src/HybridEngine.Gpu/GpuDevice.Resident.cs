using HybridEngine.Gpu.Kernels;
using HybridEngine.Kernels;
using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;

namespace HybridEngine.Gpu;

/// <summary>
/// The resident ops (<see cref="IResidentDevice"/>): a whole attention block, and batches of routed experts launched
/// without waiting. Their intermediates stay in scratch slots of their own, so a batch of experts in flight is not
/// disturbed by the ops that run before it is collected.
/// </summary>
public sealed partial class GpuDevice
{
    // Scratch slots: 0 input, 1 output, 2–3 attention partials (or an expert's hidden layer), 4–7 the attention
    // block's q, k, v and attention output, 8–11 the expert batch (input, output, hidden, up), 12 rotary angles,
    // 13–14 the MLA block's absorbed queries and latent attention output (its query latent uses slot 6).
    private const int ScratchSlots = 15;
    private const int SlotQ = 4, SlotK = 5, SlotV = 6, SlotAttention = 7;
    private const int SlotBatchIn = 8, SlotBatchOut = 9, SlotBatchHidden = 10, SlotBatchUp = 11, SlotAngles = 12, SlotAbsorbed = 13, SlotLatent = 14;

    // Small weights the host keeps as float arrays (per-head norms), uploaded on first use and kept.
    private readonly Dictionary<float[], MemoryBuffer1D<float, Stride1D.Dense>> _constants = new(ReferenceEqualityComparer.Instance);
    private ArrayView<float> _batchIn, _batchOut;
    private int _batchRows, _batchWidth, _batchOutputWidth;

    public void AttentionBlock(in GqaDeviceBlock block, IDeviceKvCache cache, int layer, ReadOnlySpan<float> x, int tokens,
        ReadOnlySpan<int> positions, Span<float> y)
    {
        var kv = Own(cache);
        var (wq, wk, wv, wo) = (Own(block.Q), Own(block.K), Own(block.V), Own(block.Output));
        int hd = block.HeadDim, qWidth = block.Heads * hd, kvWidth = block.KvHeads * hd, hidden = wq.RowLength;
        if (wq.Rows != qWidth || wk.Rows != kvWidth || wv.Rows != kvWidth || wo.RowLength != qWidth || wk.RowLength != hidden || wv.RowLength != hidden)
            throw new ArgumentException("the attention block's weights do not match its heads and head size", nameof(block));
        if (kv.KeyWidth != kvWidth || kv.ValueWidth != kvWidth)
            throw new ArgumentException($"the KV cache holds rows of {kv.KeyWidth}/{kv.ValueWidth} values, the block {kvWidth}", nameof(cache));
        if ((uint)layer >= (uint)kv.Layers) throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is outside the cache's {kv.Layers}");
        if (positions.Length < tokens) throw new ArgumentException($"{positions.Length} positions for {tokens} tokens", nameof(positions));
        for (int t = 0; t < tokens; t++)
            if ((uint)positions[t] >= (uint)kv.Context) throw new ArgumentOutOfRangeException(nameof(positions), $"position {positions[t]} is outside the cache's context {kv.Context}");
        CheckLength(x, (long)tokens * hidden, nameof(x));
        CheckLength(y, (long)tokens * wo.Rows, nameof(y));
        int pairs = block.Rope.RotaryDims / 2;
        if (block.Rope.RotaryDims > hd) throw new ArgumentException("the rotated slice does not fit in a head", nameof(block));
        int angleCount = tokens * 2 * pairs;
        if (_angles.Length < angleCount) _angles = new float[angleCount];
        for (int t = 0; t < tokens; t++)
            block.Rope.ComputeRow(positions[t], _angles.AsSpan(t * 2 * pairs, pairs), _angles.AsSpan(t * 2 * pairs + pairs, pairs));
        var layout = new CausalAttention.Layout(block.Heads, block.KvHeads, hd, hd, kvWidth, kvWidth);
        try
        {
            Fault("attention-block");
            var gx = In(0, x[..(tokens * hidden)]);
            var angles = In(SlotAngles, _angles.AsSpan(0, angleCount));
            var gp = Positions(positions[..tokens]);
            var gq = Scratch(SlotQ, (long)tokens * qWidth);
            var gk = Scratch(SlotK, (long)tokens * kvWidth);
            var gv = Scratch(SlotV, (long)tokens * kvWidth);
            var go = Scratch(SlotAttention, (long)tokens * qWidth);
            var gy = Scratch(1, (long)tokens * wo.Rows);
            if (tokens > 0)
            {
                _matMul.For(wq.Type)(wq.Blocks.View, gx, gq, Shape(wq, tokens));
                _matMul.For(wk.Type)(wk.Blocks.View, gx, gk, Shape(wk, tokens));
                _matMul.For(wv.Type)(wv.Blocks.View, gx, gv, Shape(wv, tokens));
                // Per-head norms in place: each warp reads its row before any lane writes it.
                if (block.QNorm is { } qNorm) _rmsNorm(new KernelConfig(tokens * block.Heads, Accelerator.WarpSize), gq, Constant(qNorm), gq, hd, hd, block.HeadNormEps);
                if (block.KNorm is { } kNorm) _rmsNorm(new KernelConfig(tokens * block.KvHeads, Accelerator.WarpSize), gk, Constant(kNorm), gk, hd, hd, block.HeadNormEps);
                if (pairs > 0)
                {
                    bool norm = block.Rope.Mode == RopeMode.Norm;
                    var shape = new RopeShape { HeadStride = hd, Offset = 0, Pairs = pairs, PairStep = norm ? 1 : pairs, PairStride = norm ? 2 : 1 };
                    _rope(new Index2D(tokens * block.Heads, pairs), gq, angles, shape with { Heads = block.Heads });
                    _rope(new Index2D(tokens * block.KvHeads, pairs), gk, angles, shape with { Heads = block.KvHeads });
                }
                StoreRows(gk, kv.Keys(layer).View, positions[..tokens], kvWidth);
                StoreRows(gv, kv.Values(layer).View, positions[..tokens], kvWidth);
                LaunchAttention(kv, layer, gq, gp, positions[..tokens], layout, block.Scale, go);
                _matMul.For(wo.Type)(wo.Blocks.View, go, gy, Shape(wo, tokens));
            }
            Out(gy, y[..(tokens * wo.Rows)]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "attention-block", e); }
    }

    public void BeginExperts(ReadOnlySpan<float> x, int rows, int outputWidth)
    {
        if (rows < 0 || outputWidth <= 0) throw new ArgumentException($"an expert batch needs rows ≥ 0 and an output width > 0, got {rows} and {outputWidth}");
        if (rows > 0 && x.Length % rows != 0) throw new ArgumentException($"{x.Length} input values are not {rows} equal rows", nameof(x));
        try
        {
            Fault("expert-batch");
            _batchRows = rows;
            _batchWidth = rows == 0 ? 0 : x.Length / rows;
            _batchOutputWidth = outputWidth;
            _batchIn = In(SlotBatchIn, x);
            _batchOut = Scratch(SlotBatchOut, (long)rows * outputWidth);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "expert-batch", e); }
    }

    public void QueueExpert(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down, int firstRow, int rows)
    {
        var (g, u, d) = (Own(gate), Own(up), Own(down));
        if (firstRow < 0 || rows < 0 || firstRow + rows > _batchRows)
            throw new ArgumentOutOfRangeException(nameof(rows), $"rows {firstRow}..{firstRow + rows} are outside the batch of {_batchRows}");
        ExpertShape.Check(gate, up, down, rows * _batchWidth, rows, rows * _batchOutputWidth);
        if (g.RowLength != _batchWidth || d.Rows != _batchOutputWidth)
            throw new ArgumentException($"the expert maps {g.RowLength} → {d.Rows} values, the batch {_batchWidth} → {_batchOutputWidth}");
        try
        {
            Fault("expert-batch");
            var gx = _batchIn.SubView((long)firstRow * _batchWidth, (long)rows * _batchWidth);
            var gy = _batchOut.SubView((long)firstRow * _batchOutputWidth, (long)rows * _batchOutputWidth);
            LaunchExpert(g, u, d, gx, rows, gy, SlotBatchHidden, SlotBatchUp);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "expert-batch", e); }
    }

    public void EndExperts(Span<float> y)
    {
        long length = (long)_batchRows * _batchOutputWidth;
        CheckLength(y, length, nameof(y));
        try
        {
            Fault("expert-batch");
            Out(_batchOut, y[..(int)length]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "expert-batch", e); }
    }

    /// <summary>Copies rows [tokens, width] of <paramref name="source"/> to rows positions[t] of <paramref name="cache"/>, one copy per run of consecutive positions, on the device.</summary>
    private static void StoreRows(ArrayView<float> source, ArrayView<float> cache, ReadOnlySpan<int> positions, int width)
    {
        for (int t = 0; t < positions.Length;)
        {
            int run = 1;
            while (t + run < positions.Length && positions[t + run] == positions[t] + run) run++;
            source.SubView((long)t * width, (long)run * width).CopyTo(cache.SubView((long)positions[t] * width, (long)run * width));
            t += run;
        }
    }

    /// <summary>The device copy of a small host weight array, uploaded on first use.</summary>
    private ArrayView<float> Constant(float[] values)
    {
        if (!_constants.TryGetValue(values, out var buffer))
        {
            buffer = Accelerator.Allocate1D(values);
            _constants.Add(values, buffer);
        }
        return buffer.View;
    }
}
