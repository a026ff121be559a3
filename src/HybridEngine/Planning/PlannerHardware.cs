using System.Collections.Immutable;
using HybridEngine.Hardware;

namespace HybridEngine.Planning;

/// <summary>A GPU as the planner sees it.</summary>
/// <param name="MemoryBytes">Dedicated memory; ignored for an integrated GPU (it uses RAM).</param>
/// <param name="ReadGBps">Weight bytes it streams per second, 10⁹ B/s; null when nothing measured it.</param>
public sealed record PlannerGpu(string Name, bool Integrated, long MemoryBytes, double? ReadGBps);

/// <summary>
/// The plain figures the planner needs, built from a <see cref="HardwareProfile"/> or written by hand for golden
/// tests. Bandwidths are 10⁹ bytes per second.
/// </summary>
/// <param name="RamBytes">Physical memory (MemTotal, else installed).</param>
/// <param name="MemoryReadGBps">Best measured memory read bandwidth.</param>
/// <param name="MatVecGBps">Weight bytes per second of the CPU's quantized matrix-vector product, by lower-case type name (q4_k, ...).</param>
/// <param name="DiskReadGBps">Direct-I/O read bandwidth of the model's disk at the tuned block size and queue depth.</param>
/// <param name="Assumed">True when some figures are defaults, not measurements (the plan says so).</param>
/// <param name="Source">Where the figures came from, for the report.</param>
public sealed record PlannerHardware(
    long RamBytes,
    double MemoryReadGBps,
    ImmutableSortedDictionary<string, double> MatVecGBps,
    double DiskReadGBps,
    ImmutableArray<PlannerGpu> Gpus,
    bool Assumed,
    string Source)
{
    /// <summary>Memory bandwidth assumed when nothing was measured: a dual-channel DDR4 desktop reaches about this.</summary>
    public const double DefaultMemoryReadGBps = 20;
    /// <summary>Disk bandwidth assumed when nothing was measured: a mid-range PCIe 3 NVMe drive.</summary>
    public const double DefaultDiskReadGBps = 2;
    /// <summary>Dedicated GPU bandwidth assumed when nothing was measured: a mid-range card.</summary>
    public const double DefaultGpuReadGBps = 250;

    /// <summary>
    /// CPU time per decoder layer and token besides streaming its weights at the matvec rate: dispatching some twenty
    /// small products, norms, rope, routing and attention to the compute threads and waiting for them, and the lower
    /// rate of MB-sized matrices against the tuner's GB-sized one. The tuner does not measure it; this is the residual
    /// of decode of the 27-layer deepseek2 v2lite (q4_k, 2 threads, avx512) on the development machine, nearly idle,
    /// after the bandwidth term: 107–128 ms per token with experts in RAM (page-cache runs and the compute part of
    /// budgeted ones) against 71.6 ms of weight bytes at the matvec rate, (120 − 71.6) ms ÷ 27 layers ≈ 1.8 ms.
    /// </summary>
    public const double DefaultLayerOverheadSeconds = 1.8e-3;

    /// <summary>Seconds per decoder layer and token besides weight bytes (see <see cref="DefaultLayerOverheadSeconds"/>).</summary>
    public double LayerOverheadSeconds { get; init; } = DefaultLayerOverheadSeconds;

    /// <summary>
    /// The profile's direct-I/O points and tuned block size and queue depth, from which <see cref="ExpertReadRule"/>
    /// derives the rate of experts read alone (no prefetch); without points the tuned settings at
    /// <see cref="DiskReadGBps"/> are used.
    /// </summary>
    public ImmutableArray<DiskPoint> DiskPoints { get; init; } = [];
    public int IoBlockBytes { get; init; } = 1 << 20;
    public int IoQueueDepth { get; init; } = 4;

    /// <summary>
    /// The figures of a tuned profile, taken where the runtime will run: memory and matvec bandwidth at the tuned thread
    /// count and kernel path (matvec on the largest matrix measured), disk bandwidth at the tuned block size and queue depth (the best point when the tuned
    /// one was not measured), and each GPU's measured matvec rate (<see cref="GpuReadGBps"/>). A missing CPU, memory or
    /// disk measurement falls back to a default and sets <see cref="Assumed"/>; an unmeasured GPU keeps a null rate
    /// (the planner assumes one and says so).
    /// </summary>
    public static PlannerHardware FromProfile(HardwareProfile profile, string source)
    {
        var m = profile.Measurements;
        var tuned = profile.Settings;
        bool assumed = false;
        var memoryPoints = m.MemoryRead.IsDefault ? [] : m.MemoryRead;
        double memory = memoryPoints.Where(p => p.Threads == tuned.Threads).Select(p => p.GBps).DefaultIfEmpty(memoryPoints.Select(p => p.GBps).DefaultIfEmpty(0).Max()).Max();
        if (memory <= 0) { memory = DefaultMemoryReadGBps; assumed = true; }

        var matvec = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        foreach (var group in (m.MatVec.IsDefault ? [] : m.MatVec).GroupBy(p => p.WeightType.ToLowerInvariant()))
        {
            var sameKernel = group.Where(p => p.KernelPath == tuned.KernelPath).ToList();
            var points = sameKernel.Count > 0 ? sameKernel : group.ToList();
            var atThreads = points.Where(p => p.Threads == tuned.Threads).ToList();
            // The largest matrix measured: decode streams GBs of weights per token, never from cache, so a figure
            // taken on a matrix that fits the last-level cache would overstate the rate.
            matvec[group.Key] = (atThreads.Count > 0 ? atThreads : points)
                .OrderByDescending(p => (long)p.Rows * p.Columns).ThenByDescending(p => p.GBps).First().GBps;
        }

        double disk = 0;
        if (m.Disk is { } d)
        {
            var direct = d.Direct.IsDefault ? [] : d.Direct;
            disk = direct.Length > 0 ? DiskPoint.TunedOrBest(direct, tuned.IoBlockBytes, tuned.IoQueueDepth) : d.BufferedColdGBps ?? 0;
        }
        if (disk <= 0) { disk = DefaultDiskReadGBps; assumed = true; }
        var mem = profile.Hardware.Memory;
        var gpus = profile.Hardware.Gpus.IsDefault ? [] : profile.Hardware.Gpus
            .Select(g => new PlannerGpu(g.Name, g.Integrated ?? false, g.MemoryBytes ?? 0, GpuReadGBps(m, g)))
            .ToImmutableArray();
        return new PlannerHardware(mem.TotalBytes ?? mem.InstalledBytes, memory, matvec.ToImmutable(), disk, gpus, assumed, source)
        {
            DiskPoints = m.Disk is { Direct.IsDefault: false } measured ? measured.Direct : [],
            IoBlockBytes = tuned.IoBlockBytes,
            IoQueueDepth = tuned.IoQueueDepth,
        };
    }

    /// <summary>
    /// The weight bytes per second the tuner measured for <paramref name="gpu"/>'s matrix-vector product (its
    /// measurements carry the accelerator's id): the Q4_K figure where measured, else the best of the types; null
    /// when the GPU was not measured.
    /// </summary>
    internal static double? GpuReadGBps(TuneMeasurements m, GpuInfo gpu)
    {
        if (gpu.Accelerator is null) return null;
        var figures = m.Gpus.FirstOrDefault(g => g.Device == gpu.Accelerator);
        var matvec = figures is null || figures.MatVec.IsDefault ? [] : figures.MatVec;
        if (matvec.Length == 0) return null;
        var reference = matvec.Where(p => string.Equals(p.WeightType, "q4_K", StringComparison.OrdinalIgnoreCase)).ToList();
        return (reference.Count > 0 ? reference : matvec.ToList()).Max(p => p.GBps);
    }

    /// <summary>Defaults for a machine with <paramref name="ramBytes"/> of RAM and nothing measured.</summary>
    public static PlannerHardware Defaults(long ramBytes, string source) =>
        new(ramBytes, DefaultMemoryReadGBps, ImmutableSortedDictionary<string, double>.Empty.WithComparers(StringComparer.Ordinal),
            DefaultDiskReadGBps, [], Assumed: true, source);

    /// <summary>Bytes per second the CPU streams weights of <paramref name="typeName"/> (any case): its matvec figure, else memory bandwidth.</summary>
    public double CpuReadBytesPerSecond(string typeName)
    {
        foreach (var (type, gbps) in MatVecGBps)
            if (gbps > 0 && string.Equals(type, typeName, StringComparison.OrdinalIgnoreCase)) return gbps * 1e9;
        return MemoryReadGBps * 1e9;
    }
}
