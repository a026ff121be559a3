using System.Diagnostics;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// Counters of the expert cache: demand hits and misses, bytes read from disk, time the compute thread waited on
/// reads, and how well next-layer guesses predicted the experts the router then chose (recall).
/// </summary>
public sealed class StreamingCounters
{
    private readonly object _busyGate = new();
    private long _bytesRead, _busyTicks, _busySince;
    private int _inFlight;

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
    /// <summary>Guessed reads shown wrong by the router before all their pieces had started: the rest was never read.</summary>
    public long DroppedGuesses { get; internal set; }
    /// <summary>Reads that went into the buffer of an evicted expert instead of a newly allocated one.</summary>
    public long ReusedBuffers { get; internal set; }

    /// <summary>Share of requests served by experts kept from earlier use (prefetched ones are not counted as hits).</summary>
    public double HitRate => Hits + Misses + PrefetchHits == 0 ? 1 : Hits / (double)(Hits + Misses + PrefetchHits);
    public double WaitSeconds => WaitTicks / (double)Stopwatch.Frequency;
    /// <summary>Share of chosen experts that the previous layer's guess named; NaN when nothing was guessed.</summary>
    public double PrefetchRecall => GuessedLayerExperts == 0 ? double.NaN : GuessedCorrectly / (double)GuessedLayerExperts;

    /// <summary>
    /// Stopwatch ticks during which at least one read was in flight. Bytes read ÷ this time is the bandwidth the reader
    /// sustained while it streamed (the disk's share the cache really gets), apart from the time it sat idle.
    /// </summary>
    public long ReaderBusyTicks
    {
        get
        {
            lock (_busyGate) return _busyTicks + (_inFlight > 0 ? Stopwatch.GetTimestamp() - _busySince : 0);
        }
    }

    /// <summary>Bytes read per second of reader-busy time (0 before any read).</summary>
    public double ReaderBytesPerSecond => ReaderBusyTicks == 0 ? 0 : BytesRead / (ReaderBusyTicks / (double)Stopwatch.Frequency);

    /// <summary>The counters now, to subtract from a later snapshot (e.g. the decode phase apart from prefill).</summary>
    public StreamingSnapshot Snapshot() => new(Hits, PrefetchHits, Misses, BytesRead, WaitTicks, ReaderBusyTicks, PrefetchReads);

    internal void AddBytes(long bytes) => Interlocked.Add(ref _bytesRead, bytes);

    /// <summary>A reader starts one expert's reads.</summary>
    internal void ReadStarted()
    {
        lock (_busyGate) if (_inFlight++ == 0) _busySince = Stopwatch.GetTimestamp();
    }

    /// <summary>A reader finished (or failed) one expert's reads.</summary>
    internal void ReadEnded()
    {
        lock (_busyGate) if (--_inFlight == 0) _busyTicks += Stopwatch.GetTimestamp() - _busySince;
    }
}

/// <summary>The streaming counters at one moment; the difference of two is what happened in between.</summary>
public readonly record struct StreamingSnapshot(long Hits, long PrefetchHits, long Misses, long BytesRead, long WaitTicks, long ReaderBusyTicks, long PrefetchReads)
{
    public static StreamingSnapshot operator -(StreamingSnapshot a, StreamingSnapshot b) => new(a.Hits - b.Hits, a.PrefetchHits - b.PrefetchHits,
        a.Misses - b.Misses, a.BytesRead - b.BytesRead, a.WaitTicks - b.WaitTicks, a.ReaderBusyTicks - b.ReaderBusyTicks, a.PrefetchReads - b.PrefetchReads);

    public long Requests => Hits + PrefetchHits + Misses;
    /// <summary>Share of requests served without a demand read (kept or prefetched).</summary>
    public double ServedRate => Requests == 0 ? 1 : (Hits + PrefetchHits) / (double)Requests;
    public double WaitSeconds => WaitTicks / (double)Stopwatch.Frequency;
    public double ReaderBusySeconds => ReaderBusyTicks / (double)Stopwatch.Frequency;
    public double ReaderBytesPerSecond => ReaderBusyTicks == 0 ? 0 : BytesRead / ReaderBusySeconds;
}
