using System.Globalization;

namespace HybridEngine.Hardware;

/// <summary>
/// Display and compute adapters from /sys/class/drm (and /proc/driver/nvidia for GPUs without a DRM node), named from
/// the NVIDIA driver or the PCI id database, with the ILGPU runtime library each would need and a hint when it is
/// missing. The accelerators a GPU runtime lists are merged in by <see cref="GpuMerge"/>.
/// </summary>
internal static class GpuProbe
{
    public const string Nvidia = "0x10de", Amd = "0x1002", Intel = "0x8086";

    /// <summary>Each adapter with its PCI address (the last component of its sysfs device path, e.g. 0000:01:00.0).</summary>
    public static List<(string Address, GpuInfo Gpu)> Probe(ISystemFiles files, Func<string, bool> libraryAvailable)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var gpus = new List<(string, GpuInfo)>();
        foreach (string card in files.List("/sys/class/drm").Where(IsCard))
        {
            string? device = files.ResolveLink($"/sys/class/drm/{card}/device");
            if (device is null || !seen.Add(device)) continue;
            if (Describe(files, device, libraryAvailable) is { } gpu) gpus.Add((Path.GetFileName(device), gpu));
        }
        foreach (string address in files.List("/proc/driver/nvidia/gpus"))
        {
            string device = "/sys/bus/pci/devices/" + address;
            string? resolved = files.ResolveLink(device) ?? device;
            if (!seen.Add(resolved)) continue;
            if (Describe(files, resolved, libraryAvailable) is { } gpu) gpus.Add((Path.GetFileName(resolved), gpu));
        }
        return gpus;
    }

    private static bool IsCard(string name) =>
        name.StartsWith("card", StringComparison.Ordinal) && name.Length > 4 && name[4..].All(char.IsAsciiDigit);

    private static GpuInfo? Describe(ISystemFiles files, string device, Func<string, bool> libraryAvailable)
    {
        string vendorId = files.ReadText(device + "/vendor")?.Trim().ToLowerInvariant() ?? HardwareSnapshot.Unknown;
        string deviceId = files.ReadText(device + "/device")?.Trim().ToLowerInvariant() ?? HardwareSnapshot.Unknown;
        string driver = files.ResolveLink(device + "/driver") is { } d ? Path.GetFileName(d) : HardwareSnapshot.Unknown;
        string address = Path.GetFileName(device);
        if (vendorId == HardwareSnapshot.Unknown && driver == HardwareSnapshot.Unknown) return null;

        long? memory = null;
        if (long.TryParse(files.ReadText(device + "/mem_info_vram_total")?.Trim(), CultureInfo.InvariantCulture, out long vram) && vram > 0) memory = vram;

        string vendor = VendorName(vendorId);
        string name = NvidiaModel(files.ReadText($"/proc/driver/nvidia/gpus/{address}/information"))
            ?? PciName(files, vendorId, deviceId)
            ?? $"{vendorId}:{deviceId}";

        bool? integrated = vendorId switch
        {
            Nvidia => false,
            // Intel's discrete Arc parts have device ids 0x56xx (Alchemist) and 0xe2xx (Battlemage); the rest are iGPUs.
            Intel => !(deviceId.StartsWith("0x56", StringComparison.Ordinal) || deviceId.StartsWith("0xe2", StringComparison.Ordinal)),
            // APUs carve out a small VRAM window; discrete Radeons have several GiB.
            Amd => memory is long m ? m < (4L << 30) : null,
            _ => null,
        };

        var (runtime, hint) = vendorId switch
        {
            Nvidia => libraryAvailable("libcuda.so.1") || libraryAvailable("nvcuda.dll")
                ? ("cuda", "")
                : ("none", "install the NVIDIA driver (it provides libcuda.so.1, which ILGPU's CUDA accelerator loads)"),
            Amd or Intel => libraryAvailable("libOpenCL.so.1") && files.List("/etc/OpenCL/vendors").Count > 0
                ? ("opencl", "")
                : ("none", vendorId == Intel
                    ? "install Intel's OpenCL runtime (intel-opencl-icd / compute-runtime): ILGPU needs OpenCL 2.0 with generic address space"
                    : "install an OpenCL 2.0 runtime with generic address space support (ROCm OpenCL) for ILGPU"),
            _ => ("none", "display-only adapter: no compute runtime for it"),
        };
        return new GpuInfo(name, vendor, vendorId, deviceId, driver, integrated, memory, null, runtime, hint);
    }

    public static string VendorName(string vendorId) =>
        vendorId switch { Nvidia => "NVIDIA", Amd => "AMD", Intel => "Intel", _ => HardwareSnapshot.Unknown };

    /// <summary>The "Model:" line of the NVIDIA driver's per-GPU information file.</summary>
    private static string? NvidiaModel(string? information)
    {
        foreach (string line in (information ?? "").Split('\n'))
        {
            if (line.StartsWith("Model:", StringComparison.Ordinal)) return line["Model:".Length..].Trim();
        }
        return null;
    }

    /// <summary>Looks the ids up in the system's pci.ids (vendor lines unindented, device lines one tab in).</summary>
    internal static string? PciName(ISystemFiles files, string vendorId, string deviceId)
    {
        if (!vendorId.StartsWith("0x", StringComparison.Ordinal) || !deviceId.StartsWith("0x", StringComparison.Ordinal)) return null;
        string? ids = files.ReadText("/usr/share/misc/pci.ids") ?? files.ReadText("/usr/share/hwdata/pci.ids");
        if (ids is null) return null;
        string v = vendorId[2..], dv = deviceId[2..];
        string? vendorName = null;
        foreach (string line in ids.Split('\n'))
        {
            if (vendorName is null)
            {
                if (line.StartsWith(v + "  ", StringComparison.Ordinal)) vendorName = line[(v.Length + 2)..].Trim();
                continue;
            }
            if (line.Length > 0 && line[0] != '\t' && line[0] != '#') break;   // next vendor
            if (line.StartsWith("\t" + dv + "  ", StringComparison.Ordinal)) return $"{vendorName} {line[(dv.Length + 3)..].Trim()}";
        }
        return null;
    }
}
