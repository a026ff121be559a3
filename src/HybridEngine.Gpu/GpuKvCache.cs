using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;

namespace HybridEngine.Gpu;

/// <summary>
/// A KV cache in GPU memory, allocated once: per layer one buffer of [context, keyWidth] keys and, unless values alias
/// the keys (valueWidth 0), one of [context, valueWidth] values.
/// </summary>
internal sealed class GpuKvCache : IDeviceKvCache
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _keys;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>?[] _values;

    public GpuKvCache(GpuDevice device, Accelerator accelerator, int layers, int context, int keyWidth, int valueWidth)
    {
        (Device, Layers, Context, KeyWidth, ValueWidth) = (device, layers, context, keyWidth, valueWidth);
        _keys = new MemoryBuffer1D<float, Stride1D.Dense>[layers];
        _values = new MemoryBuffer1D<float, Stride1D.Dense>?[layers];
        try
        {
            for (int l = 0; l < layers; l++)
            {
                // Zeroed so rows not yet written read as 0, like the host cache.
                _keys[l] = accelerator.Allocate1D<float>((long)context * keyWidth);
                _keys[l].MemSetToZero();
                if (valueWidth == 0) continue;
                _values[l] = accelerator.Allocate1D<float>((long)context * valueWidth);
                _values[l]!.MemSetToZero();
            }
            accelerator.Synchronize();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IComputeDevice Device { get; }
    public int Layers { get; }
    public int Context { get; }
    public int KeyWidth { get; }
    public int ValueWidth { get; }
    public long DeviceBytes => (long)Layers * Context * (KeyWidth + ValueWidth) * sizeof(float);

    public MemoryBuffer1D<float, Stride1D.Dense> Keys(int layer) => _keys[layer];

    /// <summary>The layer's values, or its keys when values alias them.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Values(int layer) => _values[layer] ?? _keys[layer];

    public void Dispose()
    {
        foreach (var buffer in _keys) buffer?.Dispose();
        foreach (var buffer in _values) buffer?.Dispose();
    }
}
