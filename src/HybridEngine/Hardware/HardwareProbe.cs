using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace HybridEngine.Hardware;

/// <summary>
/// The one place that reads /proc, /sys, CPU feature bits and driver libraries. Returns an immutable
/// <see cref="HardwareSnapshot"/>; a fact it cannot read (container, VM, no permission, another OS) becomes
/// unknown / null and never an exception.
/// </summary>
public sealed class HardwareProbe
{
    private readonly ISystemFiles _files;
    private readonly Func<string, bool> _libraryAvailable;
    private readonly TimeProvider _time;
    private readonly IAcceleratorEnumerator? _accelerators;

    /// <param name="files">Where /proc and /sys are read (default: this machine).</param>
    /// <param name="libraryAvailable">Whether a native library (libcuda.so.1, libOpenCL.so.1) loads; default tries it.</param>
    /// <param name="accelerators">The GPU runtime's accelerator list (the GPU backend provides it); without one only /sys is read.</param>
    public HardwareProbe(ISystemFiles? files = null, Func<string, bool>? libraryAvailable = null, TimeProvider? time = null,
        IAcceleratorEnumerator? accelerators = null)
    {
        _files = files ?? SystemFiles.Live;
        _libraryAvailable = libraryAvailable ?? CanLoad;
        _time = time ?? TimeProvider.System;
        _accelerators = accelerators;
    }

    /// <summary>Probes everything; <paramref name="diskFolder"/> is the folder whose storage is described (where models live).</summary>
    public HardwareSnapshot Probe(string diskFolder)
    {
        var adapters = GpuProbe.Probe(_files, _libraryAvailable);
        var (gpus, acceleratorProbe) = ProbeAccelerators(adapters);
        return new(
            Cpu: CpuProbe.Probe(_files),
            Memory: MemoryProbe.Probe(_files),
            Disk: DiskProbe.Probe(_files, diskFolder),
            Gpus: gpus.ToImmutableArray(),
            Os: ProbeOs(),
            TakenUtc: _time.GetUtcNow(),
            AcceleratorProbe: acceleratorProbe);
    }

    private (List<GpuInfo> Gpus, string Status) ProbeAccelerators(List<(string Address, GpuInfo Gpu)> adapters)
    {
        if (_accelerators is null) return (adapters.Select(a => a.Gpu).ToList(), AcceleratorProbes.NotRun);
        IReadOnlyList<AcceleratorInfo> found;
        // A driver that throws (missing symbols, a wedged device) costs the accelerator details, never the probe.
        try { found = _accelerators.Enumerate(); }
        catch (Exception e) { return (adapters.Select(a => a.Gpu).ToList(), AcceleratorProbes.Failed(e.GetType().Name + ": " + e.Message.Split('\n')[0].Trim())); }
        return (GpuMerge.Merge(adapters, found), AcceleratorProbes.Enumerated);
    }

    private OsInfo ProbeOs()
    {
        string platform = OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "macos" : HardwareSnapshot.Unknown;
        string? pretty = (_files.ReadText("/etc/os-release") ?? "").Split('\n')
            .FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"', ' ', '\r');
        string kernel = _files.ReadText("/proc/sys/kernel/osrelease")?.Trim() ?? HardwareSnapshot.Unknown;
        return new OsInfo(platform, string.IsNullOrEmpty(pretty) ? RuntimeInformation.OSDescription : pretty, kernel,
            $"{RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})");
    }

    private static bool CanLoad(string library)
    {
        if (!NativeLibrary.TryLoad(library, out nint handle)) return false;
        NativeLibrary.Free(handle);
        return true;
    }
}
