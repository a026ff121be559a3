using HybridEngine.Kernels;
using HybridEngine.Runtime;
using HybridEngine.Runtime.Streaming;
using Xunit;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// The expert cache reuses an evicted expert's buffer for the next read of the same size, and reuse neither leaks
/// stale bytes of the previous expert nor lets the buffers held (live and spare) exceed the capacity.
/// </summary>
[Collection(StreamingCollection.Name)]
public sealed unsafe class ExpertCacheBufferTests(StreamingFixture f)
{
    [Fact]
    public void EvictedBuffersAreReusedWithinTheCapacityAndHoldTheNewExpert()
    {
        using var loaded = LoadedModel.Load(f.Tiny);
        var store = loaded.Weights;
        var streamed = store.ExpertLayers.SelectMany(l => Enumerable.Range(0, l.Experts).Select(e => (l.Layer, e))).ToList();
        // Room for three experts of the largest size: every further read must evict.
        long largest = streamed.Max(x => Buffer(store, x.Layer, x.e));
        long capacity = 3 * largest;
        using var cache = new ExpertCache(store, f.Tiny, streamed, new ExpertCacheOptions(capacity, 64 << 10, 2)) { Prefetching = false };
        int requests = 0;
        foreach (var (layer, expert) in streamed.Concat(streamed.AsEnumerable().Reverse()))
        {
            var got = cache.GetExpert(layer, expert);
            var mapped = store.MappedExpert(layer, expert);
            AssertSameBytes(mapped.Gate, got.Gate);
            AssertSameBytes(mapped.Up, got.Up);
            AssertSameBytes(mapped.Down, got.Down);
            Assert.InRange(cache.UsedBytes, 1, capacity);
            requests++;
        }
        Assert.True(streamed.Count > 6, "the test needs more experts than the cache holds");
        // Every read after the first three fills an evicted buffer: the tiny model's experts share one buffer size.
        Assert.Equal(cache.Counters.Misses - 3, cache.Counters.ReusedBuffers);
        Assert.True(cache.Counters.Misses > requests / 2, $"{cache.Counters.Misses} misses of {requests}: the cache did not evict");
    }

    private static long Buffer(WeightStore store, int layer, int expert)
    {
        long bytes = store.ExpertLayout(layer, expert).Sum(s => (s.FileOffset % 4096 + s.Bytes + 4095) / 4096 * 4096);
        return (bytes + ExpertCache.BufferGranularity - 1) / ExpertCache.BufferGranularity * ExpertCache.BufferGranularity;
    }

    private static void AssertSameBytes(WeightMatrix expected, WeightMatrix actual)
    {
        long bytes = expected.RowBytes * expected.Rows;
        Assert.Equal(bytes, actual.RowBytes * actual.Rows);
        Assert.True(new ReadOnlySpan<byte>(expected.Data, (int)bytes).SequenceEqual(new ReadOnlySpan<byte>(actual.Data, (int)bytes)),
            "an expert read into a reused buffer differs from the file");
    }
}
