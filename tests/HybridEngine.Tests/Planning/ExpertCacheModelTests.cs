using HybridEngine.Planning;
using Xunit;

namespace HybridEngine.Tests.Planning;

/// <summary>Che's approximation against a simulated LRU cache under independent requests.</summary>
public sealed class ExpertCacheModelTests
{
    [Theory]
    [InlineData(0.0, 20)]
    [InlineData(0.8, 20)]
    [InlineData(1.2, 10)]
    [InlineData(1.2, 50)]
    public void HitRateMatchesASimulatedLruCache(double zipf, int capacityItems)
    {
        const int items = 200, requests = 400_000;
        double[] weights = Enumerable.Range(0, items).Select(i => 1 / Math.Pow(1 + i, zipf)).ToArray();
        double total = weights.Sum();
        double[] rates = weights.Select(w => w / total).ToArray(); // one request per step
        long[] sizes = Enumerable.Repeat(1000L, items).ToArray();

        double[] hits = ExpertCacheModel.HitProbabilities(rates, sizes, capacityItems * 1000L);
        double predicted = rates.Zip(hits, (r, h) => r * h).Sum();
        double simulated = SimulateLru(rates, capacityItems, requests, seed: 11);
        // Che's approximation is known to be within a few tenths of a percent for caches of tens of items or more;
        // 0.02 absolute also covers the simulation's sampling noise (about 0.001 at 400k requests).
        Assert.InRange(predicted - simulated, -0.02, 0.02);
    }

    [Fact]
    public void EverythingFitsMeansEveryRequestedItemHitsAndUnrequestedOnesDoNot()
    {
        double[] hits = ExpertCacheModel.HitProbabilities([0.5, 0.0, 0.25], [10, 1000, 10], 20);
        Assert.Equal([1.0, 0.0, 1.0], hits);
    }

    [Fact]
    public void NoCapacityMeansNoHitsAndMorePopularItemsHitMore()
    {
        Assert.All(ExpertCacheModel.HitProbabilities([0.3, 0.2], [10, 10], 0), h => Assert.Equal(0, h));
        double[] hits = ExpertCacheModel.HitProbabilities([0.4, 0.2, 0.1, 0.05], [10, 10, 10, 10], 20);
        for (int i = 0; i + 1 < hits.Length; i++) Assert.True(hits[i] > hits[i + 1]);
        // The cache is full at the characteristic time: occupancy equals the capacity.
        Assert.Equal(20, hits.Sum() * 10, 6);
    }

    private static double SimulateLru(double[] rates, int capacity, int requests, int seed)
    {
        var random = new Random(seed);
        double[] cumulative = new double[rates.Length];
        double acc = 0;
        for (int i = 0; i < rates.Length; i++) cumulative[i] = acc += rates[i];
        var order = new LinkedList<int>();
        var nodes = new Dictionary<int, LinkedListNode<int>>();
        int hits = 0, warmup = requests / 10;
        for (int r = 0; r < requests; r++)
        {
            int item = Array.BinarySearch(cumulative, random.NextDouble() * acc);
            if (item < 0) item = Math.Min(~item, rates.Length - 1);
            if (nodes.TryGetValue(item, out var node))
            {
                if (r >= warmup) hits++;
                order.Remove(node);
                order.AddFirst(node);
                continue;
            }
            if (nodes.Count == capacity)
            {
                nodes.Remove(order.Last!.Value);
                order.RemoveLast();
            }
            nodes[item] = order.AddFirst(item);
        }
        return (double)hits / (requests - warmup);
    }
}
