using HybridEngine.Hardware;
using Xunit;

namespace HybridEngine.Tests.Hardware;

/// <summary>The probe on fake /proc + /sys trees (every fact read, unknown where missing) and on this machine.</summary>
public class HardwareProbeTests
{
    private static readonly Func<string, bool> OnlyCuda = lib => lib == "libcuda.so.1";

    [Fact]
    public void FakeWorkstationTreeIsReadFactByFact()
    {
        using var tree = FakeSystemTree.Workstation();
        var s = new HardwareProbe(tree.Files, OnlyCuda).Probe("/data/models");

        Assert.Equal("AuthenticAMD", s.Cpu.Vendor);
        Assert.Equal("Test CPU 9000 8-Core", s.Cpu.Model);
        Assert.Equal(16, s.Cpu.LogicalCores);
        Assert.Equal(8, s.Cpu.PhysicalCores);   // 2 packages × core ids 0..3
        Assert.Equal(2, s.Cpu.Sockets);
        Assert.True(s.Cpu.Smt);
        Assert.Equal(2, s.Cpu.NumaNodes);
        Assert.Equal(3000, s.Cpu.BaseMhz);
        Assert.Equal(5200, s.Cpu.MaxMhz);
        Assert.Equal(["avx", "avx2", "avx512bf16", "avx512bw", "avx512f", "avx512vl", "avx512vnni", "f16c", "fma", "sse4.2"], s.Cpu.InstructionSets.ToArray());
        Assert.Equal(4, s.Cpu.Caches.Length);
        var l3 = Assert.Single(s.Cpu.Caches, c => c.Level == 3);
        Assert.Equal(32L << 20, l3.SizeBytes);
        Assert.Equal(8, l3.SharedByLogicalCpus);
        Assert.Equal(32L << 10, s.Cpu.Caches.Single(c => c.Level == 1 && c.Type == "data").SizeBytes);

        Assert.Equal(64 * (128L << 20), s.Memory.InstalledBytes);   // the offline 65th block is not counted
        Assert.Equal(8012345L * 1024, s.Memory.TotalBytes);
        Assert.Equal(6000000L * 1024, s.Memory.AvailableBytes);
        Assert.Equal(2097152L * 1024, s.Memory.SwapTotalBytes);
        Assert.Equal(1048576L * 1024, s.Memory.SwapFreeBytes);
        Assert.Equal(2048L * 1024, s.Memory.HugePageSize);
        Assert.Equal("always", s.Memory.TransparentHugePages);

        Assert.Equal("/data", s.Disk.MountPoint);
        Assert.Equal("xfs", s.Disk.FileSystem);
        Assert.Equal("sda", s.Disk.Device);
        Assert.Equal("WDC WD40EFRX-68N", s.Disk.Model);
        Assert.Equal(DiskKinds.Hdd, s.Disk.Kind);
        Assert.True(s.Disk.Rotational);

        Assert.Equal(2, s.Gpus.Length);
        var intel = s.Gpus.Single(g => g.VendorId == "0x8086");
        Assert.Equal("i915", intel.Driver);
        Assert.True(intel.Integrated);
        Assert.Equal("none", intel.Runtime);
        Assert.Contains("OpenCL", intel.Hint);
        var nvidia = s.Gpus.Single(g => g.VendorId == "0x10de");
        Assert.Equal("NVIDIA GeForce RTX 4090", nvidia.Name);
        Assert.Equal("0x2684", nvidia.DeviceId);
        Assert.Equal("nvidia", nvidia.Driver);
        Assert.False(nvidia.Integrated);
        Assert.Equal("cuda", nvidia.Runtime);

        Assert.Equal("Test Linux 1.0", s.Os.Description);
        Assert.Equal("6.1.0-test", s.Os.Kernel);
    }

    [Fact]
    public void RootMountFollowsThePartitionToItsNvmeDisk()
    {
        using var tree = FakeSystemTree.Workstation();
        var disk = new HardwareProbe(tree.Files, OnlyCuda).Probe("/home/models").Disk;
        Assert.Equal("/", disk.MountPoint);
        Assert.Equal("nvme0n1", disk.Device);
        Assert.Equal("Samsung SSD 980 PRO 1TB", disk.Model);
        Assert.Equal(DiskKinds.Nvme, disk.Kind);
        Assert.False(disk.Rotational);
        Assert.Equal(512, disk.LogicalBlockSize);
        Assert.Equal(4096, disk.PhysicalBlockSize);

        var shm = new HardwareProbe(tree.Files, OnlyCuda).Probe("/dev/shm/x").Disk;
        Assert.Equal(DiskKinds.Ram, shm.Kind);
        Assert.Equal("tmpfs", shm.FileSystem);
    }

