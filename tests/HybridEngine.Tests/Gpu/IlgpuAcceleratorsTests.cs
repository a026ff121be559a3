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
    }
}
