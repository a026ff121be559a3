using HybridEngine.Gpu;
using HybridEngine.Hardware;
using HybridEngine.Runtime;

namespace HybridEngine.Cli;

/// <summary>
/// This machine as the verbs see it: the hardware probe with ILGPU's accelerators merged in (so every verb computes
/// the same fingerprint), and the GPUs the tuner measures.
/// </summary>
public static class MachineProbe
{
    public static HardwareProbe Create() => new(accelerators: new IlgpuAccelerators());

    /// <summary>Opens every CUDA and OpenCL GPU (never ILGPU's CPU accelerator); each one that fails is a note on <paramref name="error"/>.</summary>
    public static OpenedGpus OpenGpus(TextWriter error)
    {
        var found = GpuDevices.Discover();
        foreach (string warning in found.Warnings) error.WriteLine("note: " + warning);
        return new OpenedGpus(found.Devices);
    }
}

/// <summary>GPUs opened for one tune, disposed together.</summary>
public sealed class OpenedGpus(IReadOnlyList<IComputeDevice> devices) : IDisposable
{
    public IReadOnlyList<IComputeDevice> Devices { get; } = devices;

    public void Dispose()
    {
        foreach (var device in Devices) device.Dispose();
    }
}
