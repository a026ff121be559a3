using System.Globalization;
using HybridEngine.Configuration;
using HybridEngine.Planning;
using HybridEngine.Runtime;
using HybridEngine.Runtime.Streaming;

namespace HybridEngine.Cli;

// What `--stats` prints of a placed run: the accelerators' share, the expert cache's counters, the decode steps against
// the plan, and the peak resident memory.
public sealed partial class RuntimeSetup
{
    /// <summary>
    /// What sits on accelerators, for the stats line: then routed-expert products on the GPU and the CPU (and the layer
    /// steps where both overlapped), and the host↔device copies per token of the run.
    /// </summary>
    public static string AcceleratorSummary(DevicePlacement? placement, RuntimeCounters counters) => placement switch
    {
        null => "",
        { FellBack: true } => "; accelerators: fell back to the CPU",
        _ => string.Create(CultureInfo.InvariantCulture,
            $"; accelerators: {placement.Tensors} matrices and {placement.Experts} experts, {placement.DeviceBytes / 1e6:F2} MB on {string.Join(", ", placement.Accelerators.Select(d => d.Name))}") +
            BusSummary(placement, counters),
    };

    private static string BusSummary(DevicePlacement placement, RuntimeCounters counters)
    {
        var resident = placement.Accelerators.OfType<IResidentDevice>().ToList();
        long tokens = Math.Max(1, counters.PrefillTokens + counters.DecodeTokens);
        long copies = resident.Sum(d => d.Transfers.Copies), bytes = resident.Sum(d => d.Transfers.Bytes);
        return string.Create(CultureInfo.InvariantCulture,
            $"; routed experts {counters.DeviceExpertProducts} on GPU, {counters.CpuExpertProducts} on CPU ({counters.OverlappedExpertSteps} layer steps overlapped); " +
            $"bus {copies / (double)tokens:F1} copies and {bytes / 1e6 / tokens:F3} MB per token");
    }

    /// <summary>The process's peak resident memory (VmHWM, bytes), or null where /proc is not readable.</summary>
    public static long? PeakResidentBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private static string Peak() => PeakResidentBytes() is { } hwm ? $"; peak resident {hwm} bytes" : "";

    /// <summary>
    /// The cache's counters as stderr lines: the whole run, then (given the counters when prefill ended) the decode
    /// steps alone, which is what the plan's per-token predictions describe.
    /// </summary>
    public static string? StatsLine(Placed placed, RuntimeCounters counters, StreamingSnapshot? afterPrefill = null)
    {
        if (placed.Plan is null) return null;
        long tokens = Math.Max(1, counters.PrefillTokens + counters.DecodeTokens);
        var p = placed.Plan.Prediction;
        if (placed.Cache is not { } cache)
            return string.Create(CultureInfo.InvariantCulture,
                $"placement: {placed.Mode}; plan predicts {p.DecodeTokensPerSecond:F2} tok/s, {p.DiskBytesPerToken / 1e6:F2} MB/token from disk{AcceleratorSummary(placed.Placement, counters)}{Peak()}");
        var c = cache.Counters;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"expert cache ({placed.Mode}{(cache.IsDirect ? "" : ", buffered: the file system refused O_DIRECT")}, {ByteSize.Format(cache.Options.CapacityBytes)}, {cache.Options.Policy}): " +
            $"hits {c.Hits}, prefetched {c.PrefetchHits}, misses {c.Misses}, hit rate {c.HitRate:P1}; read {c.BytesRead / 1e6:F2} MB ({c.BytesRead / 1e6 / tokens:F2} MB/token); " +
            $"I/O wait {c.WaitSeconds:F3} s; reader {c.ReaderBytesPerSecond / 1e9:F2} GB/s while busy; prefetch recall {(double.IsNaN(c.PrefetchRecall) ? "n/a" : c.PrefetchRecall.ToString("P1", CultureInfo.InvariantCulture))}, " +
            $"{c.PrefetchReads} guessed reads ({c.DroppedGuesses} dropped unread); {c.ReusedBuffers} reads into reused buffers; {placed.Model.Weights.PrivateExperts?.Count ?? 0} experts pinned in private buffers " +
            $"({(placed.Model.Weights.PrivateExperts?.Bytes ?? 0) / 1e6:F2} MB); plan predicts {p.ExpertHitRate:P1} hits, {p.DiskBytesPerToken / 1e6:F2} MB/token, {p.DecodeTokensPerSecond:F2} tok/s{AcceleratorSummary(placed.Placement, counters)}{Peak()}");
        if (afterPrefill is not { } start || counters.DecodeTokens == 0) return line;
        var d = c.Snapshot() - start;
        double n = counters.DecodeTokens, perToken = d.BytesRead / n, tps = counters.DecodeTokensPerSecond;
        double Error(double measured, double predicted) => predicted > 0 ? measured / predicted - 1 : double.NaN;
        // The plan's hit rate counts every routed expert (pinned ones always hit), the cache's only the streamed ones.
        double routed = n * placed.Model.Model.Dimensions.ExpertsUsed * placed.Plan.Experts.Length;
        double servedAll = routed > 0 ? 1 - Math.Min(1, d.Misses / routed) : 1;
        // Disk roofline: the tokens/s the tuner's disk bandwidth (under a --disk-gbps cap) allows at the bytes really read
        // per token, whatever the mode (without prefetch the plan itself counts a lower rate).
        double diskRate = placed.Profile is { } tuned
            ? Math.Min(PlannerHardware.FromProfile(tuned, "").DiskReadGBps, placed.Plan.Options.DiskGBps ?? double.PositiveInfinity) * 1e9
            : p.DiskSeconds > 0 ? p.DiskBytesPerToken / p.DiskSeconds : 0;
        double roofline = perToken > 0 ? diskRate / perToken : 0;
        return line + Environment.NewLine + string.Create(CultureInfo.InvariantCulture,
            $"decode steps: {counters.DecodeTokens} tokens, {tps:F2} tok/s ({Error(tps, p.DecodeTokensPerSecond):+0.0%;-0.0%} vs plan), served from RAM {d.ServedRate:P1} of streamed, " +
            $"{servedAll:P1} of all routed experts (plan {p.ExpertHitRate:P1}), " +
            $"disk {perToken / 1e6:F2} MB/token ({Error(perToken, p.DiskBytesPerToken):+0.0%;-0.0%} vs plan), {d.PrefetchReads} guessed reads; " +
            $"reader busy {d.ReaderBusySeconds:F3} s of {counters.DecodeSeconds:F3} s at {d.ReaderBytesPerSecond / 1e9:F2} GB/s; I/O wait {d.WaitSeconds:F3} s; " +
            $"disk roofline {roofline:F2} tok/s at {diskRate / 1e9:F2} GB/s, ratio {(roofline > 0 ? tps / roofline : 0):F2}");
    }
}