    [Fact]
    public void WithoutCudaTheNvidiaCardSaysWhatToInstall()
    {
        using var tree = FakeSystemTree.Workstation();
        var nvidia = new HardwareProbe(tree.Files, _ => false).Probe("/").Gpus.Single(g => g.Vendor == "NVIDIA");
        Assert.Equal("none", nvidia.Runtime);
        Assert.Contains("libcuda", nvidia.Hint);
    }

    [Fact]
    public void EmptyTreeDegradesToUnknownWithoutThrowing()
    {
        using var tree = new FakeSystemTree();
        var s = new HardwareProbe(tree.Files, _ => false).Probe("/models");
        Assert.Equal(HardwareSnapshot.Unknown, s.Cpu.Vendor);
        Assert.Equal(HardwareSnapshot.Unknown, s.Cpu.Model);
        Assert.Null(s.Cpu.PhysicalCores);
        Assert.Null(s.Cpu.Sockets);
        Assert.Null(s.Cpu.Smt);
        Assert.Null(s.Cpu.NumaNodes);
        Assert.Null(s.Cpu.BaseMhz);
        Assert.Empty(s.Cpu.Caches);
        Assert.Equal(Environment.ProcessorCount, s.Cpu.LogicalCores);
        // No cpuinfo flags: the instruction sets fall back to what .NET detects.
        Assert.Equal(s.Cpu.RuntimeInstructionSets, s.Cpu.InstructionSets);
        Assert.Null(s.Memory.TotalBytes);
        Assert.Null(s.Memory.AvailableBytes);
        Assert.True(s.Memory.InstalledBytes > 0);
        Assert.Equal(HardwareSnapshot.Unknown, s.Memory.TransparentHugePages);
        Assert.Equal(DiskKinds.Unknown, s.Disk.Kind);
        Assert.Equal(HardwareSnapshot.Unknown, s.Disk.Device);
        Assert.Empty(s.Gpus);
        Assert.Equal(HardwareSnapshot.Unknown, s.Os.Kernel);
    }

    [Fact]
    public void MissingSysfsFallsBackToCpuInfoTopologyAndMemTotal()
    {
        using var tree = new FakeSystemTree();
        tree.File("/proc/cpuinfo", "processor : 0\nvendor_id : GenuineIntel\nmodel name : X\nphysical id : 0\ncore id : 0\nflags : avx2 fma\n\n" +
                                   "processor : 1\nvendor_id : GenuineIntel\nmodel name : X\nphysical id : 0\ncore id : 0\nflags : avx2 fma\n\n" +
                                   "processor : 2\nvendor_id : GenuineIntel\nmodel name : X\nphysical id : 0\ncore id : 1\nflags : avx2 fma\n")
            .File("/proc/meminfo", "MemTotal: 15900000 kB\n");
        var s = new HardwareProbe(tree.Files, _ => false).Probe("/");
        Assert.Equal(3, s.Cpu.LogicalCores);
        Assert.Equal(2, s.Cpu.PhysicalCores);
        Assert.True(s.Cpu.Smt);
        Assert.Equal(["avx2", "fma"], s.Cpu.InstructionSets.ToArray());
        // 15.16 GiB of MemTotal: installed is taken as the next whole GiB.
        Assert.Equal(16L << 30, s.Memory.InstalledBytes);
    }

    [Fact]
    public void ArmCpuInfoNamesNeonDotprodAndSve()
    {
        using var tree = new FakeSystemTree();
        tree.File("/proc/cpuinfo", "processor : 0\nBogoMIPS : 50.00\nFeatures : fp asimd asimddp sve i8mm\nCPU implementer : 0x41\nCPU part : 0xd40\n\n" +
                                   "processor : 1\nFeatures : fp asimd asimddp sve i8mm\nCPU implementer : 0x41\nCPU part : 0xd40\n");
        var cpu = new HardwareProbe(tree.Files, _ => false).Probe("/").Cpu;
        Assert.Equal("ARM", cpu.Vendor);
        Assert.Equal("0x41:0xd40", cpu.Model);
        Assert.Equal(["dotprod", "i8mm", "neon", "sve"], cpu.InstructionSets.ToArray());
    }

    [Fact]
    public void ThisMachineProbesWithoutFailing()
    {
        var s = new HardwareProbe().Probe(Path.GetTempPath());
        Assert.True(s.Cpu.LogicalCores >= 1);
        Assert.True(s.Cpu.AvailableProcessors >= 1);
        Assert.True(s.Memory.InstalledBytes >= (s.Memory.TotalBytes ?? 0));
        Assert.True(s.Memory.PageSize >= 4096);
        Assert.False(string.IsNullOrEmpty(s.Cpu.SimdPath));
        Assert.All(s.Gpus, g => Assert.Contains(g.Runtime, new[] { "none", "cuda", "opencl" }));
    }
}
