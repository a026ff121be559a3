using System.Globalization;
using HybridEngine.Kernels;
using HybridEngine.Planning;

namespace HybridEngine.Runtime;

/// <summary>The gate, up and down matrices of one routed expert as uploaded to an accelerator.</summary>
public sealed class DeviceExpert(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down)
{
    public IDeviceWeights Gate { get; } = gate;
    public IDeviceWeights Up { get; } = up;
    public IDeviceWeights Down { get; } = down;
}

/// <summary>
/// Carries out the accelerator tiers of a <see cref="Plan"/>: every matrix the plan puts on a dedicated GPU
/// (<see cref="Tier.Gpu"/>: attention, dense FFN, shared experts, output head, hot routed experts) or on an integrated
/// one (<see cref="Tier.IntegratedGpu"/>) is uploaded once, as its raw GGUF blocks, and the weight store's handles
/// point at the copy, so <see cref="Executor.Linear(in TensorHandle, ReadOnlySpan{float}, int, Span{float})"/>
/// computes on the device that holds each weight. A type the device has no kernel for stays on the CPU.
/// <para>
/// Fallback: an upload or kernel failure (<see cref="ComputeDeviceException"/>) releases every upload, reports one
/// warning through the sink, and replaces the plan by the CPU-only one the host recomputes; from then on everything
/// computes on the CPU from the mapping. The executor redoes the failed forward step.
/// </para>
/// </summary>
public sealed class DevicePlacement : IDisposable
{
    private readonly WeightStore _weights;
    private readonly Func<Plan>? _cpuPlan;
    private readonly Action<string>? _warn;
    private readonly List<IDeviceWeights> _uploads = [];
    private readonly List<DeviceSlot> _placedSlots = [];
    private readonly Dictionary<IComputeDevice, long> _used = [];
    private DeviceExpert?[]?[] _experts = [];
    private bool _warned;

    /// <param name="accelerators">The devices discovered for this run (owned by the caller).</param>
    /// <param name="cpuPlan">Recomputes the plan with nothing on a GPU (the planner with cpu-only), for the fallback.</param>
    /// <param name="warn">Where the one fallback warning goes (the CLI prints it to stderr).</param>
    public DevicePlacement(WeightStore weights, IReadOnlyList<IComputeDevice> accelerators, Func<Plan>? cpuPlan = null, Action<string>? warn = null)
    {
        _weights = weights;
        Accelerators = accelerators;
        _cpuPlan = cpuPlan;
        _warn = warn;
    }

    public IReadOnlyList<IComputeDevice> Accelerators { get; }

    /// <summary>The plan in force: the one applied, or the CPU-only one after a fallback.</summary>
    public Plan? Plan { get; private set; }

    /// <summary>True once a device failed and everything went back to the CPU.</summary>
    public bool FellBack { get; private set; }

    /// <summary>Whether any weight is on an accelerator now.</summary>
    public bool Active => _uploads.Count > 0;

    /// <summary>Tensors (or head slices) and routed experts on accelerators, and the bytes they hold there.</summary>
    public int Tensors => _placedSlots.Count;
    public int Experts { get; private set; }
    public long DeviceBytes => _uploads.Sum(u => u.DeviceBytes);

    /// <summary>Weight matrices left on the CPU although the plan put them on a GPU (no kernel for their type).</summary>
    public int KeptOnCpu { get; private set; }

    /// <summary>The accelerator copy of routed expert (layer, expert), or null when it computes on the CPU.</summary>
    public DeviceExpert? Expert(int layer, int expert) =>
        (uint)layer < (uint)_experts.Length && _experts[layer] is { } row ? row[expert] : null;

    /// <summary>
    /// The accelerator that runs layer <paramref name="layer"/>'s attention: the one holding its output projection
    /// (attn_output, which every architecture has), or null when the layer attends on the CPU.
    /// </summary>
    public IComputeDevice? AttentionDevice(int layer) =>
        _weights.SlotsOf($"blk.{layer}.attn_output.weight") is [{ Weights: { } w }, ..] ? w.Device : null;

    /// <summary>Device memory not yet taken by this placement's uploads (for a KV cache beside the weights).</summary>
    public long FreeBytes(IComputeDevice device) => device.MemoryBytes - _used.GetValueOrDefault(device);

