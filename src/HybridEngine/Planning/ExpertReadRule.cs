using HybridEngine.Hardware;
using HybridEngine.IO;

namespace HybridEngine.Planning;

/// <summary>A direct-I/O point as the expert reader uses it.</summary>
/// <param name="GBps">The point's measured bandwidth (10⁹ B/s; 0 when not measured).</param>
/// <param name="Fill">Share of that bandwidth an expert read alone reaches (<see cref="ExpertReadRule.Fill"/>).</param>
/// <param name="CapGBps">A --disk-gbps cap on every rate, or null.</param>
public readonly record struct ExpertReadPoint(int BlockBytes, int QueueDepth, double GBps, double Fill, double? CapGBps = null)
{
    /// <summary>Bandwidth with several experts queued: min(<see cref="GBps"/>, cap).</summary>
    public double FullGBps => Math.Min(GBps, CapGBps ?? double.PositiveInfinity);

    /// <summary>Bandwidth of an expert read alone: min(<see cref="GBps"/> × <see cref="Fill"/>, cap).</summary>
    public double DemandGBps => Math.Min(GBps * Fill, CapGBps ?? double.PositiveInfinity);
}

/// <summary>
/// The one rule the expert reader and the planner share for the block size and queue depth of expert reads and for the
/// bandwidth they reach.
/// <para>
/// Pieces. An expert's read is cut, slab by slab (gate, up, down lie in different stacked tensors), into pieces of at
/// most the block size, taken in order by q reader threads. A point measured at q reads in flight gives each of them
/// about GBps / q, so a piece of s bytes takes s·q / GBps. Read alone, an expert's pieces go in rounds of q, each as
/// long as its longest piece, and fill = (Σ s / GBps) ÷ Σ over rounds (q · max s / GBps) = Σ s ÷ (q · Σ max s): the
/// share of the point's bandwidth a lone expert gets. E.g. slabs of 1.62, 1.62 and 1.98 MB in 1 MiB pieces at depth 4
/// are 6 pieces, 2 rounds of 1 MiB: fill 5.2 ÷ (4 · 2 · 1.05) = 0.62. Depth 1 always fills.
/// </para>
/// <para>
/// Choice. Only points whose block fits in the largest slab count (a larger block is never filled, and shorter reads
/// are slower than the point measured); without one the tuned settings stand. Prefetching queues several experts at
/// once, which keeps every reader busy: the tuned point stands if its block fits, else the point with the best
/// bandwidth wins. Without prefetch each missing expert
/// is read alone: the point with the best <see cref="ExpertReadPoint.DemandGBps"/> wins. Either way, points within
/// <see cref="Tolerance"/> of the best count as equal and the one with the fewest reads in flight wins, then the faster.
/// A --disk-gbps cap X bounds the rates before the choice: min(GBps, X) and min(GBps · fill, X), since the reader's
/// pacing is one budget of X for all readers (an expert read alone in several pieces then still moves at X).
/// </para>
/// </summary>
public static class ExpertReadRule
{
    /// <summary>Relative bandwidth difference below which two points count as equal (the tuner's run-to-run noise is a few %).</summary>
    public const double Tolerance = 0.03;

    /// <summary>The bytes a slab's direct read covers: from its start rounded down to the I/O alignment to its end rounded up.</summary>
    public static long AlignedSpan(long fileOffset, long bytes)
    {
        long a = DirectFile.Alignment;
        return (fileOffset + bytes + a - 1) / a * a - fileOffset / a * a;
    }

    /// <summary>
    /// The share of the point's bandwidth that <paramref name="experts"/> (each the aligned spans of its slabs) reach
    /// when each is read alone in <paramref name="blockBytes"/> pieces by <paramref name="queueDepth"/> readers; 1 for
    /// no bytes.
    /// </summary>
    public static double Fill(IEnumerable<IReadOnlyList<long>> experts, int blockBytes, int queueDepth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockBytes);
        int q = Math.Max(1, queueDepth);
        double bytes = 0, rounds = 0;
        foreach (var spans in experts)
        {
            int inRound = 0;
            long longest = 0;
            foreach (long span in spans)
                for (long done = 0; done < span; done += blockBytes)
                {
                    longest = Math.Max(longest, Math.Min(blockBytes, span - done));
                    bytes += Math.Min(blockBytes, span - done);
                    if (++inRound == q) { rounds += longest; inRound = 0; longest = 0; }
                }
            rounds += longest; // the last round, not full
        }
        return rounds > 0 ? bytes / (q * rounds) : 1;
    }

    /// <summary>
    /// The rule above over measured <paramref name="points"/> for <paramref name="experts"/> (aligned slab spans),
    /// with prefetching (<paramref name="demand"/> false) or without, under an optional cap of <paramref name="capGBps"/>.
    /// </summary>
    public static ExpertReadPoint Choose(IReadOnlyList<DiskPoint> points, int tunedBlock, int tunedDepth,
        IReadOnlyList<IReadOnlyList<long>> experts, bool demand, double? capGBps = null)
    {
        ExpertReadPoint Point(int block, int depth, double gbps) => new(block, depth, gbps, Fill(experts, block, depth), capGBps);
        long largest = experts.SelectMany(e => e).DefaultIfEmpty(0).Max();
        double tunedGBps = DiskPoint.At(points, tunedBlock, tunedDepth) ?? 0;
        var tuned = Point(tunedBlock, tunedDepth, tunedGBps);
        // With prefetch the tuned point stands when its block fits (the reader's long-standing rule).
        if (!demand && tunedBlock <= largest) return tuned;
        var fitting = points.Where(p => p.BlockBytes <= largest && p.GBps > 0).Select(p => Point(p.BlockBytes, p.QueueDepth, p.GBps)).ToList();
        if (fitting.Count == 0) return tuned;
        // Ranked by the bandwidth that counts in the mode: the shared tie rule works on DiskPoints carrying that figure.
        double Rate(ExpertReadPoint p) => demand ? p.DemandGBps : p.FullGBps;
        var ranked = fitting.Select(p => new DiskPoint(p.BlockBytes, p.QueueDepth, Rate(p))).ToList();
        var pick = DiskPoint.ShallowestAsGood(ranked, 1 - Tolerance).MaxBy(p => p.GBps)!;
        return fitting.First(p => p.BlockBytes == pick.BlockBytes && p.QueueDepth == pick.QueueDepth);
    }
}
