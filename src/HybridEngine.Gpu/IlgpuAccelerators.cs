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
        var usable = GpuDevices.Usable(context.Devices);
        for (int i = 0; i < context.Devices.Length; i++)
        {
            if (usable[i] && Describe(context.Devices[i]) is { } info) found.Add(info);
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

    /// <summary>
    /// Double data rate: 2 × memory clock × bus width (bits) / 8, in 10⁹ B/s; null when the driver gives no clock. CUDA
    /// documents the clock in kHz, but the driver of an H200 (580.x, CUDA 13) gave 3201 for its 3201 MHz memory: a value
    /// below 100 000 cannot be kHz for any GPU memory (that would be under 100 MHz), so it is read as MHz.
    /// </summary>
    internal static double? PeakGBps(int memoryClock, int busWidthBits)
    {
        if (memoryClock <= 0 || busWidthBits <= 0) return null;
        double hertz = memoryClock < 100_000 ? memoryClock * 1e6 : memoryClock * 1e3;
        return 2.0 * hertz * busWidthBits / 8.0 / 1e9;
    }

    private static string VendorId(CLDeviceVendor vendor) => vendor switch
    {
        CLDeviceVendor.Nvidia => "0x10de",
        CLDeviceVendor.AMD => "0x1002",
        CLDeviceVendor.Intel => "0x8086",
        _ => HardwareSnapshot.Unknown,
    };
}
