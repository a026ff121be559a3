using System.Collections.Immutable;

namespace HybridEngine.Hardware;

/// <summary>
/// What <see cref="HardwareProbe"/> found, frozen at one moment. Facts that could not be read are null (numbers) or
/// <see cref="Unknown"/> (text); nothing here is guessed silently. Identity facts feed <see cref="HardwareFingerprint"/>;
/// volatile ones (free memory, free disk, the time) do not.
/// </summary>
/// <param name="AcceleratorProbe">
/// Whether GPU runtimes were asked for their accelerators: <see cref="AcceleratorProbes.Enumerated"/>,
/// <see cref="AcceleratorProbes.NotRun"/> (no runtime enumerator given: /sys only), or <c>unknown: reason</c> when the
/// runtime failed (the GPUs then come from /sys alone).
/// </param>
public sealed record HardwareSnapshot(
    CpuInfo Cpu,
    MemoryInfo Memory,
    DiskInfo Disk,
    ImmutableArray<GpuInfo> Gpus,
    OsInfo Os,
    DateTimeOffset TakenUtc,
    string AcceleratorProbe = AcceleratorProbes.NotRun)
{
    public const string Unknown = "unknown";
}

/// <summary>Values of <see cref="HardwareSnapshot.AcceleratorProbe"/>.</summary>
public static class AcceleratorProbes
{
    public const string Enumerated = "enumerated";
    public const string NotRun = "not run";

    /// <summary>The value recorded when enumeration threw.</summary>
    public static string Failed(string reason) => $"{HardwareSnapshot.Unknown}: {reason}";
}

/// <summary>A processor cache level as the OS reports it (<c>level</c> 1–3, <c>type</c> data / instruction / unified).</summary>
public sealed record CacheInfo(int Level, string Type, long SizeBytes, int SharedByLogicalCpus);

/// <summary>The CPU: identity, topology, caches, clocks and the instruction sets kernels care about.</summary>
/// <param name="Architecture">x64, arm64, ... as .NET names the process architecture.</param>
/// <param name="InstructionSets">
/// Lower-case names (sse4.2, avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, avx512bf16, avxvnni, amx-tile,
/// amx-int8, amx-bf16, neon, dotprod, sve, ...) the hardware reports; from /proc/cpuinfo where readable, otherwise what
/// .NET detects.
/// </param>
/// <param name="RuntimeInstructionSets">What .NET will actually use in this process (may be fewer: DOTNET_Enable* switches, OS support).</param>
/// <param name="SimdPath">The widest kernel path this process runs (<see cref="Kernels.Simd.Best"/>), lower case.</param>
/// <param name="AvailableProcessors">Logical processors this process may use (affinity, container limits): what thread counts are sized from.</param>
public sealed record CpuInfo(
    string Vendor,
    string Model,
    string Architecture,
    int? Sockets,
    int? PhysicalCores,
    int LogicalCores,
    int AvailableProcessors,
    bool? Smt,
    int? NumaNodes,
    ImmutableArray<CacheInfo> Caches,
    double? BaseMhz,
    double? MaxMhz,
    ImmutableArray<string> InstructionSets,
    ImmutableArray<string> RuntimeInstructionSets,
    string SimdPath);

/// <summary>Main memory. <paramref name="InstalledBytes"/> is the identity figure: stable across boots, unlike MemTotal.</summary>
/// <param name="InstalledBytes">Online memory blocks × block size where the kernel lists them, else MemTotal rounded up to a GiB.</param>
/// <param name="TotalBytes">MemTotal: installed memory less what the kernel and firmware keep.</param>
/// <param name="TransparentHugePages">always, madvise, never or unknown.</param>
public sealed record MemoryInfo(
    long InstalledBytes,
    long? TotalBytes,
    long? AvailableBytes,
    int PageSize,
    long? HugePageSize,
    string TransparentHugePages,
    long? SwapTotalBytes,
    long? SwapFreeBytes);

/// <summary>Storage kinds, in the words the planner and the README use.</summary>
public static class DiskKinds
{
    public const string Nvme = "nvme";
    public const string SataSsd = "ssd";
    public const string Hdd = "hdd";
    public const string Virtual = "virtual";
    public const string Ram = "ram";
    public const string Network = "network";
    public const string Unknown = HardwareSnapshot.Unknown;
}

/// <summary>The storage behind the model folder.</summary>
/// <param name="Path">The folder asked about (models live there), as given: a relative path stays relative, so shared profiles carry no local layout.</param>
/// <param name="Device">Kernel name of the whole disk (nvme0n1, sda, vda), or unknown.</param>
/// <param name="Kind">One of <see cref="DiskKinds"/>.</param>
public sealed record DiskInfo(
    string Path,
    string MountPoint,
    string FileSystem,
    string Device,
    string Model,
    string Kind,
    bool? Rotational,
    int? LogicalBlockSize,
    int? PhysicalBlockSize,
    long? FreeBytes,
    long? TotalBytes);

/// <summary>
/// A GPU: a display device from /sys/class/drm, an accelerator a GPU runtime lists, or both merged when they are the
/// same card. <paramref name="Runtime"/> is none, cuda or opencl: the ILGPU backend that drives it (or, when runtimes
/// were not enumerated, whose library loads); <paramref name="Hint"/> says what to install when it is none.
/// </summary>
/// <param name="Accelerator">The runtime's id for it (<c>cuda:NAME</c>, as the compute device is named), null when no runtime lists it.</param>
/// <param name="PeakBandwidthGBps">Theoretical memory bandwidth the runtime reports, 10⁹ B/s; null where unknown.</param>
public sealed record GpuInfo(
    string Name,
    string Vendor,
    string VendorId,
    string DeviceId,
    string Driver,
    bool? Integrated,
    long? MemoryBytes,
    int? ComputeUnits,
    string Runtime,
    string Hint,
    string? Accelerator = null,
    [property: System.Text.Json.Serialization.JsonPropertyName("peakBandwidthGbps")] double? PeakBandwidthGBps = null);

/// <summary>Operating system and .NET runtime (descriptive only, not identity: an OS update keeps the hardware).</summary>
public sealed record OsInfo(string Platform, string Description, string Kernel, string Runtime);
