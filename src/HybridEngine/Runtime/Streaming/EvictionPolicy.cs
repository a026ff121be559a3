namespace HybridEngine.Runtime.Streaming;

/// <summary>Eviction policies of the expert cache (selectable with <c>--cache-policy</c>).</summary>
public enum EvictionPolicyKind
{
    /// <summary>Evict the expert used least recently.</summary>
    Lru,
    /// <summary>Evict the expert with the lowest exponentially decayed use count (frequency with decay).</summary>
    FrequencyDecay,
}

/// <summary>What a policy keeps about one cached expert.</summary>
public struct EvictionState
{
    /// <summary>Request clock of the last use.</summary>
    public long LastUse;
    /// <summary>Decayed use count as of <see cref="LastUse"/>.</summary>
    public double Score;
}

/// <summary>
/// An eviction policy: updates an entry's state on use and ranks entries; the cache evicts the lowest priority. Time
/// is the cache's request clock (one tick per expert request), so the policies do not depend on speed.
/// </summary>
public abstract class EvictionPolicy
{
    public abstract EvictionPolicyKind Kind { get; }

    /// <summary>Records a use at <paramref name="now"/> (also called once when the entry is inserted).</summary>
    public abstract void Touch(ref EvictionState state, long now);

    /// <summary>Higher keeps longer.</summary>
    public abstract double Priority(in EvictionState state, long now);

    public static EvictionPolicy Create(EvictionPolicyKind kind, long requestsPerWindow = 0) => kind switch
    {
        EvictionPolicyKind.Lru => new LruPolicy(),
        _ => new FrequencyDecayPolicy(requestsPerWindow > 0 ? requestsPerWindow * FrequencyDecayPolicy.HalfLifeWindows : FrequencyDecayPolicy.DefaultHalfLife),
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

/// <summary>Least recently used: priority is the time of last use.</summary>
public sealed class LruPolicy : EvictionPolicy
{
    public override EvictionPolicyKind Kind => EvictionPolicyKind.Lru;

    public override void Touch(ref EvictionState state, long now) => state.LastUse = now;

    public override double Priority(in EvictionState state, long now) => state.LastUse;
}

/// <summary>
/// Frequency with exponential decay: every use adds 1 to a score that halves every <see cref="HalfLife"/> requests,
/// <code>score(now) = Σ_uses 2^(−(now − t_use)/H)</code>
/// so popular experts stay even when a burst of one-off experts passes through (where LRU flushes them), and an expert
/// whose popularity fades is forgotten within a few half-lives. Ties (equal decayed scores) fall back to recency.
/// </summary>
public sealed class FrequencyDecayPolicy(double halfLife) : EvictionPolicy
{
    /// <summary>Half-life in requests when the cache does not know how many requests a token makes.</summary>
    public const double DefaultHalfLife = 4096;
    /// <summary>Half-life in tokens' worth of requests (one window = every layer's routed experts of one token).</summary>
    public const long HalfLifeWindows = 64;

    public double HalfLife { get; } = halfLife;

    public override EvictionPolicyKind Kind => EvictionPolicyKind.FrequencyDecay;

    public override void Touch(ref EvictionState state, long now)
    {
        state.Score = Decayed(state, now) + 1;
        state.LastUse = now;
    }

    // A tiny recency term breaks ties between equal scores in favour of the more recent expert.
    public override double Priority(in EvictionState state, long now) => Decayed(state, now) + state.LastUse * 1e-12;

    private double Decayed(in EvictionState state, long now) =>
        state.Score == 0 ? 0 : state.Score * Math.Pow(2, -(now - state.LastUse) / HalfLife);
}
