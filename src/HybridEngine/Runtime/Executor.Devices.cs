namespace HybridEngine.Runtime;

/// <summary>
/// The executor's accelerator side: KV caches on the devices that run attention, and the fallback to the CPU.
/// <para>
/// A layer's attention runs on the device that holds its output projection (<c>attn_output</c>) when the plan put it on
/// an accelerator and that device has room left for a KV cache of the whole context; its keys and values then live
/// only there. Otherwise the layer attends on the CPU over the host <see cref="KvCache"/>.
/// </para>
/// <para>
/// Fallback: on a <see cref="ComputeDeviceException"/> the placement drops every upload (one warning, CPU-only plan)
/// and the device caches are released. Keys and values held only on a device are not read back (the device may be
/// gone): the tokens of every earlier position are run through the model again on the CPU, which refills the host
/// cache, and then the failed step is redone. When no layer kept its cache on a device the redo alone suffices, as a
/// step rewrites every KV row it touches. Routing counters count the replayed tokens a second time.
/// </para>
/// </summary>
public sealed partial class Executor
{
    private readonly int[] _history;
    private readonly IDeviceKvCache?[] _layerKv;
    private readonly List<IDeviceKvCache> _deviceCaches = [];

    /// <summary>The device KV cache layer <paramref name="layer"/> attends over, or null when it attends on the CPU.</summary>
    public IDeviceKvCache? DeviceCache(int layer) => _layerKv[layer];

    private bool HasDeviceCache => _deviceCaches.Count > 0;

    private void AllocateDeviceCaches(DevicePlacement placement)
    {
        var d = Model.Dimensions;
        long bytes = (long)d.Layers * Context * (d.KeyWidth + d.ValueWidth) * sizeof(float);
        var byDevice = new Dictionary<IComputeDevice, IDeviceKvCache?>();
        try
        {
            for (int layer = 0; layer < d.Layers; layer++)
            {
                if (placement.AttentionDevice(layer) is not { } device) continue;
                if (!byDevice.TryGetValue(device, out var cache))
                {
                    // A cache that does not fit beside the weights leaves attention on the CPU, as the plan budgeted it.
                    cache = placement.FreeBytes(device) >= bytes ? device.AllocateKvCache(d.Layers, Context, d.KeyWidth, d.ValueWidth) : null;
                    if (cache is not null) _deviceCaches.Add(cache);
                    byDevice[device] = cache;
                }
                _layerKv[layer] = cache;
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
        foreach (var cache in _deviceCaches)
        {
            // Freeing on a device that just failed may fail too; its memory goes with the device.
            try { cache.Dispose(); }
            catch (Exception e) when (e is not OutOfMemoryException) { }
        }
        _deviceCaches.Clear();
    }
}
