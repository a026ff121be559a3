using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace HybridEngine.Hardware;

/// <summary>
/// What <c>hybrid tune</c> learned about one machine, keyed by <see cref="Fingerprint"/>: the probe's snapshot, the
/// micro-benchmark figures the planner needs and the settings the runtime will use. Shared as JSON
/// (profiles/README.md describes the schema); holds no host name, user name, serial number or MAC address.
/// </summary>
public sealed record HardwareProfile(
    int SchemaVersion,
    string Fingerprint,
    string ToolVersion,
    DateTimeOffset CreatedUtc,
    bool Quick,
    HardwareSnapshot Hardware,
    TuneMeasurements Measurements,
    TunedSettings Settings,
    ImmutableArray<string> Notes)
{
    /// <summary>The schema this build writes and reads. Bump it when a field changes meaning or becomes required.</summary>
    public const int CurrentSchemaVersion = 2;
}

/// <summary>Memory read bandwidth with <paramref name="Threads"/> threads, GB/s (10⁹ bytes per second).</summary>
public sealed record BandwidthPoint(int Threads, [property: JsonPropertyName("gbps")] double GBps);

/// <summary>
/// A quantized matrix-vector product y = W·x on the CPU: <paramref name="GBps"/> is weight bytes streamed per second,
/// the figure that bounds decode speed; <paramref name="Gflops"/> counts 2·rows·columns per product.
/// </summary>
public sealed record MatVecPoint(string WeightType, string KernelPath, int Threads, int Rows, int Columns, [property: JsonPropertyName("gbps")] double GBps, double Gflops);

/// <summary>
/// A quantized matrix-matrix product Y = X·Wᵀ over <paramref name="Tokens"/> token rows on the CPU (prompt
/// processing): <paramref name="Gflops"/> counts 2·rows·columns·tokens per product, <paramref name="GBps"/> is weight
/// bytes per second (each product reads W once).
/// </summary>
public sealed record MatMulPoint(string WeightType, string KernelPath, int Threads, int Rows, int Columns, int Tokens, [property: JsonPropertyName("gbps")] double GBps, double Gflops);

/// <summary>A product on a GPU with W resident in its memory; x goes in and y comes back each call, as in the runtime.</summary>
/// <param name="Tokens">1 for the matrix-vector product, more for matrix-matrix.</param>
public sealed record GpuMatPoint(string WeightType, int Rows, int Columns, int Tokens, [property: JsonPropertyName("gbps")] double GBps, double Gflops);

/// <summary>
/// One GPU's figures. <paramref name="Device"/> is the compute device's name, equal to <see cref="GpuInfo.Accelerator"/>
/// of the probed GPU. <paramref name="HostToDeviceGBps"/>: weight upload (allocate and copy) of
/// <paramref name="TransferBytes"/>, best of several.
/// </summary>
public sealed record GpuMeasurements(
    string Device,
    long MemoryBytes,
    long TransferBytes,
    [property: JsonPropertyName("hostToDeviceGbps")] double HostToDeviceGBps,
    ImmutableArray<GpuMatPoint> MatVec,
    ImmutableArray<GpuMatPoint> MatMul);

/// <summary>Reads of <paramref name="BlockBytes"/> at random aligned offsets with <paramref name="QueueDepth"/> reads in flight.</summary>
public sealed record DiskPoint(int BlockBytes, int QueueDepth, [property: JsonPropertyName("gbps")] double GBps)
{
    /// <summary>
    /// The points as good as the best of <paramref name="points"/> (at least <paramref name="shareOfBest"/> of its
    /// bandwidth: a few percent is run-to-run noise) that keep the fewest reads in flight; empty for no points. The tuner
    /// and the expert reader both choose among these, each with its own tie-break.
    /// </summary>
    /// <summary>The bandwidth measured at <paramref name="blockBytes"/> × <paramref name="queueDepth"/>, or null when that point was not measured.</summary>
    public static double? At(IEnumerable<DiskPoint> points, int blockBytes, int queueDepth)
    {
        double? at = null;
        foreach (var p in points)
            if (p.BlockBytes == blockBytes && p.QueueDepth == queueDepth) at = Math.Max(at ?? p.GBps, p.GBps);
        return at;
    }

    /// <summary>The bandwidth at the tuned point, else the best measured; 0 for no points.</summary>
    public static double TunedOrBest(IReadOnlyCollection<DiskPoint> points, int blockBytes, int queueDepth) =>
        At(points, blockBytes, queueDepth) ?? (points.Count > 0 ? points.Max(p => p.GBps) : 0);

    public static IEnumerable<DiskPoint> ShallowestAsGood(IReadOnlyCollection<DiskPoint> points, double shareOfBest)
    {
        if (points.Count == 0) return [];
        double best = points.Max(p => p.GBps);
        var good = points.Where(p => p.GBps >= shareOfBest * best).ToList();
        int depth = good.Min(p => p.QueueDepth);
        return good.Where(p => p.QueueDepth == depth);
    }
}

/// <summary>
/// Disk read figures on a scratch file in the model folder. <paramref name="DirectIo"/> says whether the file system
/// accepted O_DIRECT (if not, <paramref name="Direct"/> holds buffered figures and a note says so).
/// <paramref name="BufferedColdGBps"/>: sequential buffered reads after the file was evicted from the page cache;
/// <paramref name="PageCacheGBps"/>: the same reads with the file in the page cache.
/// </summary>
public sealed record DiskMeasurements(
    string Path,
    long FileBytes,
    bool DirectIo,
    ImmutableArray<DiskPoint> Direct,
    [property: JsonPropertyName("bufferedColdGbps")] double? BufferedColdGBps,
    [property: JsonPropertyName("pageCacheGbps")] double? PageCacheGBps);

/// <summary>
/// Everything measured; a section is null (or empty) when its step was skipped (a note in the profile says why).
/// <paramref name="MatMul"/> is the CPU's matrix-matrix figures; <paramref name="Gpus"/> one entry per GPU measured.
/// </summary>
public sealed record TuneMeasurements(
    long MemoryBufferBytes,
    ImmutableArray<BandwidthPoint> MemoryRead,
    ImmutableArray<MatVecPoint> MatVec,
    DiskMeasurements? Disk,
    double WallSeconds,
    ImmutableArray<MatMulPoint> MatMul = default,
    ImmutableArray<GpuMeasurements> Gpus = default)
{
    // Optional in the constructor so older call sites compile; never default (serializing a default array throws).
    public ImmutableArray<MatMulPoint> MatMul { get; init; } = MatMul.IsDefault ? [] : MatMul;
    public ImmutableArray<GpuMeasurements> Gpus { get; init; } = Gpus.IsDefault ? [] : Gpus;
}

/// <summary>The settings the runtime takes from the profile (configuration and the command line may override them).</summary>
/// <param name="Threads">Compute threads for decode.</param>
/// <param name="KernelPath">scalar, vector128, avx2 or avx512 (as Engine:KernelPath).</param>
/// <param name="IoBlockBytes">Direct-I/O read size for streamed experts.</param>
/// <param name="IoQueueDepth">Reads kept in flight.</param>
/// <param name="DirectIo">Whether streamed reads should bypass the page cache.</param>
public sealed record TunedSettings(int Threads, string KernelPath, int IoBlockBytes, int IoQueueDepth, bool DirectIo);
