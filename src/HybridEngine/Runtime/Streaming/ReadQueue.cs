namespace HybridEngine.Runtime.Streaming;

/// <summary>An expert read split into pieces that reader threads claim one at a time, in order.</summary>
internal class QueuedRead
{
    /// <summary>Pieces of the read; set before it is queued.</summary>
    public int PieceCount { get; set; }

    /// <summary>Pieces handed to readers so far (or all of them once dropped); guarded by the queue's lock.</summary>
    internal int Claimed;
}

/// <summary>
/// The reads waiting for the reader threads, in two queues: reads the model needs (the router chose the expert, or the
/// compute thread asked for it) and reads of guesses. A reader always takes a demand piece when one is queued, so a
/// demand read waits for a guess only while a reader is already in the middle of one piece. A guess that turns out
/// wrong is dropped before its pending pieces are read; one that turns out right is moved up to the demand queue.
/// Each read is queued once (not once per piece) and stays at the head of its queue until all its pieces are claimed,
/// so queuing allocates nothing once the queues have grown.
/// </summary>
internal sealed class ReadQueue<T> where T : QueuedRead
{
    private readonly Queue<T> _demand = new(), _guess = new();
    private readonly object _gate = new();
    private bool _completed;

    /// <summary>Queues all pieces of <paramref name="read"/>.</summary>
    public void Add(T read, bool demand)
    {
        lock (_gate)
        {
            if (_completed) throw new InvalidOperationException("the read queue is closed");
            (demand ? _demand : _guess).Enqueue(read);
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>
    /// Moves the unclaimed pieces of a queued guess ahead of every guess (behind the demand reads already queued).
    /// Its entry left in the guess queue finds nothing left to claim and is skipped.
    /// </summary>
    public void Promote(T read)
    {
        lock (_gate)
        {
            if (read.Claimed >= read.PieceCount || _completed) return;
            _demand.Enqueue(read);
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Claims every piece no reader has started; returns how many there were (those are never read).</summary>
    public int Drop(T read)
    {
        lock (_gate)
        {
            int left = Math.Max(0, read.PieceCount - read.Claimed);
            read.Claimed = Math.Max(read.Claimed, read.PieceCount);
            return left;
        }
    }

    /// <summary>Pieces not yet claimed by a reader, of either queue.</summary>
    public int Pending
    {
        get
        {
            lock (_gate)
            {
                int n = 0;
                foreach (var r in _demand) n += Math.Max(0, r.PieceCount - r.Claimed);
                foreach (var r in _guess) n += Math.Max(0, r.PieceCount - r.Claimed);
                return n;
            }
        }
    }

    /// <summary>
    /// The next piece to read, demand reads first: waits while both queues are empty; false once the queue is completed
    /// and drained.
    /// </summary>
    public bool Take(out T read, out int piece)
    {
        lock (_gate)
        {
            while (true)
            {
                if (TryTake(_demand, out read, out piece) || TryTake(_guess, out read, out piece)) return true;
                if (_completed) return false;
                Monitor.Wait(_gate);
            }
        }
    }

    /// <summary>Like <see cref="Take"/> but returns false at once when nothing is queued.</summary>
    public bool TryTake(out T read, out int piece)
    {
        lock (_gate) return TryTake(_demand, out read, out piece) || TryTake(_guess, out read, out piece);
    }

    /// <summary>No more reads: readers drain what is queued, then <see cref="Take"/> returns false.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
    }

    private static bool TryTake(Queue<T> queue, out T read, out int piece)
    {
        while (queue.TryPeek(out read!))
        {
            if (read.Claimed >= read.PieceCount)
            {
                queue.Dequeue(); // fully claimed, dropped, or promoted and taken from the other queue
                continue;
            }
            piece = read.Claimed++;
            if (read.Claimed >= read.PieceCount) queue.Dequeue();
            return true;
        }
        read = null!;
        piece = -1;
        return false;
    }
}