    /// <summary>
    /// Uploads what <paramref name="plan"/> puts on accelerators. A plan that asks for a GPU this run does not have, or
    /// an upload that fails (out of memory), falls back to the CPU with one warning.
    /// </summary>
    public void Apply(Plan plan)
    {
        Release();
        Plan = plan;
        var dedicated = Accelerators.Where(d => d.Kind == DeviceKind.DiscreteGpu).ToList();
        var integrated = Accelerators.FirstOrDefault(d => d.Kind == DeviceKind.IntegratedGpu);
        bool wantsDedicated = plan.Tensors.Any(t => t.Tier == Tier.Gpu) || plan.Experts.Any(l => l.Gpu.Length > 0);
        if (wantsDedicated && dedicated.Count == 0)
        {
            FallBack("the plan puts weights on a GPU, but none could be initialised");
            return;
        }
        try
        {
            foreach (var t in plan.Tensors)
            {
                var device = t.Tier switch
                {
                    Tier.Gpu => Pick(dedicated, t.Bytes),
                    // Without an integrated device the CPU computes from the same RAM the plan budgeted.
                    Tier.IntegratedGpu => integrated,
                    _ => null,
                };
                if (device is null) continue;
                var slots = _weights.SlotsOf(t.Name);
                if (IsHeadStack(slots) && device.Supports(slots[0].Matrix.Type))
                {
                    // Per-head slabs of one tensor (MLA's k_b, v_b) go up together, so the device may stack them.
                    var heads = UploadHeads(device, slots[0].Matrix, slots.Count);
                    for (int h = 0; h < slots.Count; h++) slots[h].Weights = heads[h];
                    _placedSlots.AddRange(slots);
                    continue;
                }
                foreach (var slot in slots)
                {
                    if (slot.Weights is not null) continue;
                    if (!device.Supports(slot.Matrix.Type)) { KeptOnCpu++; continue; }
                    slot.Weights = Upload(device, slot.Matrix);
                    _placedSlots.Add(slot);
                }
            }
            int layers = plan.Experts.Select(l => l.Layer + 1).DefaultIfEmpty(0).Max();
            _experts = new DeviceExpert?[]?[layers];
            foreach (var layer in plan.Experts)
            {
                if (layer.Gpu.Length == 0 || !_weights.HasExperts(layer.Layer)) continue;
                var row = _experts[layer.Layer] = new DeviceExpert?[_weights.ExpertLayers.First(l => l.Layer == layer.Layer).Experts];
                foreach (int e in layer.Gpu)
                {
                    var w = _weights.MappedExpert(layer.Layer, e);
                    var device = Pick(dedicated, w.Gate.TotalBytes + w.Up.TotalBytes + w.Down.TotalBytes);
                    if (!device.Supports(w.Gate.Type) || !device.Supports(w.Up.Type) || !device.Supports(w.Down.Type)) { KeptOnCpu++; continue; }
                    row[e] = new DeviceExpert(Upload(device, w.Gate), Upload(device, w.Up), Upload(device, w.Down));
                    Experts++;
                }
            }
        }
        catch (ComputeDeviceException e)
        {
            FallBack(e);
        }
    }

    /// <summary>A device op failed: everything goes back to the CPU under a recomputed CPU-only plan, with one warning.</summary>
    public void FallBack(ComputeDeviceException failure) => FallBack(failure.Message);

    private void FallBack(string reason)
    {
        Release();
        FellBack = true;
        string outcome = "";
        if (_cpuPlan is not null)
        {
            try
            {
                Plan = _cpuPlan();
                outcome = string.Create(CultureInfo.InvariantCulture, $" (the CPU-only plan predicts {Plan.Prediction.DecodeTokensPerSecond:F2} tok/s)");
            }
            catch (PlanRefusedException refused)
            {
                // The mapping still holds every weight, so the run can go on; it just no longer fits the budgets.
                outcome = $", over the budgets ({refused.Message})";
            }
        }
        if (_warned) return;
        _warned = true;
        _warn?.Invoke($"{reason}; continuing on the CPU{outcome}");
    }

    /// <summary>Drops every upload: the handles compute from the mapping again.</summary>
    public void Release()
    {
        foreach (var slot in _placedSlots) slot.Weights = null;
        _placedSlots.Clear();
        _experts = [];
        Experts = 0;
        foreach (var upload in _uploads)
        {
            // Freeing on a device that just failed may fail too; the memory goes with the device.
            try { upload.Dispose(); }
            catch (Exception e) when (e is not OutOfMemoryException) { }
        }
        _uploads.Clear();
        _used.Clear();
    }

    public void Dispose() => Release();

    private IDeviceWeights Upload(IComputeDevice device, in WeightMatrix matrix)
    {
        var upload = device.Upload(matrix);
        _uploads.Add(upload);
        _used[device] = _used.GetValueOrDefault(device) + matrix.TotalBytes;
        return upload;
    }

    private IDeviceWeights[] UploadHeads(IComputeDevice device, in WeightMatrix first, int heads)
    {
        var uploads = device.UploadHeads(first, heads);
        _uploads.AddRange(uploads);
        _used[device] = _used.GetValueOrDefault(device) + heads * first.TotalBytes;
        return uploads;
    }

    // Several slots of one tensor, none placed yet, of one shape and lying back to back: a 3-D tensor's heads.
    private static unsafe bool IsHeadStack(IReadOnlyList<DeviceSlot> slots)
    {
        if (slots.Count < 2) return false;
        var first = slots[0].Matrix;
        for (int h = 0; h < slots.Count; h++)
        {
            var m = slots[h].Matrix;
            if (slots[h].Weights is not null || m.Type != first.Type || m.Rows != first.Rows || m.RowLength != first.RowLength
                || m.Data != first.Data + h * first.TotalBytes)
                return false;
        }
        return true;
    }

    // The first dedicated GPU with room left for the bytes; the first one when none has (its upload then fails).
    private IComputeDevice Pick(List<IComputeDevice> devices, long bytes) =>
        devices.FirstOrDefault(d => _used.GetValueOrDefault(d) + bytes <= d.MemoryBytes) ?? devices[0];
}
