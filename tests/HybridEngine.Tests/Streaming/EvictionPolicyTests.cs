using System.Globalization;
using HybridEngine.Gguf;
using HybridEngine.Planning;
using HybridEngine.Runtime;
using HybridEngine.Runtime.Streaming;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// Eviction policies on a routing trace recorded from the small synthetic deepseek2 written with --skew 1 (popularity
/// rank k gets selection bias −ln(1+k)): 7 MoE layers × 32 experts, 4 chosen per token, 256 decoded tokens of a seeded
/// random token sequence, with the next-layer guesses (the next router applied to each layer's input) the runtime's
/// prefetch would read. Budgets are 5 % to 25 % of the routed-expert bytes.
/// </summary>
[Collection(StreamingCollection.Name)]
public sealed class EvictionPolicyTests(StreamingFixture f, ITestOutputHelper log)
{
    private static readonly double[] Budgets = [0.05, 0.10, 0.15, 0.20, 0.25];

    private (RoutingTrace Trace, ModelInventory Inventory) Record(int tokens)
    {
        using var loaded = LoadedModel.Load(f.Small);
        using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: tokens, Threads: 1));
        var trace = new RoutingTrace();
        executor.Counters.Trace = trace;
        var random = new Random(11);
        for (int t = 0; t < tokens; t++) executor.Forward([random.Next(executor.Vocab)], t);
        return (trace, ModelInventory.FromGguf(loaded.File));
    }

    /// <summary>A trace saved and loaded back is the same sequence, token by token, with its guesses where they were made.</summary>
    [Fact]
    public void TraceRoundTripsThroughItsTextFile()
    {
        var trace = new RoutingTrace();
        trace.BeginToken(); trace.Add(1, 3); trace.Add(2, 31);
        trace.BeginToken(); trace.AddGuess(2, [5, 6]); trace.Add(1, 0);
        string path = Path.Combine(f.Root, "trace.txt");
        trace.Save(path);
        var back = RoutingTrace.Load(path);
        Assert.Equal(2, back.Tokens);
        Assert.Equal(trace.Requests, back.Requests);
        Assert.Equal([(2, 2, 5), (2, 2, 6)], back.Guesses);
    }

    /// <summary>Belady on a hand-made sequence: capacity 2, requests a b c a b — evicting c's slot for a keeps a and b.</summary>
    [Fact]
    public void OptimumIsBeladysRule()
    {
        (int, int)[] r = [(0, 0), (0, 1), (0, 2), (0, 0), (0, 1)];
        // Belady: a b miss; c evicts b (next use 4) rather than a (next use 3); a hits; b misses → 1 hit of 5.
        Assert.Equal(1 / 5.0, ExpertCacheSimulator.HitRate(r, _ => 10, 20, null), 9);
        // LRU: c evicts a; a evicts b; b misses → 0 hits.
        Assert.Equal(0.0, ExpertCacheSimulator.HitRate(r, _ => 10, 20, EvictionPolicy.Create(EvictionPolicyKind.Lru)), 9);
    }

    /// <summary>
    /// The targets, budget by budget (5 % to 25 % of the routed-expert bytes):
    /// <list type="bullet">
    /// <item>the default policy beats LRU by at least 5 points and never collapses (above 20 % at 5 %);</item>
    /// <item>the default configuration (the policy with the next-layer guesses the runtime reads ahead) is within 5
    /// points of the offline optimum, Belady's rule on the requests alone;</item>
    /// <item>the guesses never lower the hit rate (a guess evicts only what the policy values less);</item>
    /// <item>the policy alone is within 2 points of the best fixed set of experts chosen knowing the whole trace's
    /// counts (keep the C − 1 most requested, one slot for the rest): for requests independent from token to token,
    /// as here, that set is about the best a policy without a look ahead can do, and it is itself 5 to 9 points below
    /// Belady's (which knows each token's choice), so the 5-point target needs the guesses.</item>
    /// </list>
    /// Measured (guess recall 72.5 %), budget | LRU | default | default + guesses | optimum | best fixed set:
    /// 5 % | 0.0 | 26.3 | 34.3 | 34.1 | 27.7; 10 % | 0.0 | 47.8 | 54.2 | 57.9 | 49.2; 15 % | 45.5 | 63.8 | 69.0 | 72.0 | 64.6;
    /// 20 % | 57.3 | 73.5 | 77.7 | 80.6 | 74.6; 25 % | 70.8 | 81.0 | 84.2 | 86.6 | 82.0. The guessed reads are instant
    /// in the simulator; the runtime counts a request found in flight as served too.
    /// </summary>
    [Fact]
    public void DefaultPolicyBeatsLruAndStaysNearTheOptimum()
    {
        var (trace, inventory) = Record(256);
        Assert.Equal(256, trace.Tokens);
        var sizes = inventory.MoeLayers.ToDictionary(l => l.Layer, l => l.ExpertBytes);
        long Size((int Layer, int Expert) x) => sizes[x.Layer];
        long requestsPerToken = inventory.MoeLayers.Length * inventory.HyperParameters.ExpertsUsed;
        EvictionPolicy Default() => EvictionPolicy.Create(EvictionPolicyKind.FrequencyDecay, requestsPerToken);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"guess recall {Recall(trace):P1} ({trace.Guesses.Count} guessed experts)"));
        foreach (double share in Budgets)
        {
            long capacity = (long)(inventory.RoutedExpertBytes * share);
            double lru = ExpertCacheSimulator.HitRate(trace.Requests, Size, capacity, EvictionPolicy.Create(EvictionPolicyKind.Lru));
            double freq = ExpertCacheSimulator.HitRate(trace.Requests, Size, capacity, Default());
            double guessed = ExpertCacheSimulator.HitRate(trace.Requests, Size, capacity, Default(), trace.Guesses);
            double best = ExpertCacheSimulator.HitRate(trace.Requests, Size, capacity, null);
            double fixedSet = BestFixedSet(trace.Requests, (int)(capacity / sizes.Values.Max()));
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {share:P0} | {lru:P1} | {freq:P1} | {guessed:P1} | {best:P1} | {fixedSet:P1} |"));
            Assert.True(freq >= lru + 0.05, $"budget {share:P0}: default {freq:P1} is not 5 points above LRU {lru:P1}");
            Assert.True(freq > 0.2, $"budget {share:P0}: default collapsed to {freq:P1}");
            Assert.True(guessed >= best - 0.05, $"budget {share:P0}: default with guesses {guessed:P1} is more than 5 points below the optimum {best:P1}");
            Assert.True(guessed >= freq, $"budget {share:P0}: guesses lowered the hit rate from {freq:P1} to {guessed:P1}");
            Assert.True(freq >= fixedSet - 0.02, $"budget {share:P0}: default {freq:P1} is more than 2 points below the best fixed set {fixedSet:P1}");
            Assert.True(best >= freq && best >= lru, "the offline optimum must bound both demand policies");
        }
        Assert.Equal(EvictionPolicyKind.FrequencyDecay, new ExpertCacheOptions(1, 1, 1).Policy);
    }

    // Hit rate of a cache that holds the `slots - 1` most requested items of the whole trace from the start (each
    // item's first request still misses) and passes everything else through its last slot, which hits only on an
    // immediate repeat (never here: a token's experts of one layer are distinct).
    private static double BestFixedSet(IReadOnlyList<(int Layer, int Expert)> requests, int slots)
    {
        var counts = requests.GroupBy(r => r).Select(g => g.Count()).OrderByDescending(c => c).Take(Math.Max(0, slots - 1));
        return counts.Sum(c => c - 1) / (double)requests.Count;
    }

    // Share of the experts the router chose, in layers that had a guess, that the guess named.
    private static double Recall(RoutingTrace trace)
    {
        long named = 0, total = 0;
        var byBatch = trace.Guesses.GroupBy(g => (g.At, g.Layer));
        foreach (var batch in byBatch)
        {
            var guessed = batch.Select(g => g.Expert).ToHashSet();
            // The guessed layer's requests come right after the guess (made after the previous layer's requests).
            for (int i = batch.Key.At; i < trace.Requests.Count && trace.Requests[i].Layer == batch.Key.Layer; i++)
            {
                total++;
                if (guessed.Contains(trace.Requests[i].Expert)) named++;
            }
        }
        return total == 0 ? double.NaN : named / (double)total;
    }
}
