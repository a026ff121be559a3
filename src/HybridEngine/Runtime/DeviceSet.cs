using HybridEngine.Kernels;

namespace HybridEngine.Runtime;

/// <summary>The devices of one run: the CPU, always, and the accelerators (an empty list without a GPU).</summary>
public sealed record DeviceSet(CpuDevice Cpu, IReadOnlyList<IComputeDevice> Accelerators)
{
    public static DeviceSet CpuOnly(ComputePool pool, SimdLevel level) => new(new CpuDevice(pool, level), []);

    /// <summary>The device that computes with <paramref name="weights"/>: the accelerator holding its upload, else the CPU.</summary>
    public IComputeDevice For(in TensorHandle weights) => weights.DeviceWeights?.Device ?? Cpu;
}
