using System.Globalization;
using HybridEngine.Hardware;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace HybridEngine.Gpu;

/// <summary>
/// The GPUs ILGPU can drive, for the hardware probe: every CUDA device and every OpenCL GPU that ILGPU accepts
/// (OpenCL 2.0 with generic address space). ILGPU's CPU accelerator and OpenCL CPU devices are never listed. Only
/// device properties are read; no accelerator is opened and no kernel compiled. Throws when the drivers cannot be
/// queried (the probe records that as unknown).
/// </summary>
public sealed class IlgpuAccelerators : IAcceleratorEnumerator
{
    public IReadOnlyList<AcceleratorInfo> Enumerate()
    {
        using var context = GpuDevices.CreateContext(AcceleratorType.Cuda, AcceleratorType.OpenCL);
        var found = new List<AcceleratorInfo>();
        foreach (var device in context.Devices)
        {
            if (Describe(device) is { } info) found.Add(info);
        }
        return found;
    }

    /// <summary>One device's facts, or null for a device that is not a GPU.</summary>
    internal static AcceleratorInfo? Describe(Device device) => device switch
    {
        CudaDevice cuda => new AcceleratorInfo(
            GpuDevice.IdOf(AcceleratorType.Cuda, cuda.Name), cuda.Name, "cuda", "0x10de",
            string.Create(CultureInfo.InvariantCulture, $"{cuda.PCIDomainId:x4}:{cuda.PCIBusId:x2}:{cuda.PCIDeviceId:x2}.0"),
            cuda.MemorySize,
            Integrated: null,   // ILGPU does not expose CUDA's integrated attribute (Jetson); /sys or the caller decides
            cuda.NumMultiprocessors,
            PeakGBps(cuda.MemoryClockRate, cuda.MemoryBusWidth)),
        CLDevice cl when cl.DeviceType == CLDeviceType.CL_DEVICE_TYPE_GPU => new AcceleratorInfo(
            GpuDevice.IdOf(AcceleratorType.OpenCL, cl.Name), cl.Name, "opencl", VendorId(cl.Vendor),
            PciAddress: null,   // OpenCL has no portable PCI address query
            cl.MemorySize,
            // Intel's OpenCL GPUs compute from system RAM; discrete Arc cards are the exception /sys tells apart.
            cl.Vendor == CLDeviceVendor.Intel ? true : null,
            cl.NumMultiprocessors,
            PeakBandwidthGBps: null),
        _ => null,
    };

    /// <summary>Double data rate: 2 × memory clock (kHz) × bus width (bits) / 8, in 10⁹ B/s; null when the driver gives no clock.</summary>
    internal static double? PeakGBps(int memoryClockKHz, int busWidthBits) =>
        memoryClockKHz > 0 && busWidthBits > 0 ? 2.0 * memoryClockKHz * 1000.0 * busWidthBits / 8.0 / 1e9 : null;

    private static string VendorId(CLDeviceVendor vendor) => vendor switch
    {
        CLDeviceVendor.Nvidia => "0x10de",
        CLDeviceVendor.AMD => "0x1002",
        CLDeviceVendor.Intel => "0x8086",
        _ => HardwareSnapshot.Unknown,
    };
}
