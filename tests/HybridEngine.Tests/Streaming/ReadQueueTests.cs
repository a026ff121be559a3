using HybridEngine.Runtime.Streaming;
using Xunit;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// The expert cache's read queue, driven by hand (no reader threads): demand pieces are always handed out before
/// guessed ones, a dropped guess hands out nothing more, and a promoted guess goes ahead of the other guesses.
/// </summary>
public sealed class ReadQueueTests
{
    private sealed class Read(string name, int pieces) : QueuedRead
    {
        public string Name { get; } = name;
        public Read Init() { PieceCount = pieces; return this; }
    }

    private static List<string> Drain(ReadQueue<Read> queue)
    {
        var order = new List<string>();
        while (queue.TryTake(out var read, out int piece)) order.Add($"{read.Name}{piece}");
        return order;
    }

    [Fact]
    public void DemandPiecesGoBeforeGuessesQueuedEarlier()
    {
        var queue = new ReadQueue<Read>();
        queue.Add(new Read("g", 3).Init(), demand: false);
        queue.Add(new Read("d", 2).Init(), demand: true);
        Assert.Equal(["d0", "d1", "g0", "g1", "g2"], Drain(queue));
    }

    [Fact]
    public void ADemandReadOvertakesAGuessAlreadyStarted()
    {
        var queue = new ReadQueue<Read>();
        queue.Add(new Read("g", 3).Init(), demand: false);
        Assert.True(queue.TryTake(out var first, out int piece));
        Assert.Equal(("g", 0), (first.Name, piece));
        queue.Add(new Read("d", 1).Init(), demand: true);
        Assert.Equal(["d0", "g1", "g2"], Drain(queue));
    }

    [Fact]
    public void ADroppedGuessHandsOutNoMorePieces()
    {
        var queue = new ReadQueue<Read>();
        var g = new Read("g", 4).Init();
        queue.Add(g, demand: false);
        queue.Add(new Read("h", 1).Init(), demand: false);
        Assert.True(queue.TryTake(out _, out _)); // g0 is in flight
        Assert.Equal(3, queue.Drop(g));
        Assert.Equal(0, queue.Drop(g)); // nothing left the second time
        Assert.Equal(["h0"], Drain(queue));
        Assert.Equal(0, queue.Pending);
    }

    [Fact]
    public void APromotedGuessGoesAheadOfOtherGuessesButBehindDemand()
    {
        var queue = new ReadQueue<Read>();
        queue.Add(new Read("a", 2).Init(), demand: false);
        var b = new Read("b", 2).Init();
        queue.Add(b, demand: false);
        queue.Add(new Read("d", 1).Init(), demand: true);
        queue.Promote(b);
        // b's entry left in the guess queue has nothing to claim and is skipped: each piece is handed out once.
        Assert.Equal(["d0", "b0", "b1", "a0", "a1"], Drain(queue));
    }

    [Fact]
    public void TakeWaitsForWorkAndEndsWhenCompletedAndDrained()
    {
        var queue = new ReadQueue<Read>();
        var taken = new List<string>();
        var reader = new Thread(() =>
        {
            while (queue.Take(out var read, out int piece)) lock (taken) taken.Add($"{read.Name}{piece}");
        });
        reader.Start();
        queue.Add(new Read("d", 2).Init(), demand: true);
        queue.Complete();
        Assert.True(reader.Join(TimeSpan.FromSeconds(10)), "the reader did not end after Complete");
        Assert.Equal(["d0", "d1"], taken);
    }
}
