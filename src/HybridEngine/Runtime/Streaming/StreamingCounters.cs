using System.Diagnostics;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// Counters of the expert cache: demand hits and misses, bytes read from disk, time the compute thread waited on
/// reads, and how well next-layer guesses predicted the experts the router then chose (recall).
/// </summary>
public sealed class StreamingCounters
{
    private long _bytesRead;

    /// <summary>Expert requests found in the cache, kept from an earlier use.</summary>
    public long Hits { get; internal set; }
    /// <summary>Expert requests found in the cache (ready or in flight) because a next-layer guess read them.</summary>
    public long PrefetchHits { get; internal set; }
    /// <summary>Expert requests that started a read.</summary>
    public long Misses { get; internal set; }
    public long BytesRead => Interlocked.Read(ref _bytesRead);
    /// <summary>Stopwatch ticks the compute thread spent waiting for reads.</summary>
    public long WaitTicks { get; internal set; }
    /// <summary>Experts the router chose in layers that had a guess.</summary>
    public long GuessedLayerExperts { get; internal set; }
    /// <summary>Of those, how many had been guessed.</summary>
    public long GuessedCorrectly { get; internal set; }
    /// <summary>Reads started by guesses.</summary>
    public long PrefetchReads { get; internal set; }

    /// <summary>Share of requests served by experts kept from earlier use (prefetched ones are not counted as hits).</summary>
    public double HitRate => Hits + Misses + PrefetchHits == 0 ? 1 : Hits / (double)(Hits + Misses + PrefetchHits);
    public double WaitSeconds => WaitTicks / (double)Stopwatch.Frequency;
    /// <summary>Share of chosen experts that the previous layer's guess named; NaN when nothing was guessed.</summary>
    public double PrefetchRecall => GuessedLayerExperts == 0 ? double.NaN : GuessedCorrectly / (double)GuessedLayerExperts;

    internal void AddBytes(long bytes) => Interlocked.Add(ref _bytesRead, bytes);
}
