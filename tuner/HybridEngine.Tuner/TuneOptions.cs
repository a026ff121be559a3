using System.Collections.Immutable;
using HybridEngine.Hardware;
using HybridEngine.Quantization;

namespace HybridEngine.Tuner;

/// <summary>
/// How much the tuner measures and for how long. <see cref="QuickFor"/> fits in about 12 s and <see cref="FullFor"/> in
/// under two minutes on a 2-core machine; tests shrink the budgets further.
/// </summary>
public sealed record TuneOptions
{
    public bool Quick { get; init; }

    /// <summary>Folder whose disk is measured with a scratch file (where models live).</summary>
    public string DiskFolder { get; init; } = ".";

    /// <summary>Thread counts to measure; empty means chosen from the CPU (1, powers of two, physical cores, all).</summary>
    public ImmutableArray<int> ThreadCounts { get; init; } = [];

    /// <summary>Buffer for the memory-bandwidth step; must dwarf the last-level cache or it measures the cache.</summary>
    public long MemoryBufferBytes { get; init; } = 1L << 30;
    public TimeSpan MemoryBudget { get; init; } = TimeSpan.FromSeconds(1);

    public ImmutableArray<GgmlType> MatVecTypes { get; init; } = [GgmlType.Q4_K];

    /// <summary>Values per weight row (a multiple of 256, so every block size divides it).</summary>
    public int MatVecColumns { get; init; } = 4096;

    /// <summary>Weight bytes per product; larger than the last-level cache so the figure is memory-bound, as in decode.</summary>
    public long MatVecWeightBytes { get; init; } = 512L << 20;
    public TimeSpan MatVecBudget { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Whether to compare every kernel path this CPU runs (on the first weight type).</summary>
    public bool CompareKernelPaths { get; init; } = true;

    /// <summary>Weight types of the CPU matrix-matrix step (every thread count, widest kernel path); empty skips it.</summary>
    public ImmutableArray<GgmlType> MatMulTypes { get; init; } = [GgmlType.Q4_K];

    /// <summary>Token rows per matrix-matrix product (a prompt-processing batch).</summary>
    public int MatMulTokens { get; init; } = 32;

    /// <summary>Weight bytes per matrix-matrix product; it is compute-bound, so a cache-sized matrix is enough.</summary>
    public long MatMulWeightBytes { get; init; } = 4L << 20;
    public TimeSpan MatMulBudget { get; init; } = TimeSpan.FromSeconds(0.4);

    /// <summary>
    /// Matrix size on each GPU for the upload and the matrix-vector product (the matrix-matrix one uses a quarter);
    /// capped by the CPU buffer. The GPU measures the matvec types it runs.
    /// </summary>
    public long GpuWeightBytes { get; init; } = 256L << 20;
    public TimeSpan GpuBudget { get; init; } = TimeSpan.FromSeconds(0.3);

    /// <summary>Scratch file size; 0 skips the disk step.</summary>
    public long DiskFileBytes { get; init; } = 256L << 20;
    public ImmutableArray<int> DiskBlockSizes { get; init; } = [256 << 10, 1 << 20];
    public ImmutableArray<int> DiskQueueDepths { get; init; } = [1, 8];
    public TimeSpan DiskBudget { get; init; } = TimeSpan.FromSeconds(0.4);

    /// <summary>About 12 s: two thread counts, Q4_K and Q8_0 matvec and Q4_K matmul on the widest kernel path, two block sizes × two queue depths.</summary>
    public static TuneOptions QuickFor(HardwareSnapshot hardware, string diskFolder) => new()
    {
        Quick = true,
        DiskFolder = diskFolder,
        ThreadCounts = [1, Math.Max(1, hardware.Cpu.AvailableProcessors)],
        MemoryBufferBytes = BufferBeyondCache(hardware, 1, 512L << 20),
        MemoryBudget = TimeSpan.FromSeconds(0.4),
        MatVecTypes = [GgmlType.Q4_K, GgmlType.Q8_0],
        MatVecWeightBytes = BufferBeyondCache(hardware, 1, 256L << 20),
        MatVecBudget = TimeSpan.FromSeconds(0.4),
        CompareKernelPaths = false,
        MatMulTypes = [GgmlType.Q4_K],
        MatMulBudget = TimeSpan.FromSeconds(0.15),
        GpuBudget = TimeSpan.FromSeconds(0.15),
        DiskFileBytes = 128L << 20,
        DiskBlockSizes = [256 << 10, 1 << 20],
        DiskQueueDepths = [1, 8],
        DiskBudget = TimeSpan.FromSeconds(0.4),
    };

    /// <summary>About a minute and a half on 2 cores: every thread count of interest, the common weight types, 4 block sizes × 3 queue depths.</summary>
    public static TuneOptions FullFor(HardwareSnapshot hardware, string diskFolder) => new()
    {
        Quick = false,
        DiskFolder = diskFolder,
        ThreadCounts = DefaultThreadCounts(hardware.Cpu),
        MemoryBufferBytes = BufferBeyondCache(hardware, 4, 1L << 30),
        MemoryBudget = TimeSpan.FromSeconds(1.5),
        MatVecTypes = [GgmlType.Q4_K, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q3_K, GgmlType.Q2_K, GgmlType.IQ4_XS, GgmlType.F16],
        MatVecWeightBytes = BufferBeyondCache(hardware, 2, 512L << 20),
        MatVecBudget = TimeSpan.FromSeconds(0.8),
        MatMulTypes = [GgmlType.Q4_K, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q3_K, GgmlType.Q2_K, GgmlType.IQ4_XS, GgmlType.F16],
        MatMulBudget = TimeSpan.FromSeconds(0.2),
        GpuWeightBytes = 512L << 20,
        GpuBudget = TimeSpan.FromSeconds(0.4),
        DiskFileBytes = 1L << 30,
        DiskBlockSizes = [64 << 10, 256 << 10, 1 << 20, 4 << 20],
        DiskQueueDepths = [1, 4, 16],
        DiskBudget = TimeSpan.FromSeconds(1),
    };

    /// <summary>1, then powers of two, the physical core count and every available processor.</summary>
    public static ImmutableArray<int> DefaultThreadCounts(CpuInfo cpu)
    {
        int all = Math.Max(1, cpu.AvailableProcessors);
        var counts = new SortedSet<int> { 1, all };
        for (int t = 2; t < all; t *= 2) counts.Add(t);
        if (cpu.PhysicalCores is int physical && physical < all) counts.Add(physical);
        return counts.ToImmutableArray();
    }

    /// <summary>
    /// <paramref name="multiple"/> × the largest cache (at least <paramref name="floor"/>), capped at a quarter of the
    /// memory available now so tuning never pushes the machine into swap.
    /// </summary>
    public static long BufferBeyondCache(HardwareSnapshot hardware, int multiple, long floor)
    {
        long largestCache = hardware.Cpu.Caches.IsDefaultOrEmpty ? 0 : hardware.Cpu.Caches.Max(c => c.SizeBytes);
        long wanted = Math.Max(floor, multiple * largestCache);
        long available = hardware.Memory.AvailableBytes ?? hardware.Memory.InstalledBytes / 2;
        return Math.Max(64L << 20, Math.Min(wanted, available / 4)) / (1 << 20) * (1 << 20);
    }
}
