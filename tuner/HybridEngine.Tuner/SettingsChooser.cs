using HybridEngine.Hardware;
using HybridEngine.Kernels;

namespace HybridEngine.Tuner;

/// <summary>
/// Turns measurements into the settings the runtime uses. Where several choices are within a few percent of the best,
/// the cheapest one wins (fewer threads leave cores for I/O; shallower queues and smaller blocks waste less on
/// partial reads), because a few percent is within run-to-run noise.
/// </summary>
public static class SettingsChooser
{
    /// <summary>Fraction of the best figure that counts as "as good".</summary>
    public const double Tolerance = 0.97;

    public static TunedSettings Choose(TuneMeasurements m, CpuInfo cpu, string referenceType)
    {
        string path = ChooseKernelPath(m.MatVec, referenceType) ?? Simd.Best.ToString().ToLowerInvariant();
        int threads = ChooseThreads(m, path, referenceType) ?? Math.Max(1, cpu.AvailableProcessors);
        var (block, depth) = ChooseIo(m.Disk);
        return new TunedSettings(threads, path, block, depth, m.Disk?.DirectIo ?? true);
    }

    /// <summary>
    /// The fastest kernel path for the reference weight type, compared like for like: among the points of the
    /// smallest matrix (the comparison run) at the highest thread count measured there. One path measured: that one.
    /// </summary>
    internal static string? ChooseKernelPath(IReadOnlyList<MatVecPoint> points, string referenceType)
    {
        var candidates = points.Where(p => p.WeightType == referenceType).ToList();
        if (candidates.Count == 0) return null;
        if (candidates.Select(p => p.KernelPath).Distinct().Count() == 1) return candidates[0].KernelPath;
        int rows = candidates.Min(p => p.Rows);
        var comparison = candidates.Where(p => p.Rows == rows).ToList();
        int threads = comparison.Max(p => p.Threads);
        return comparison.Where(p => p.Threads == threads).MaxBy(p => p.GBps)!.KernelPath;
    }

    /// <summary>The fewest threads reaching <see cref="Tolerance"/> of the best full-size matvec (else memory) throughput.</summary>
    internal static int? ChooseThreads(TuneMeasurements m, string kernelPath, string referenceType)
    {
        // The full-size runs only: the kernel-path comparison used a smaller, partly cache-resident matrix.
        var runs = m.MatVec.Where(p => p.KernelPath == kernelPath && p.WeightType == referenceType).ToList();
        int rows = runs.Count > 0 ? runs.Max(p => p.Rows) : 0;
        var figures = runs.Where(p => p.Rows == rows).Select(p => (p.Threads, p.GBps)).ToList();
        if (figures.Count == 0) figures = m.MemoryRead.Select(p => (p.Threads, p.GBps)).ToList();
        if (figures.Count == 0) return null;
        double best = figures.Max(f => f.GBps);
        return figures.Where(f => f.GBps >= Tolerance * best).Min(f => f.Threads);
    }

    /// <summary>The shallowest queue, then the smallest block, reaching <see cref="Tolerance"/> of the best direct read; 1 MiB × 4 when unmeasured.</summary>
    internal static (int Block, int Depth) ChooseIo(DiskMeasurements? disk)
    {
        if (disk is null || disk.Direct.IsDefaultOrEmpty) return (1 << 20, 4);
        var pick = DiskPoint.ShallowestAsGood(disk.Direct, Tolerance).MinBy(p => p.BlockBytes)!;
        return (pick.BlockBytes, pick.QueueDepth);
    }
}
