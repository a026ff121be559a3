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

    /// <param name="files">Where /proc and /sys are read (default: this machine).</param>
    /// <param name="libraryAvailable">Whether a native library (libcuda.so.1, libOpenCL.so.1) loads; default tries it.</param>
    public HardwareProbe(ISystemFiles? files = null, Func<string, bool>? libraryAvailable = null, TimeProvider? time = null)
    {
        _files = files ?? SystemFiles.Live;
        _libraryAvailable = libraryAvailable ?? CanLoad;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Probes everything; <paramref name="diskFolder"/> is the folder whose storage is described (where models live).</summary>
    public HardwareSnapshot Probe(string diskFolder) => new(
        Cpu: CpuProbe.Probe(_files),
        Memory: MemoryProbe.Probe(_files),
        Disk: DiskProbe.Probe(_files, diskFolder),
        Gpus: GpuProbe.Probe(_files, _libraryAvailable).ToImmutableArray(),
        Os: ProbeOs(),
        TakenUtc: _time.GetUtcNow());

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
