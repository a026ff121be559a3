namespace HybridEngine.Runtime.Streaming;

/// <summary>Eviction policies of the expert cache (selectable with <c>--cache-policy</c>).</summary>
public enum EvictionPolicyKind
{
    /// <summary>Evict the expert used least recently.</summary>
    Lru,
    /// <summary>Evict the expert with the lowest decayed request count, the newest on ties (frequency with decay).</summary>
    FrequencyDecay,
}

/// <summary>
/// An eviction policy: told of every request and insertion, it ranks cached items; the cache evicts the lowest
/// priority. Time is the cache's request clock (one tick per expert request), so policies do not depend on speed.
/// Items are (layer, expert) packed by <see cref="Key"/>.
/// </summary>
public abstract class EvictionPolicy
{
    public abstract EvictionPolicyKind Kind { get; }

    /// <summary>A request for the item (hit or miss).</summary>
    public abstract void OnRequest(long key, long now);

    /// <summary>The item entered the cache (after a miss, or read ahead).</summary>
    public abstract void OnInsert(long key, long now);

    /// <summary>The item left the cache.</summary>
    public abstract void OnEvict(long key);

    /// <summary>Higher keeps longer.</summary>
    public abstract double Priority(long key, long now);

    /// <summary>
    /// The priority an item not cached would have if it were requested now: a read ahead of its request (a guess) may
    /// evict only items below it.
    /// </summary>
    public abstract double PriorityIfRequested(long key, long now);

    public static long Key(int layer, int expert) => ((long)layer << 32) | (uint)expert;

    /// <param name="requestsPerToken">Expert requests one token makes (MoE layers × experts used); scales the decay.</param>
    public static EvictionPolicy Create(EvictionPolicyKind kind, long requestsPerToken = 0) => kind switch
    {
        EvictionPolicyKind.Lru => new LruPolicy(),
        _ => new FrequencyDecayPolicy(Math.Max(1, requestsPerToken > 0 ? requestsPerToken : 64) * FrequencyDecayPolicy.HalvingTokens),
    };

    public static bool TryParse(string text, out EvictionPolicyKind kind)
    {
        switch (text.ToLowerInvariant())
        {
            case "lru": kind = EvictionPolicyKind.Lru; return true;
            case "lfu-decay" or "frequency" or "frequency-decay": kind = EvictionPolicyKind.FrequencyDecay; return true;
            default: kind = default; return false;
        }
    }
}

/// <summary>Least recently used: priority is the time of the last request (or insertion).</summary>
public sealed class LruPolicy : EvictionPolicy
{
    private readonly Dictionary<long, long> _last = [];

    public override EvictionPolicyKind Kind => EvictionPolicyKind.Lru;

    public override void OnRequest(long key, long now) => _last[key] = now;

    public override void OnInsert(long key, long now) => _last[key] = now;

    public override void OnEvict(long key) => _last.Remove(key);

    public override double Priority(long key, long now) => _last.GetValueOrDefault(key);

    public override double PriorityIfRequested(long key, long now) => now;
}

/// <summary>
/// Frequency with decay. Every request adds 1 to the item's count, kept also while the item is not cached (a small
/// table: one entry per expert ever requested), and all counts halve every <see cref="HalvingRequests"/> requests, so
/// <code>priority = Σ_requests 2^−(epochs since the request)  −  ε · insertion time</code>
/// Popular experts stay when a burst of one-off experts passes (where LRU flushes them), and fading ones are forgotten
/// within a few epochs. Halving by epochs rather than continuously keeps equally popular experts exactly tied, and a
/// tie evicts the most recently inserted one: when the hot set is a little larger than the cache (routing that repeats
/// the same experts token after token), most of it stays put and one slot turns over, where LRU would evict each
/// expert just before its next use and hit nothing.
/// </summary>
public sealed class FrequencyDecayPolicy(long halvingRequests) : EvictionPolicy
{
    /// <summary>Counts halve every this many tokens' worth of requests.</summary>
    public const long HalvingTokens = 32;

    private const double TieBreak = 1e-12;
    private readonly Dictionary<long, (double Count, long Epoch)> _counts = [];
    private readonly Dictionary<long, long> _inserted = [];

    public long HalvingRequests { get; } = Math.Max(1, halvingRequests);

    public override EvictionPolicyKind Kind => EvictionPolicyKind.FrequencyDecay;

    public override void OnRequest(long key, long now) => _counts[key] = (Count(key, now) + 1, now / HalvingRequests);

    public override void OnInsert(long key, long now) => _inserted[key] = now;

    public override void OnEvict(long key) => _inserted.Remove(key);

    public override double Priority(long key, long now) => Count(key, now) - TieBreak * _inserted.GetValueOrDefault(key);

    public override double PriorityIfRequested(long key, long now) => Count(key, now) + 1 - TieBreak * now;

    private double Count(long key, long now)
    {
        if (!_counts.TryGetValue(key, out var c)) return 0;
        long epochs = now / HalvingRequests - c.Epoch;
        return epochs >= 60 ? 0 : Math.ScaleB(c.Count, -(int)epochs);
    }
}
