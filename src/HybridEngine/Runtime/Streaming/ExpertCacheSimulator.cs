namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// Replays a request sequence against a byte-budgeted cache to score eviction policies offline: an online policy
/// (<see cref="EvictionPolicy"/>) or the offline optimum, Belady's rule (evict the cached item whose next request lies
/// furthest in the future; optimal for equal sizes, and the usual reference for items of near-equal size such as one
/// model's experts). Every miss inserts the item; a hit counts when the item is cached at its request.
/// </summary>
public static class ExpertCacheSimulator
{
    /// <summary>Hit rate of <paramref name="policy"/> (null: Belady) over <paramref name="requests"/>.</summary>
    /// <param name="size">Bytes of an item.</param>
    public static double HitRate(IReadOnlyList<(int Layer, int Expert)> requests, Func<(int Layer, int Expert), long> size, long capacity,
        EvictionPolicy? policy)
    {
        int n = requests.Count;
        if (n == 0) return 1;
        // next[i]: index of the next request of the same item after i (n when none).
        var next = new int[n];
        var seen = new Dictionary<(int, int), int>();
        for (int i = n - 1; i >= 0; i--)
        {
            next[i] = seen.TryGetValue(requests[i], out int j) ? j : n;
            seen[requests[i]] = i;
        }

        var cached = new Dictionary<(int, int), int>(); // item → index of its next request
        long used = 0, hits = 0;
        for (int i = 0; i < n; i++)
        {
            var key = requests[i];
            long id = EvictionPolicy.Key(key.Layer, key.Expert);
            policy?.OnRequest(id, i);
            if (cached.ContainsKey(key))
            {
                hits++;
                cached[key] = next[i];
                continue;
            }
            long bytes = size(key);
            if (bytes > capacity) continue;
            while (used + bytes > capacity)
            {
                (int, int) victim = default;
                double lowest = double.MaxValue;
                foreach (var (k, nextUse) in cached)
                {
                    // Belady keeps the item needed soonest: priority is minus the distance to its next request.
                    double p = policy is null ? -(double)nextUse : policy.Priority(EvictionPolicy.Key(k.Item1, k.Item2), i);
                    if (p < lowest) { lowest = p; victim = k; }
                }
                used -= size(victim);
                cached.Remove(victim);
                policy?.OnEvict(EvictionPolicy.Key(victim.Item1, victim.Item2));
            }
            cached[key] = next[i];
            policy?.OnInsert(id, i);
            used += bytes;
        }
        return hits / (double)n;
    }
}
