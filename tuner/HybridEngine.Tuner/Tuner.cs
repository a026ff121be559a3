using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using HybridEngine.Hardware;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;

namespace HybridEngine.Tuner;

/// <summary>Where the tuner is: a step name and the fraction of all work done (0..1).</summary>
public readonly record struct TuneProgress(string Step, double Fraction);

/// <summary>
/// Runs the micro-benchmarks on a probed machine and returns its profile: memory read bandwidth per thread count,
/// CPU matvec throughput per weight type, thread count and kernel path, CPU matmul throughput per weight type and
/// thread count, per GPU the upload bandwidth and matvec/matmul throughput, and disk bandwidth. It writes nothing but a
/// scratch file it removes; saving the profile (atomically) is the caller's choice, so an interrupted tune leaves no
/// profile at all.
/// </summary>
public static class HardwareTuner
{
    public static string ToolVersion { get; } =
        typeof(HardwareTuner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(HardwareTuner).Assembly.GetName().Version?.ToString() ?? "0";

    /// <param name="gpus">The GPUs to measure (the caller opens and disposes them); none measures the CPU, memory and disk only.</param>
    public static HardwareProfile Run(HardwareSnapshot hardware, TuneOptions options, Action<TuneProgress>? progress = null, CancellationToken cancel = default,
        IReadOnlyList<IComputeDevice>? gpus = null)
    {
        gpus ??= [];
        var clock = Stopwatch.StartNew();
        var notes = new List<string>();
        var threadCounts = options.ThreadCounts.IsDefaultOrEmpty ? TuneOptions.DefaultThreadCounts(hardware.Cpu) : options.ThreadCounts;
        var types = options.MatVecTypes.Where(t => QuantTypes.Get(t).Quantize is not null).ToList();
        var matmulTypes = options.MatMulTypes.Where(t => QuantTypes.Get(t).Quantize is not null).ToList();
        var paths = options.CompareKernelPaths ? Simd.Available.ToList() : [Simd.Best];
        bool disk = options.DiskFileBytes > 0;

        // Work units, for the progress fraction.
        int total = threadCounts.Length
            + types.Count * threadCounts.Length + (types.Count > 0 && paths.Count > 1 ? paths.Count : 0)
            + matmulTypes.Count * threadCounts.Length
            + gpus.Sum(g => 1 + 2 * types.Count(g.Supports))
            + (disk ? 3 + DiskBandwidth.Rounds * options.DiskBlockSizes.Length * options.DiskQueueDepths.Length : 0);
        int done = 0;
        string step = "";
        void Advance() => progress?.Invoke(new TuneProgress(step, Math.Min(1.0, ++done / (double)Math.Max(1, total))));
        void Begin(string name)
        {
            step = name;
            progress?.Invoke(new TuneProgress(step, done / (double)Math.Max(1, total)));
        }

        var memory = ImmutableArray.CreateBuilder<BandwidthPoint>();
        foreach (int threads in threadCounts)
        {
            Begin($"memory bandwidth, {threads} thread{(threads == 1 ? "" : "s")}");
            cancel.ThrowIfCancellationRequested();
            memory.Add(new BandwidthPoint(threads, MemoryBandwidth.MeasureRead(threads, options.MemoryBufferBytes, options.MemoryBudget)));
            Advance();
        }

        var matvec = new List<MatVecPoint>();
        var matmul = new List<MatMulPoint>();
        var gpuFigures = new List<GpuMeasurements>();
        if (types.Count > 0 || matmulTypes.Count > 0)
        {
            using var bench = new MatVecThroughput(options.MatVecWeightBytes, options.MatVecColumns);
            if (types.Count > 0)
            {
                // Every thread count on the widest path, for every type.
                Begin($"matvec {QuantTypes.Get(types[0]).Name}");
                matvec.AddRange(bench.Measure(types[0], threadCounts, [Simd.Best], options.MatVecBudget, cancel, Advance));
                if (paths.Count > 1)
                {
                    // Every path on one smaller matrix at the widest thread count: only the ranking matters here, and the
                    // scalar path is ~10x slower than the vector ones.
                    Begin("kernel paths");
                    matvec.AddRange(bench.Measure(types[0], [threadCounts.Max()], paths, options.MatVecBudget, cancel, Advance, maxBytes: 64L << 20));
                }
                foreach (var type in types.Skip(1))
                {
                    Begin($"matvec {QuantTypes.Get(type).Name}");
                    matvec.AddRange(bench.Measure(type, threadCounts, [Simd.Best], options.MatVecBudget, cancel, Advance));
                }
            }
            foreach (var type in matmulTypes)
            {
                Begin($"matmul {QuantTypes.Get(type).Name}");
                matmul.AddRange(bench.MeasureMatMul(type, options.MatMulTokens, threadCounts, Simd.Best, options.MatMulBudget, cancel, Advance, options.MatMulWeightBytes));
            }
            foreach (var gpu in gpus)
            {
                Begin($"gpu {gpu.Name}");
                // A GPU that fails (driver fault, out of memory) costs its own figures, not the tune.
                try { gpuFigures.Add(GpuThroughput.Measure(gpu, bench, types, options.GpuWeightBytes, options.GpuWeightBytes / 4, options.MatMulTokens, options.GpuBudget, cancel, Advance)); }
                catch (Exception e) when (e is ComputeDeviceException or NotSupportedException or OutOfMemoryException)
                {
                    notes.Add($"gpu {gpu.Name}: skipped, {e.Message}");
                }
            }
        }
        else if (gpus.Count > 0) notes.Add("gpu: skipped, no matvec weight type to measure");
        foreach (var skipped in options.MatVecTypes.Union(options.MatMulTypes).Where(t => QuantTypes.Get(t).Quantize is null))
            notes.Add($"matvec: {QuantTypes.Get(skipped).Name} skipped, it has no quantizer to build test rows");

        DiskMeasurements? diskFigures = null;
        if (disk)
        {
            Begin("disk");
            // Free space comes from the probe's snapshot (the probe is the one reader of file-system facts).
            long? free = hardware.Disk.FreeBytes;
            long bytes = free is long f ? Math.Min(options.DiskFileBytes, f / 4) : options.DiskFileBytes;
            if (bytes < (16L << 20)) notes.Add($"disk: skipped, only {(free ?? 0) >> 20} MiB free at {PathPrivacy.Redact(options.DiskFolder)}");
            else
            {
                try { diskFigures = DiskBandwidth.Measure(options.DiskFolder, bytes, options.DiskBlockSizes, options.DiskQueueDepths, options.DiskBudget, notes, cancel, Advance); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // A read-only or full model folder costs the disk figures, not the whole tune.
                    notes.Add($"disk: skipped, the scratch file could not be written or read ({e.Message})");
                }
            }
        }

        var measurements = new TuneMeasurements(options.MemoryBufferBytes, memory.ToImmutable(), matvec.ToImmutableArray(), diskFigures,
            clock.Elapsed.TotalSeconds, matmul.ToImmutableArray(), gpuFigures.ToImmutableArray());
        string reference = types.Count > 0 ? QuantTypes.Get(types[0]).Name : "";
        var settings = SettingsChooser.Choose(measurements, hardware.Cpu, reference);
        progress?.Invoke(new TuneProgress("done", 1));
        return new HardwareProfile(
            HardwareProfile.CurrentSchemaVersion,
            HardwareFingerprint.Compute(hardware),
            ToolVersion,
            DateTimeOffset.UtcNow,
            options.Quick,
            hardware,
            measurements,
            settings,
            notes.ToImmutableArray());
    }
}
