using HybridEngine.Hardware;
using HybridEngine.Planning;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// The block size and queue depth the expert reader uses, chosen from the profile's direct-I/O measurements by
/// <see cref="ExpertReadRule"/> (the rule the planner's disk time uses too): with prefetch the fastest point whose
/// block fits in a slab, without it the point at which an expert read alone is fastest.
/// </summary>
/// <param name="GBps">The chosen point's measured bandwidth, 10⁹ B/s (0 when not measured).</param>
/// <param name="Fill">Share of <paramref name="GBps"/> an expert read alone reaches (<see cref="ExpertReadRule.Fill"/>).</param>
public readonly record struct ExpertReadSettings(int BlockBytes, int QueueDepth, double GBps, double Fill = 1)
{
    /// <summary>Relative bandwidth difference below which two measured points count as equal.</summary>
    public const double Tolerance = ExpertReadRule.Tolerance;

    /// <summary>
    /// The settings for streaming <paramref name="streamed"/> experts of <paramref name="store"/> on the profile's
    /// machine, with or without <paramref name="prefetch"/>, under an optional disk-speed cap.
    /// </summary>
    public static ExpertReadSettings For(HardwareProfile profile, WeightStore store, IEnumerable<(int Layer, int Expert)> streamed,
        bool prefetch = true, double? capGBps = null)
    {
        var experts = streamed.Select(x => (IReadOnlyList<long>)store.ExpertLayout(x.Layer, x.Expert)
            .Select(s => ExpertReadRule.AlignedSpan(s.FileOffset, s.Bytes)).ToArray()).ToList();
        var direct = profile.Measurements.Disk is { } d && !d.Direct.IsDefault ? d.Direct : [];
        return From(ExpertReadRule.Choose(direct, profile.Settings.IoBlockBytes, profile.Settings.IoQueueDepth, experts, !prefetch, capGBps));
    }

    /// <summary>The rule over measured <paramref name="points"/> for experts of the given aligned slab spans.</summary>
    public static ExpertReadSettings Choose(IReadOnlyList<DiskPoint> points, int tunedBlock, int tunedQueueDepth,
        IReadOnlyList<IReadOnlyList<long>> experts, bool prefetch = true) =>
        From(ExpertReadRule.Choose(points, tunedBlock, tunedQueueDepth, experts, !prefetch));

    private static ExpertReadSettings From(ExpertReadPoint p) => new(p.BlockBytes, p.QueueDepth, p.GBps, p.Fill);
}
