namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// Replays a request sequence against a byte-budgeted cache to score eviction policies offline: an online policy
/// (<see cref="EvictionPolicy"/>) or the offline optimum, Belady's rule (evict the cached item whose next request lies
/// furthest in the future; optimal for equal sizes, and the usual reference for items of near-equal size such as one
/// model's experts). Every miss inserts the item; a hit counts when the item is cached at its request.
/// <para>
/// With guesses (reads ahead of the requests, as the runtime's next-layer prefetch makes them), a guessed item not
/// cached is inserted when the guess is made, under the runtime's rules: it may evict only items the policy values
/// below it, and the guesses of one batch hold at most <see cref="Planning.Planner.PrefetchWasteShare"/> of the
/// capacity (at least one item). Reads are instant here, so this scores what guesses do to the cache's contents, not
/// to timing.
/// </para>
/// </summary>
public static class ExpertCacheSimulator
{
    /// <summary>Hit rate of <paramref name="policy"/> (null: Belady) over <paramref name="requests"/>.</summary>
    /// <param name="size">Bytes of an item.</param>
    /// <param name="guesses">Reads ahead, each made just before request <c>At</c>; ignored by Belady.</param>
    public static double HitRate(IReadOnlyList<(int Layer, int Expert)> requests, Func<(int Layer, int Expert), long> size, long capacity,
        EvictionPolicy? policy, IReadOnlyList<(int At, int Layer, int Expert)>? guesses = null)
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
        int g = 0;
        for (int i = 0; i < n; i++)
        {
            if (policy != null && guesses != null)
            {
                long guessed = 0;
                for (; g < guesses.Count && guesses[g].At <= i; g++)
                {
                    var item = (guesses[g].Layer, guesses[g].Expert);
                    long bytes = size(item);
                    if (cached.ContainsKey(item) || guessed + bytes > Math.Max(bytes, (long)(Planning.Planner.PrefetchWasteShare * capacity))) continue;
                    long id = EvictionPolicy.Key(item.Layer, item.Expert);
                    if (!MakeRoom(bytes, policy.PriorityIfRequested(id, i), i)) continue;
                    cached[item] = n;
                    policy.OnInsert(id, i);
                    used += bytes;
                    guessed += bytes;
                }
            }
            var key = requests[i];
            long keyId = EvictionPolicy.Key(key.Layer, key.Expert);
            policy?.OnRequest(keyId, i);
            if (cached.ContainsKey(key))
            {
                hits++;
                cached[key] = next[i];
                continue;
            }
            long keyBytes = size(key);
            if (keyBytes > capacity) continue;
            MakeRoom(keyBytes, double.MaxValue, i);
            cached[key] = next[i];
            policy?.OnInsert(keyId, i);
            used += keyBytes;
        }
        return hits / (double)n;

        // Evicts lowest-priority items (below `below`) until `bytes` fit; false when an item at or above it is in the way.
        bool MakeRoom(long bytes, double below, int now)
        {
            while (used + bytes > capacity)
            {
                (int, int) victim = default;
                double lowest = below;
                bool found = false;
                foreach (var (k, nextUse) in cached)
                {
                    // Belady keeps the item needed soonest: priority is minus the distance to its next request.
                    double p = policy is null ? -(double)nextUse : policy.Priority(EvictionPolicy.Key(k.Item1, k.Item2), now);
                    if (p < lowest) { lowest = p; victim = k; found = true; }
                }
                if (!found) return false;
                used -= size(victim);
                cached.Remove(victim);
                policy?.OnEvict(EvictionPolicy.Key(victim.Item1, victim.Item2));
            }
            return true;
        }
    }
}
