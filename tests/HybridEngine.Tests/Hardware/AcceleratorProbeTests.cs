using HybridEngine.Hardware;
using Xunit;

namespace HybridEngine.Tests.Hardware;

/// <summary>
/// GPU runtime accelerators merged with the /sys adapters: one entry per card, the runtime's figures on it, a hint on
/// an adapter no runtime drives, and a failing runtime never failing the probe.
/// </summary>
public class AcceleratorProbeTests
{
    private sealed class Listed(params AcceleratorInfo[] accelerators) : IAcceleratorEnumerator
    {
        public IReadOnlyList<AcceleratorInfo> Enumerate() => accelerators;
    }

    private sealed class Broken : IAcceleratorEnumerator
    {
        public IReadOnlyList<AcceleratorInfo> Enumerate() => throw new DllNotFoundException("libcuda.so.1: cannot open shared object file");
    }

    // The workstation tree's RTX 4090 sits at 0000:01:00.0, its Intel iGPU at 0000:00:02.0.
    private static readonly AcceleratorInfo Rtx = new("cuda:NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090", "cuda", "0x10de",
        "0000:01:00.0", 24L << 30, null, 128, 1008);

    /// <summary>Both runtime libraries load and an OpenCL vendor file exists, so only the enumeration decides.</summary>
    private static FakeSystemTree Tree() => FakeSystemTree.Workstation().File("/etc/OpenCL/vendors/intel.icd", "libigdrcl.so\n");

    private static HardwareSnapshot Probe(FakeSystemTree tree, IAcceleratorEnumerator? accelerators) =>
        new HardwareProbe(tree.Files, _ => true, accelerators: accelerators).Probe("/");

    [Fact]
    public void CudaAcceleratorMergesWithTheDrmDeviceAtItsPciAddress()
    {
        using var tree = Tree();
        var s = Probe(tree, new Listed(Rtx));

        Assert.Equal(AcceleratorProbes.Enumerated, s.AcceleratorProbe);
        Assert.Equal(2, s.Gpus.Length);   // the card once, not once from /sys and once from CUDA
        var nvidia = s.Gpus.Single(g => g.VendorId == "0x10de");
        Assert.Equal("NVIDIA GeForce RTX 4090", nvidia.Name);
        Assert.Equal("0x2684", nvidia.DeviceId);           // identity from /sys
        Assert.Equal("nvidia", nvidia.Driver);
        Assert.Equal(24L << 30, nvidia.MemoryBytes);        // figures from the runtime
        Assert.Equal(128, nvidia.ComputeUnits);
        Assert.Equal(1008, nvidia.PeakBandwidthGBps);
        Assert.Equal("cuda", nvidia.Runtime);
        Assert.Equal(Rtx.Id, nvidia.Accelerator);
        Assert.Equal("", nvidia.Hint);

        // The iGPU has an OpenCL library but the runtime did not list it: ILGPU cannot use it, and the hint says why.
        var intel = s.Gpus.Single(g => g.VendorId == "0x8086");
        Assert.Equal("none", intel.Runtime);
        Assert.Null(intel.Accelerator);
        Assert.Contains("OpenCL 2.0 with generic address space", intel.Hint);
    }

    [Fact]
    public void OpenClAcceleratorWithoutAddressPairsWithTheAdapterOfItsVendor()
    {
        using var tree = Tree();
        var iris = new AcceleratorInfo("opencl:Intel(R) Iris(R) Xe Graphics", "Intel(R) Iris(R) Xe Graphics", "opencl", "0x8086", null, 12L << 30, true, 96, null);
        var s = Probe(tree, new Listed(iris, Rtx));

        Assert.Equal(2, s.Gpus.Length);
        var intel = s.Gpus.Single(g => g.VendorId == "0x8086");
        Assert.Equal("opencl", intel.Runtime);
        Assert.Equal(iris.Id, intel.Accelerator);
        Assert.Equal(96, intel.ComputeUnits);
        Assert.True(intel.Integrated);
        Assert.Equal("i915", intel.Driver);
    }

