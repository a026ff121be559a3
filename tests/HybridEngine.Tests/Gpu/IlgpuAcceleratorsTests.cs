using HybridEngine.Gpu;
using HybridEngine.Hardware;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>ILGPU's accelerator list for the hardware probe: GPUs only, never its CPU accelerator.</summary>
public class IlgpuAcceleratorsTests
{
    [Fact]
    public void TheCpuAcceleratorIsNotDescribedAsAGpu()
    {
        using var context = Context.Create(builder => builder.CPU());
        // ILGPU offers several CPU accelerator shapes; none of them is a GPU.
        Assert.NotEmpty(context.Devices);
        Assert.All(context.Devices, d => Assert.Equal(AcceleratorType.CPU, d.AcceleratorType));
        Assert.All(context.Devices, d => Assert.Null(IlgpuAccelerators.Describe(d)));
    }

    [Fact]
    public void EnumerationListsOnlyCudaAndOpenClGpusAndTheProbeKeepsThem()
    {
        var listed = new IlgpuAccelerators().Enumerate();
        Assert.All(listed, a => Assert.Contains(a.Backend, new[] { "cuda", "opencl" }));
        Assert.All(listed, a => Assert.True(a.MemoryBytes > 0, $"{a.Id} reports no memory"));

        var s = new HardwareProbe(accelerators: new IlgpuAccelerators()).Probe(Path.GetTempPath());
        Assert.Equal(AcceleratorProbes.Enumerated, s.AcceleratorProbe);
        // Each accelerator appears on exactly one GPU entry (merged with its /sys adapter where there is one); identical
        // cards share an id, so compare counts per id.
        foreach (var id in listed.Select(a => a.Id).Distinct())
            Assert.Equal(listed.Count(a => a.Id == id), s.Gpus.Count(g => g.Accelerator == id));
    }

    [Fact]
    public void PeakBandwidthIsDoubleDataRateTimesBusWidth()
    {
        // 1313 MHz memory clock on a 5120-bit HBM2 bus (a V100): 2 × 1.313e9 × 640 B = 1680.6 GB/s.
        Assert.Equal(1680.64, IlgpuAccelerators.PeakGBps(1_313_000, 5120)!.Value, 2);
        Assert.Null(IlgpuAccelerators.PeakGBps(0, 5120));
        // The same clock given in MHz (as an H200's CUDA 13 driver gave 3201 for 3201 MHz) reads the same.
        Assert.Equal(1680.64, IlgpuAccelerators.PeakGBps(1_313, 5120)!.Value, 2);
        // H200: 2 × 3.201e9 × 768 B (6144-bit HBM3e bus) = 4916.7 GB/s (NVIDIA quotes 4.8 TB/s).
        Assert.Equal(4916.74, IlgpuAccelerators.PeakGBps(3_201, 6144)!.Value, 2);
    }

    [Fact]
    public void NvidiaOpenClDevicesAreSkippedWhenTheCardIsListedAsCuda()
    {
        var withCuda = GpuDevices.Usable([(AcceleratorType.Cuda, false), (AcceleratorType.OpenCL, true), (AcceleratorType.OpenCL, false)]);
        Assert.Equal([true, false, true], withCuda);
        // Without a CUDA device (no CUDA driver), NVIDIA's OpenCL device is the only way to the card: keep it.
        var withoutCuda = GpuDevices.Usable([(AcceleratorType.OpenCL, true), (AcceleratorType.CPU, false)]);
        Assert.Equal([true, true], withoutCuda);
    }
}
