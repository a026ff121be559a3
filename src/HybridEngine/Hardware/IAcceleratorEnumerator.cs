namespace HybridEngine.Hardware;

/// <summary>
/// A GPU as a compute runtime (ILGPU's CUDA or OpenCL backend) reports it. <paramref name="Id"/> is the name the
/// compute device carries (<c>backend:name</c>), which ties tuner measurements to the probed GPU.
/// </summary>
/// <param name="Backend">cuda or opencl; anything else (a CPU accelerator) is never taken for a GPU.</param>
/// <param name="VendorId">PCI vendor id (0x10de, 0x1002, 0x8086) or unknown.</param>
/// <param name="PciAddress">domain:bus:device.function as sysfs names it (0000:01:00.0), or null where the runtime does not say.</param>
/// <param name="Integrated">Whether it computes from system RAM, or null where the runtime does not say.</param>
/// <param name="ComputeUnits">Streaming multiprocessors (CUDA) or compute units (OpenCL).</param>
/// <param name="PeakBandwidthGBps">Theoretical memory bandwidth from the driver's memory clock and bus width, 10⁹ B/s; null where unknown.</param>
public sealed record AcceleratorInfo(
    string Id,
    string Name,
    string Backend,
    string VendorId,
    string? PciAddress,
    long MemoryBytes,
    bool? Integrated,
    int? ComputeUnits,
    double? PeakBandwidthGBps);

/// <summary>
/// Lists the GPUs a compute runtime can drive. The engine has no GPU runtime of its own: the GPU backend implements
/// this and the host hands it to <see cref="HardwareProbe"/>. It may throw (missing or broken driver); the probe then
/// reports the accelerators as unknown and keeps what /sys says.
/// </summary>
public interface IAcceleratorEnumerator
{
    IReadOnlyList<AcceleratorInfo> Enumerate();
}