    [Fact]
    public void ACardSeenByCudaAndOpenClIsListedOnceAsCuda()
    {
        // NVIDIA's OpenCL driver lists the card a second time (after CUDA in ILGPU's order or before it).
        var viaOpenCl = new AcceleratorInfo("opencl:NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090", "opencl", "0x10de", null, 24L << 30, null, 128, null);
        using var tree = Tree();
        foreach (var order in new[] { new[] { viaOpenCl, Rtx }, new[] { Rtx, viaOpenCl } })
        {
            var nvidia = Assert.Single(Probe(tree, new Listed(order)).Gpus, g => g.VendorId == "0x10de");
            Assert.Equal("cuda", nvidia.Runtime);
        }
        using var container = new FakeSystemTree();
        var alone = Assert.Single(new HardwareProbe(container.Files, _ => false, accelerators: new Listed(viaOpenCl, Rtx)).Probe("/").Gpus);
        Assert.Equal("cuda", alone.Runtime);
    }

    [Fact]
    public void AcceleratorWithoutAnAdapterStandsAloneAndCpuBackendsAreNotGpus()
    {
        using var tree = new FakeSystemTree();   // a container: no /sys/class/drm
        var cpu = new AcceleratorInfo("cpu:CPUAccelerator", "CPUAccelerator", "cpu", "unknown", null, 8L << 30, true, 2, null);
        var s = new HardwareProbe(tree.Files, _ => false, accelerators: new Listed(cpu, Rtx)).Probe("/");

        var gpu = Assert.Single(s.Gpus);
        Assert.Equal("NVIDIA GeForce RTX 4090", gpu.Name);
        Assert.Equal("NVIDIA", gpu.Vendor);
        Assert.Equal(HardwareSnapshot.Unknown, gpu.DeviceId);
        Assert.Equal(24L << 30, gpu.MemoryBytes);
        Assert.Equal("cuda", gpu.Runtime);
        // The fingerprint names the GPU model and its memory.
        Assert.Contains("gpu.0=0x10de|unknown|NVIDIA GeForce RTX 4090|24", HardwareFingerprint.CanonicalText(s));
    }

    [Fact]
    public void RuntimeMemoryEntersTheFingerprint()
    {
        // /sys gives no VRAM size for NVIDIA cards; the runtime's does, so the identity (and fingerprint) includes it.
        using var tree = Tree();
        var sysOnly = Probe(tree, null);
        var merged = Probe(tree, new Listed(Rtx));
        Assert.Null(sysOnly.Gpus.Single(g => g.VendorId == "0x10de").MemoryBytes);
        Assert.Contains("|NVIDIA GeForce RTX 4090|24\n", HardwareFingerprint.CanonicalText(merged));
        Assert.NotEqual(HardwareFingerprint.Compute(sysOnly), HardwareFingerprint.Compute(merged));
        Assert.Equal(HardwareFingerprint.Compute(merged), HardwareFingerprint.Compute(Probe(tree, new Listed(Rtx))));
    }

    [Fact]
    public void ThrowingRuntimeLeavesTheSysAdaptersAndSaysUnknown()
    {
        using var tree = Tree();
        var sysOnly = Probe(tree, null);
        var s = Probe(tree, new Broken());

        Assert.StartsWith(HardwareSnapshot.Unknown + ":", s.AcceleratorProbe);
        Assert.Contains("libcuda.so.1", s.AcceleratorProbe);
        Assert.Equal(AcceleratorProbes.NotRun, sysOnly.AcceleratorProbe);
        Assert.Equal(sysOnly.Gpus.ToArray(), s.Gpus.ToArray());   // untouched: the library checks stand, nothing is invented
        Assert.Null(s.Gpus.Single(g => g.VendorId == "0x10de").MemoryBytes);
    }
}
