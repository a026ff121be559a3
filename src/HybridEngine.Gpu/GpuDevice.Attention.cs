using HybridEngine.Gpu.Kernels;
using HybridEngine.Kernels;
using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;

namespace HybridEngine.Gpu;

/// <summary>The KV cache and attention ops: the cache stays in device memory; only new rows, queries and outputs cross the bus.</summary>
public sealed partial class GpuDevice
{
    private MemoryBuffer1D<int, Stride1D.Dense>? _positions;

    public IDeviceKvCache AllocateKvCache(int layers, int context, int keyWidth, int valueWidth)
    {
        DeviceKvChecks.Allocation(layers, context, keyWidth, valueWidth);
        return Guard("kv-allocate", () => new GpuKvCache(this, Accelerator, layers, context, keyWidth, valueWidth));
    }

    public void WriteKv(IDeviceKvCache cache, int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, ReadOnlySpan<int> positions)
    {
        var kv = Own(cache);
        int tokens = DeviceKvChecks.Write(cache, layer, keys, values, positions);
        int kw = kv.KeyWidth, vw = kv.ValueWidth;
        try
        {
            Fault("kv-write");
            ArrayView<float> keyView = kv.Keys(layer).View;
            ArrayView<float> valueView = kv.Values(layer).View;
            // Consecutive positions (a prefill chunk, a decode step) go across as one copy per run of rows.
            for (int t = 0; t < tokens;)
            {
                int run = 1;
                while (t + run < tokens && positions[t + run] == positions[t] + run) run++;
                long at = positions[t];
                keyView.SubView(at * kw, (long)run * kw).CopyFromCPU(keys.Slice(t * kw, run * kw));
                Transfers.AddToDevice((long)run * kw * sizeof(float));
                if (vw > 0)
                {
                    valueView.SubView(at * vw, (long)run * vw).CopyFromCPU(values.Slice(t * vw, run * vw));
                    Transfers.AddToDevice((long)run * vw * sizeof(float));
                }
                t += run;
            }
            // No context synchronisation: each copy from a host span already waits for the default stream.
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "kv-write", e); }
    }

    public void Attention(IDeviceKvCache cache, int layer, ReadOnlySpan<float> queries, int tokens, ReadOnlySpan<int> positions,
        in CausalAttention.Layout layout, float scale, Span<float> output)
    {
        var kv = Own(cache);
        DeviceKvChecks.Attention(cache, layer, queries, tokens, positions, layout, output);
        int inLength = tokens * layout.Heads * layout.KeyDim, outLength = tokens * layout.Heads * layout.ValueDim;
        try
        {
            Fault("attention");
            var gq = In(0, queries[..inLength]);
            var go = Scratch(1, outLength);
            var gp = Positions(positions[..tokens]);
            LaunchAttention(kv, layer, gq, gp, positions[..tokens], layout, scale, go);
            Out(go, output[..outLength]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "attention", e); }
    }

    /// <summary>Queues attention of queries <paramref name="gq"/> over the cache's layer into <paramref name="go"/> (scratch slots 2 and 3).</summary>
    private void LaunchAttention(GpuKvCache kv, int layer, ArrayView<float> gq, ArrayView<int> gp, ReadOnlySpan<int> positions,
        in CausalAttention.Layout layout, float scale, ArrayView<float> go)
    {
        int tokens = positions.Length;
        int longest = 0;
        for (int t = 0; t < tokens; t++) longest = Math.Max(longest, positions[t] + 1);
        int groups = tokens * layout.Heads;
        int chunks = Chunks(groups, longest);
        var shape = new AttentionShape
        {
            Heads = layout.Heads, Group = layout.Heads / layout.KvHeads, KeyDim = layout.KeyDim, ValueDim = layout.ValueDim,
            KeyStride = layout.KeyStride, ValueStride = layout.ValueStride, Scale = scale,
            Chunks = chunks, ChunkLength = (longest + chunks - 1) / Math.Max(chunks, 1),
        };
        // With one chunk the partial and stats views are unused; slots 2 and 3 are free scratch between ops.
        var partial = Scratch(2, chunks > 1 ? (long)groups * chunks * layout.ValueDim : 1);
        var stats = Scratch(3, chunks > 1 ? 2L * groups * chunks : 1);
        if (tokens == 0) return;
        _attention(new KernelConfig(groups * chunks, Accelerator.WarpSize), gq, kv.Keys(layer).View, kv.Values(layer).View, gp, go,
            partial, stats, shape);
        if (chunks > 1) _attentionMerge(new KernelConfig(groups, Accelerator.WarpSize), partial, stats, go, chunks, layout.ValueDim);
    }

    /// <summary>Test hook: positions per chunk instead of the automatic split (0 = automatic).</summary>
    internal int AttentionChunkLength { get; set; }

    /// <summary>
    /// Splits each (token, head) over position chunks when there are too few of them to fill the device (decode):
    /// aims at 8 warps per multiprocessor, with chunks of at least 32 positions so the merge stays cheap.
    /// </summary>
    private int Chunks(int groups, int longest)
    {
        if (groups == 0 || longest == 0) return 1;
        if (AttentionChunkLength > 0) return (longest + AttentionChunkLength - 1) / AttentionChunkLength;
        int target = 8 * Math.Max(1, Accelerator.NumMultiprocessors);
        int wanted = (target + groups - 1) / groups;
        return Math.Clamp(Math.Min(wanted, (longest + 31) / 32), 1, 1024);
    }

    private GpuKvCache Own(IDeviceKvCache cache) =>
        cache as GpuKvCache is { } c && ReferenceEquals(c.Device, this)
            ? c : throw new ArgumentException("the KV cache belongs to another device", nameof(cache));

    /// <summary>Copies the positions into their own scratch buffer (grown once) and returns the filled view.</summary>
    private ArrayView<int> Positions(ReadOnlySpan<int> positions)
    {
        if (_positions is null || _positions.Length < positions.Length)
        {
            _positions?.Dispose();
            _positions = Accelerator.Allocate1D<int>(Math.Max(64, 2 * (long)positions.Length));
        }
        ArrayView<int> view = _positions.View;
        view = view.SubView(0, positions.Length);
        if (positions.Length > 0)
        {
            view.CopyFromCPU(positions);
            Transfers.AddToDevice((long)positions.Length * sizeof(int));
        }
        return view;
    }
}
