using HybridEngine.Kernels;

namespace HybridEngine.Runtime;

/// <summary>The devices of one run: the CPU, always, and the accelerators (an empty list without a GPU).</summary>
public sealed record DeviceSet(CpuDevice Cpu, IReadOnlyList<IComputeDevice> Accelerators)
{
    public static DeviceSet CpuOnly(ComputePool pool, SimdLevel level) => new(new CpuDevice(pool, level), []);

    /// <summary>The device that computes with weights held at <paramref name="location"/>; only the CPU until the executor places weights on an accelerator.</summary>
    public CpuDevice For(TensorLocation location) => location switch
    {
        TensorLocation.MappedFile => Cpu,
        _ => throw new ArgumentOutOfRangeException(nameof(location)),
    };
}
