using HybridEngine.Kernels;
using Xunit;

namespace HybridEngine.Tests.Kernels;

/// <summary>The pool covers every index exactly once, on any thread count, and reports worker failures.</summary>
public unsafe class ComputePoolTests
{
    private struct CountJob : IRangeJob
    {
        public int* Counts;
        public int FailAt;

        public readonly void Execute(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                if (i == FailAt) throw new InvalidOperationException("boom");
                Interlocked.Increment(ref Counts[i]);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void Every_item_runs_exactly_once(int threads)
    {
        using var pool = new ComputePool(threads);
        foreach (int items in new[] { 0, 1, 3, 17, 1000 })
        {
            for (int repeat = 0; repeat < 20; repeat++)
            {
                var counts = new int[Math.Max(items, 1)];
                fixed (int* p = counts)
                {
                    var job = new CountJob { Counts = p, FailAt = -1 };
                    pool.Run(ref job, items);
                }
                for (int i = 0; i < items; i++) Assert.Equal(1, counts[i]);
            }
        }
    }

    [Fact]
    public void A_failing_chunk_is_rethrown_and_the_pool_stays_usable()
    {
        using var pool = new ComputePool(3);
        var counts = new int[100];
        fixed (int* p = counts)
        {
            var failing = new CountJob { Counts = p, FailAt = 57 };
            var e = Assert.Throws<AggregateException>(() => pool.Run(ref failing, 100));
            Assert.IsType<InvalidOperationException>(e.InnerException);
            Array.Clear(counts);
            var ok = new CountJob { Counts = p, FailAt = -1 };
            pool.Run(ref ok, 100);
        }
        Assert.All(counts, c => Assert.Equal(1, c));
    }
}
