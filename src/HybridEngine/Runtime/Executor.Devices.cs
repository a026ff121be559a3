namespace HybridEngine.Runtime;

/// <summary>
/// The executor's accelerator side: KV caches on the devices that run attention, and the fallback to the CPU.
/// <para>
/// A layer's attention runs on the device that holds its output projection (<c>attn_output</c>) when the plan put it on
/// an accelerator and that device has room left for the KV cache of the whole context of every such layer; their keys
/// and values then live only there (the host cache does not allocate those layers). Otherwise the layer attends on the
/// CPU over the host <see cref="KvCache"/>.
/// </para>
/// <para>
/// Fallback: on a <see cref="ComputeDeviceException"/> the placement drops every upload (one warning, CPU-only plan)
/// and the device caches are released. Keys and values held only on a device are not read back (the device may be
/// gone): the host cache allocates those layers, the tokens of every earlier position are run through the model again on the CPU, which refills the host
/// cache, and then the failed step is redone. When no layer kept its cache on a device the redo alone suffices, as a
/// step rewrites every KV row it touches. Routing counters count the replayed tokens a second time.
/// </para>
/// </summary>
public sealed partial class Executor
{
    private readonly int[] _history;
    private readonly IDeviceKvCache?[] _layerKv;
    private readonly int[] _layerSlot;
    private readonly List<IDeviceKvCache> _deviceCaches = [];

    /// <summary>The device KV cache layer <paramref name="layer"/> attends over, or null when it attends on the CPU.</summary>
    public IDeviceKvCache? DeviceCache(int layer) => _layerKv[layer];

    /// <summary>As <see cref="DeviceCache(int)"/>, with the layer's index inside that cache (it holds only its device's layers).</summary>
    public IDeviceKvCache? DeviceCache(int layer, out int slot)
    {
        slot = _layerSlot[layer];
        return _layerKv[layer];
    }

    private bool HasDeviceCache => _deviceCaches.Count > 0;

    private void AllocateDeviceCaches(DevicePlacement placement)
    {
        var d = Model.Dimensions;
        long perLayer = (long)Context * (d.KeyWidth + d.ValueWidth) * sizeof(float);
        try
        {
            foreach (var group in Enumerable.Range(0, d.Layers).GroupBy(placement.AttentionDevice))
            {
                if (group.Key is not { } device) continue;
                int[] layers = group.ToArray();
                // A cache that does not fit beside the weights leaves attention on the CPU, as the plan budgeted it.
                if (placement.FreeBytes(device) < layers.Length * perLayer) continue;
                var cache = device.AllocateKvCache(layers.Length, Context, d.KeyWidth, d.ValueWidth);
                _deviceCaches.Add(cache);
                for (int i = 0; i < layers.Length; i++) (_layerKv[layers[i]], _layerSlot[layers[i]]) = (cache, i);
            }
        }
        catch (ComputeDeviceException failure)
        {
            DropDeviceCaches();
            placement.FallBack(failure);
        }
    }

    // Everything back to the CPU, then the host KV cache made whole for positions before firstPosition.
    private void FallBack(DevicePlacement placement, ComputeDeviceException failure, int firstPosition)
    {
        bool keysOnDevice = HasDeviceCache;
        DropDeviceCaches();
        placement.FallBack(failure);
        if (!keysOnDevice) return;
        for (int layer = 0; layer < Cache.Layers; layer++) Cache.Allocate(layer);
        for (int done = 0; done < firstPosition; done += State.BatchSize)
        {
            int count = Math.Min(State.BatchSize, firstPosition - done);
            Stage(_history.AsSpan(done, count), done);
            Model.Forward(this, count, allLogits: false);
        }
    }

    private void DropDeviceCaches()
    {
        Array.Clear(_layerKv);
        Array.Clear(_layerSlot);
        foreach (var cache in _deviceCaches)
        {
            // Freeing on a device that just failed may fail too; its memory goes with the device.
            try { cache.Dispose(); }
            catch (Exception e) when (e is not OutOfMemoryException) { }
        }
        _deviceCaches.Clear();
    }
}
