using HybridEngine.Hardware;

namespace HybridEngine.Tests.Hardware;

/// <summary>A throw-away /proc + /sys tree (files and relative symlinks, as on a real system) for the probe to read.</summary>
internal sealed class FakeSystemTree : IDisposable
{
    public FakeSystemTree() => Root = TestPaths.NewScratchDirectory();

    public string Root { get; }

    public SystemFiles Files => new(Root);

    public FakeSystemTree File(string path, string text)
    {
        string full = Map(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, text);
        return this;
    }

    public FakeSystemTree Folder(string path)
    {
        Directory.CreateDirectory(Map(path));
        return this;
    }

    /// <summary>A symlink at <paramref name="path"/> whose (relative or absolute-in-tree) target is <paramref name="target"/>.</summary>
    public FakeSystemTree Link(string path, string target)
    {
        string full = Map(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string resolvedTarget = target.StartsWith('/') ? Map(target) : target;
        System.IO.File.CreateSymbolicLink(full, resolvedTarget);
        return this;
    }

    private string Map(string path) => Path.Combine(Root, path.TrimStart('/'));

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// A two-socket machine: 2 × 4 cores × 2 threads, two NUMA nodes, 8 GiB in 64 blocks of 128 MiB (one offline block
    /// not counted), the root file system on an NVMe partition, /data on a SATA disk, an Intel iGPU and an NVIDIA card.
    /// </summary>
    public static FakeSystemTree Workstation()
    {
        var tree = new FakeSystemTree();
        var cpuinfo = new System.Text.StringBuilder();
        for (int cpu = 0; cpu < 16; cpu++)
        {
            int socket = cpu / 8, core = cpu % 4;
            cpuinfo.Append($"processor\t: {cpu}\nvendor_id\t: AuthenticAMD\nmodel name\t: Test CPU 9000 8-Core\n");
            cpuinfo.Append($"physical id\t: {socket}\ncore id\t\t: {core}\ncpu MHz\t\t: 1234.5\n");
            cpuinfo.Append("flags\t\t: fpu sse sse2 sse4_1 sse4_2 avx avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16 constant_tsc\n\n");
            string topo = $"/sys/devices/system/cpu/cpu{cpu}/topology/";
            tree.File(topo + "physical_package_id", $"{socket}\n").File(topo + "core_id", $"{core}\n");
        }
        tree.File("/proc/cpuinfo", cpuinfo.ToString())
            .File("/sys/devices/system/cpu/online", "0-15\n")
            .Folder("/sys/devices/system/node/node0").Folder("/sys/devices/system/node/node1").File("/sys/devices/system/node/online", "0-1\n")
            .File("/sys/devices/system/cpu/cpu0/cpufreq/base_frequency", "3000000\n")
            .File("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "5200000\n");
        foreach (var (index, level, type, size, shared) in new[] { (0, 1, "Data", "32K", "0,8"), (1, 1, "Instruction", "32K", "0,8"), (2, 2, "Unified", "1024K", "0,8"), (3, 3, "Unified", "32768K", "0-7") })
        {
            string dir = $"/sys/devices/system/cpu/cpu0/cache/index{index}/";
            tree.File(dir + "level", $"{level}\n").File(dir + "type", type + "\n").File(dir + "size", size + "\n").File(dir + "shared_cpu_list", shared + "\n");
        }

        tree.File("/proc/meminfo", "MemTotal:        8012345 kB\nMemFree:         1000000 kB\nMemAvailable:    6000000 kB\nSwapTotal:       2097152 kB\nSwapFree:        1048576 kB\nHugepagesize:       2048 kB\n")
            .File("/sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never\n")
            .File("/sys/devices/system/memory/block_size_bytes", "8000000\n");
        for (int b = 0; b < 65; b++) tree.File($"/sys/devices/system/memory/memory{b}/online", b == 64 ? "0\n" : "1\n");

        tree.File("/proc/self/mountinfo",
            "22 27 0:21 / /proc rw,relatime - proc proc rw\n" +
            "27 1 259:2 / / rw,relatime - ext4 /dev/nvme0n1p2 rw\n" +
            "30 27 8:1 / /data rw,relatime shared:5 - xfs /dev/sda1 rw\n" +
            "31 27 0:40 / /dev/shm rw - tmpfs tmpfs rw\n");
        const string nvme = "/sys/devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1";
        tree.Folder(nvme + "/nvme0n1p2").File(nvme + "/nvme0n1p2/partition", "2\n")
            .File(nvme + "/queue/rotational", "0\n").File(nvme + "/queue/logical_block_size", "512\n").File(nvme + "/queue/physical_block_size", "4096\n")
            .File("/sys/devices/pci0000:00/0000:00:1d.0/nvme/nvme0/model", "Samsung SSD 980 PRO 1TB                 \n")
            .Link(nvme + "/device", "../../nvme0")
            .Link("/sys/dev/block/259:2", "../../devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1/nvme0n1p2")
            .Link("/sys/block/nvme0n1", "../devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1");
        const string sata = "/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda";
        tree.Folder(sata + "/sda1").File(sata + "/sda1/partition", "1\n").File(sata + "/queue/rotational", "1\n")
            .File("/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/model", "WDC WD40EFRX-68N\n")
            .File("/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/vendor", "ATA     \n")
            .Link(sata + "/device", "../../../0:0:0:0")
            .Link("/sys/dev/block/8:1", "../../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1")
            .Link("/sys/block/sda", "../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda");

        const string igpu = "/sys/devices/pci0000:00/0000:00:02.0", dgpu = "/sys/devices/pci0000:00/0000:01:00.0";
        tree.File(igpu + "/vendor", "0x8086\n").File(igpu + "/device", "0x9a49\n").Folder("/sys/bus/pci/drivers/i915").Link(igpu + "/driver", "../../../bus/pci/drivers/i915")
            .Folder("/sys/class/drm/card0").Link("/sys/class/drm/card0/device", "../../../devices/pci0000:00/0000:00:02.0")
            .File(dgpu + "/vendor", "0x10de\n").File(dgpu + "/device", "0x2684\n").Folder("/sys/bus/pci/drivers/nvidia").Link(dgpu + "/driver", "../../../bus/pci/drivers/nvidia")
            .Folder("/sys/class/drm/card1").Link("/sys/class/drm/card1/device", "../../../devices/pci0000:00/0000:01:00.0")
            .Folder("/sys/class/drm/card1-DP-1")
            .File("/proc/driver/nvidia/gpus/0000:01:00.0/information", "Model: \t\t NVIDIA GeForce RTX 4090\nIRQ: 180\n")
            .File("/etc/os-release", "NAME=\"Test Linux\"\nPRETTY_NAME=\"Test Linux 1.0\"\n")
            .File("/proc/sys/kernel/osrelease", "6.1.0-test\n");
        return tree;
    }
}
