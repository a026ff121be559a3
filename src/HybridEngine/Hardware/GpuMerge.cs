namespace HybridEngine.Hardware;

/// <summary>
/// Joins the adapters /sys lists with the accelerators a GPU runtime lists, so one card appears once. A pair is the
/// same card when their PCI addresses agree, else (a runtime that gives no address, like OpenCL) the first unpaired
/// adapter of the same vendor, preferring one equally integrated or discrete; an OpenCL view of a card CUDA already
/// listed is dropped. A pair keeps the /sys identity (name from the driver or pci.ids, vendor and device id)
/// and takes the runtime's memory, compute units and peak bandwidth; an adapter no runtime listed says what is
/// missing; an accelerator with no adapter (containers without /sys/class/drm) stands alone.
/// </summary>
internal static class GpuMerge
{
    public static List<GpuInfo> Merge(IReadOnlyList<(string Address, GpuInfo Gpu)> adapters, IReadOnlyList<AcceleratorInfo> accelerators)
    {
        var paired = new GpuInfo?[adapters.Count];
        var alone = new List<GpuInfo>();
        // Accelerators with an address first: a card seen by CUDA and by OpenCL then pairs with the CUDA view.
        foreach (var a in accelerators.Where(a => a.Backend is "cuda" or "opencl").OrderBy(a => a.PciAddress is null ? 1 : 0))
        {
            int match = IndexWhere(adapters, paired, (address, _) => a.PciAddress is { } p && string.Equals(p, address, StringComparison.OrdinalIgnoreCase));
            if (match < 0 && a.PciAddress is null)
            {
                match = IndexWhere(adapters, paired, (_, g) => g.VendorId == a.VendorId && g.Integrated == a.Integrated);
                if (match < 0) match = IndexWhere(adapters, paired, (_, g) => g.VendorId == a.VendorId);
            }
            if (match >= 0) paired[match] = Combine(adapters[match].Gpu, a);
            // No adapter left, but a card of this vendor is already listed through another runtime (NVIDIA's OpenCL
            // driver next to CUDA): the same card seen twice, not another one.
            else if (a.PciAddress is null && paired.Concat(alone).Any(g => g is not null && g.VendorId == a.VendorId && g.Runtime != a.Backend)) continue;
            else alone.Add(Standalone(a));
        }
        var merged = new List<GpuInfo>();
        for (int i = 0; i < adapters.Count; i++) merged.Add(paired[i] ?? Unlisted(adapters[i].Gpu));
        merged.AddRange(alone);
        return merged;
    }

    private static int IndexWhere(IReadOnlyList<(string Address, GpuInfo Gpu)> adapters, GpuInfo?[] paired, Func<string, GpuInfo, bool> test)
    {
        for (int i = 0; i < adapters.Count; i++)
        {
            if (paired[i] is null && test(adapters[i].Address, adapters[i].Gpu)) return i;
        }
        return -1;
    }

    private static GpuInfo Combine(GpuInfo sys, AcceleratorInfo a) => sys with
    {
        // The pci.ids fallback "vendor:device" is less telling than the runtime's name.
        Name = sys.Name == $"{sys.VendorId}:{sys.DeviceId}" ? a.Name : sys.Name,
        Integrated = sys.Integrated ?? a.Integrated,
        MemoryBytes = a.MemoryBytes > 0 ? a.MemoryBytes : sys.MemoryBytes,
        ComputeUnits = a.ComputeUnits ?? sys.ComputeUnits,
        Runtime = a.Backend,
        Hint = "",
        Accelerator = a.Id,
        PeakBandwidthGBps = a.PeakBandwidthGBps,
    };

    private static GpuInfo Standalone(AcceleratorInfo a) => new(
        a.Name, GpuProbe.VendorName(a.VendorId), a.VendorId, HardwareSnapshot.Unknown, HardwareSnapshot.Unknown,
        a.Integrated, a.MemoryBytes > 0 ? a.MemoryBytes : null, a.ComputeUnits, a.Backend, "", a.Id, a.PeakBandwidthGBps);

    /// <summary>
    /// An adapter whose runtime library loads but that the runtime did not list cannot be used: say why. (Without an
    /// enumeration this is never called, and the library check stands.)
    /// </summary>
    private static GpuInfo Unlisted(GpuInfo sys) => sys.Runtime switch
    {
        "cuda" => sys with
        {
            Runtime = "none",
            Hint = "libcuda.so.1 loads but ILGPU's CUDA backend does not list this GPU: update the NVIDIA driver and check the device is visible to this process",
        },
        "opencl" => sys with
        {
            Runtime = "none",
            Hint = sys.VendorId == GpuProbe.Intel
                ? "an OpenCL runtime is installed but ILGPU does not list this GPU: install Intel's compute runtime (intel-opencl-icd), ILGPU needs OpenCL 2.0 with generic address space"
                : "an OpenCL runtime is installed but ILGPU does not list this GPU: ILGPU needs OpenCL 2.0 with generic address space support",
        },
        _ => sys,
    };
}
