using HybridEngine.Hardware;
using HybridEngine.IO;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// The block size and queue depth the expert reader uses, taken from the profile's direct-I/O measurements.
/// <para>
/// A read never spans two slabs of an expert (gate, up and down lie in different stacked tensors), so a block larger
/// than the largest slab is never filled: with the tuner's favourite 4 MiB × 1 and 1.7 MB slabs, the disk sees single
/// 1.7 MB reads, a point that is slower than the tuner's best. So the reader takes the fastest measured point whose
/// block fits in a slab; points within <see cref="Tolerance"/> of it count as equal, and of those the one with the
/// fewest reads in flight (reader threads) wins, then the faster. Without such a point (no measurements, or slabs
/// smaller than every measured block) the tuned settings stand.
/// </para>
/// </summary>
/// <param name="GBps">The measured bandwidth of the chosen point, 10⁹ B/s (0 when not measured).</param>
public readonly record struct ExpertReadSettings(int BlockBytes, int QueueDepth, double GBps)
{
    /// <summary>Relative bandwidth difference below which two measured points count as equal (the tuner's run-to-run noise is a few %).</summary>
    public const double Tolerance = 0.03;

    /// <summary>The settings for streaming <paramref name="streamed"/> experts of <paramref name="store"/> on the profile's machine.</summary>
    public static ExpertReadSettings For(HardwareProfile profile, WeightStore store, IEnumerable<(int Layer, int Expert)> streamed)
    {
        long largest = 0;
        foreach (var (layer, expert) in streamed)
            foreach (var slab in store.ExpertLayout(layer, expert))
                largest = Math.Max(largest, (slab.FileOffset % DirectFile.Alignment + slab.Bytes + DirectFile.Alignment - 1) / DirectFile.Alignment * DirectFile.Alignment);
        var direct = profile.Measurements.Disk is { } d && !d.Direct.IsDefault ? d.Direct : [];
        return Choose(direct, profile.Settings.IoBlockBytes, profile.Settings.IoQueueDepth, largest);
    }

    /// <summary>The rule above over measured <paramref name="points"/>, for slabs of at most <paramref name="largestSlabBytes"/>.</summary>
    public static ExpertReadSettings Choose(IReadOnlyList<DiskPoint> points, int tunedBlock, int tunedQueueDepth, long largestSlabBytes)
    {
        double tunedGBps = points.Where(p => p.BlockBytes == tunedBlock && p.QueueDepth == tunedQueueDepth).Select(p => p.GBps).DefaultIfEmpty(0).Max();
        var tuned = new ExpertReadSettings(tunedBlock, tunedQueueDepth, tunedGBps);
        if (tunedBlock <= largestSlabBytes) return tuned;
        var fitting = points.Where(p => p.BlockBytes <= largestSlabBytes && p.GBps > 0).ToList();
        if (fitting.Count == 0) return tuned;
        var pick = DiskPoint.ShallowestAsGood(fitting, 1 - Tolerance).MaxBy(p => p.GBps)!;
        return new ExpertReadSettings(pick.BlockBytes, pick.QueueDepth, pick.GBps);
    }
}
