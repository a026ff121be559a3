using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace HybridEngine.Gpu;

/// <summary>What discovery found: usable GPU devices (possibly none) and one warning per device or driver that failed.</summary>
public sealed record GpuDiscovery(IReadOnlyList<GpuDevice> Devices, IReadOnlyList<string> Warnings);

/// <summary>Finds the GPUs ILGPU can drive (CUDA, OpenCL 2.0+). Never throws: an init failure becomes a warning.</summary>
public static class GpuDevices
{
    /// <summary>
    /// Opens every CUDA and OpenCL accelerator. With <paramref name="includeCpuAccelerator"/> ILGPU's CPU accelerator
    /// is added as a pretend discrete GPU (tests: same kernels, no GPU needed).
    /// </summary>
    public static GpuDiscovery Discover(bool includeCpuAccelerator = false) => Discover(includeCpuAccelerator, CreateContext);

    /// <summary>Discovery over a given context factory (tests inject a failing driver here).</summary>
    internal static GpuDiscovery Discover(bool includeCpuAccelerator, Func<AcceleratorType[], Context> createContext)
    {
        var devices = new List<GpuDevice>();
        var warnings = new List<string>();
        int count;
        try
        {
            using var probe = createContext([AcceleratorType.Cuda, AcceleratorType.OpenCL]);
            count = probe.Devices.Length;   // ILGPU lists its CPU device in every context; TryOpen skips it
        }
        catch (Exception e)
        {
            warnings.Add($"GPU drivers could not be queried: {e.Message}");
            count = 0;
        }
        bool[] usable = [];
        try
        {
            using var probe = createContext([AcceleratorType.Cuda, AcceleratorType.OpenCL]);
            usable = Usable(probe.Devices);
        }
        catch (Exception)
        {
            // Already reported above; with no list every device is tried.
        }
        for (int i = 0; i < count; i++)
        {
            if (i < usable.Length && !usable[i]) continue;
            if (TryOpen(i, warnings, createContext) is { } device) devices.Add(device);
        }
        if (includeCpuAccelerator)
        {
            try { devices.Add(CreateCpuPretend()); }
            catch (Exception e) { warnings.Add($"CPU accelerator could not be created: {e.Message}"); }
        }
        return new GpuDiscovery(devices, warnings);
    }

    /// <summary>ILGPU's CPU accelerator as a <see cref="DeviceKind.DiscreteGpu"/>: runs the GPU kernels on the CPU, for tests.</summary>
    public static GpuDevice CreateCpuPretend(DeviceKind kind = DeviceKind.DiscreteGpu)
    {
        var context = CreateContext(AcceleratorType.CPU);
        try { return new GpuDevice(context, context.GetPreferredDevice(preferCPU: true).CreateAccelerator(context), kind); }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The first CUDA device, or null with the reason (the GPU check script's target).</summary>
    public static GpuDevice? OpenFirstCuda(out string? reason)
    {
        var found = Discover();
        GpuDevice? cuda = null;
        foreach (var device in found.Devices)
        {
            if (cuda is null && device.Accelerator.AcceleratorType == AcceleratorType.Cuda) cuda = device;
            else device.Dispose();
        }
        reason = cuda is null ? "no CUDA device" + (found.Warnings.Count > 0 ? ": " + string.Join("; ", found.Warnings) : "") : null;
        return cuda;
    }

    private static GpuDevice? TryOpen(int index, List<string> warnings, Func<AcceleratorType[], Context> createContext)
    {
        Context? context = null;
        try
        {
            context = createContext([AcceleratorType.Cuda, AcceleratorType.OpenCL]);
            var device = context.Devices[index];
            if (device.AcceleratorType is not (AcceleratorType.Cuda or AcceleratorType.OpenCL))
            {
                context.Dispose();
                return null;
            }
            var accelerator = device.CreateAccelerator(context);
            return new GpuDevice(context, accelerator, KindOf(device));
        }
        catch (Exception e)
        {
            warnings.Add($"GPU {index} could not be initialised: {e.Message}");
            context?.Dispose();
            return null;
        }
    }

    /// <summary>
    /// Which listed devices to open: an NVIDIA card appears both as a CUDA device and as an OpenCL device, and ILGPU's
    /// OpenCL back end does not compile the kernels for NVIDIA's OpenCL (seen on an H200: "internal compiler error"), so
    /// NVIDIA OpenCL devices are skipped whenever a CUDA device is listed.
    /// </summary>
    internal static bool[] Usable(IReadOnlyList<Device> devices) =>
        Usable(devices.Select(d => (d.AcceleratorType, d is CLDevice cl && cl.Vendor == CLDeviceVendor.Nvidia)).ToList());

    /// <summary><see cref="Usable(IReadOnlyList{Device})"/> over (type, is an NVIDIA OpenCL device) pairs.</summary>
    internal static bool[] Usable(IReadOnlyList<(AcceleratorType Type, bool NvidiaOpenCl)> devices)
    {
        bool anyCuda = devices.Any(d => d.Type == AcceleratorType.Cuda);
        return devices.Select(d => !(anyCuda && d.NvidiaOpenCl)).ToArray();
    }

    /// <summary>
    /// Intel's OpenCL GPUs are integrated (they compute from system RAM); ILGPU exposes no unified-memory flag, so every
    /// other GPU is taken as discrete until the hardware probe says otherwise.
    /// </summary>
    private static DeviceKind KindOf(Device device) =>
        device is CLDevice cl && cl.Vendor == CLDeviceVendor.Intel ? DeviceKind.IntegratedGpu : DeviceKind.DiscreteGpu;

    internal static Context CreateContext(params AcceleratorType[] types) =>
        Context.Create(builder =>
        {
            foreach (var type in types)
            {
                if (type == AcceleratorType.Cuda) builder.Cuda();
                else if (type == AcceleratorType.OpenCL) builder.OpenCL();
                else builder.CPU();
            }
            builder.EnableAlgorithms();
        });
}
