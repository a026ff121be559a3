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
                if (vw > 0) valueView.SubView(at * vw, (long)run * vw).CopyFromCPU(values.Slice(t * vw, run * vw));
                t += run;
            }
            Accelerator.Synchronize();
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "kv-write", e); }
    }

    public void Attention(IDeviceKvCache cache, int layer, ReadOnlySpan<float> queries, int tokens, ReadOnlySpan<int> positions,
        in CausalAttention.Layout layout, float scale, Span<float> output)
    {
        var kv = Own(cache);
        DeviceKvChecks.Attention(cache, layer, queries, tokens, positions, layout, output);
        int inLength = tokens * layout.Heads * layout.KeyDim, outLength = tokens * layout.Heads * layout.ValueDim;
        var shape = new AttentionShape
        {
            Heads = layout.Heads, Group = layout.Heads / layout.KvHeads, KeyDim = layout.KeyDim, ValueDim = layout.ValueDim,
            KeyStride = layout.KeyStride, ValueStride = layout.ValueStride, Scale = scale,
        };
        try
        {
            Fault("attention");
            var gq = In(0, queries[..inLength]);
            var go = Scratch(1, outLength);
            var gp = Positions(positions[..tokens]);
            if (tokens > 0)
                _attention(new KernelConfig(tokens * layout.Heads, Accelerator.WarpSize), gq, kv.Keys(layer).View, kv.Values(layer).View, gp, go, shape);
            Out(go, output[..outLength]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "attention", e); }
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
        if (positions.Length > 0) view.CopyFromCPU(positions);
        return view;
    }
}
