using HybridEngine.Runtime.Streaming;

namespace HybridEngine.Server;

/// <summary>
/// The expert-streaming figures of <c>GET /metrics</c>, from the runtime's counters. With every expert resident nothing
/// streams: the hit rate is 1 (every expert use is served from memory) and disk bytes per token 0. With the engine's
/// own expert cache (direct I/O) they are its counters: hits / (hits + prefetch hits + misses), the
/// <see cref="StreamingCounters.HitRate"/> that <c>run --stats</c> prints, and bytes read / tokens run (prefill and
/// decode). Left to the OS page cache, the reads are the kernel's and uncounted: both are null.
/// </summary>
public readonly record struct ExpertFigures(double? HitRate, double? DiskBytesPerToken, long? Hits, long? PrefetchHits, long? Misses, long? BytesRead)
{
    /// <param name="tokens">Tokens the executor ran, prompt and generated (the divisor of disk bytes per token).</param>
    public static ExpertFigures From(Placement placement, StreamingCounters? streaming, long tokens) => (placement, streaming) switch
    {
        (Placement.Resident, _) => new(1, 0, 0, 0, 0, 0),
        (Placement.Direct, { } c) => new(c.HitRate, tokens == 0 ? 0 : c.BytesRead / (double)tokens, c.Hits, c.PrefetchHits, c.Misses, c.BytesRead),
        _ => new(null, null, null, null, null, null),
    };
}
