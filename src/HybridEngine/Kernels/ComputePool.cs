using System.Runtime.CompilerServices;

namespace HybridEngine.Kernels;

/// <summary>A unit of parallel work over an index range; implemented by small structs so dispatch allocates nothing.</summary>
public interface IRangeJob
{
    /// <summary>Processes items [<paramref name="start"/>, <paramref name="end"/>).</summary>
    void Execute(int start, int end);
}

/// <summary>
/// One persistent set of worker threads that splits an index range (matrix rows) across them. <see cref="Run{TJob}"/>
/// passes the caller's job struct by address to the workers and blocks until every chunk is done, so nothing is
/// allocated per call; the calling thread works too, so a pool of N threads starts N − 1 workers. Chunks are handed
/// out through an atomic counter, which evens out uneven cores. Calls are serialized; a call made from inside a
/// job runs inline on that thread.
/// Idle workers spin on a generation counter for <c>spinMicroseconds</c> before sleeping on their own event: a
/// token runs hundreds of matvecs back to back, and waking a sleeping thread costs tens of microseconds each time.
/// A worker announces it is going to sleep before its last look at the counter, and the caller bumps the counter
/// before looking at the announcements (both full fences), so a wake-up is never lost.
/// <para>The caller waits for the chunks, not for the workers: when the machine is oversubscribed a worker may not
/// get a core before the caller has done every chunk itself, and waiting for it would cost a scheduler slice per call.
/// A chunk is taken by compare-and-swap on one 64-bit ticket that holds the job's sequence number, its chunk count
/// and the next chunk index, so a worker that wakes late can never take a chunk of a job that is finished or not yet
/// published; and while any chunk of a job is taken and not done, its caller has not returned, so the job's fields
/// stay valid for whoever runs that chunk.</para>
/// </summary>
public sealed unsafe class ComputePool : IDisposable
{
    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _go;
    private readonly int[] _sleeping;
    private readonly long _spinTicks;
    private int _generation;
    private readonly object _gate = new();
    private volatile bool _disposed;

    // The job being run: its address, a typed trampoline, the range and the chunking.
    private void* _job;
    private delegate*<void*, int, int, void> _invoke;
    private int _items, _chunk;
    private long _ticket;          // job sequence (bits 40+) | chunk count (bits 20–39) | next chunk index (bits 0–19)
    private int _doneChunks;
    private volatile bool _failed;
    private Exception? _failure;
    private long _sequence;
    private const int IndexBits = 20;
    private const long IndexMask = (1L << IndexBits) - 1;

    [ThreadStatic] private static bool t_insideJob;

    /// <param name="threads">Threads per call including the caller; 0 = processor count.</param>
    /// <param name="spinMicroseconds">How long an idle worker polls for the next job before it sleeps.</param>
    public ComputePool(int threads = 0, int spinMicroseconds = 200)
    {
        Threads = threads <= 0 ? Environment.ProcessorCount : threads;
        _spinTicks = (long)(spinMicroseconds * (System.Diagnostics.Stopwatch.Frequency / 1e6));
        _workers = new Thread[Threads - 1];
        _go = new ManualResetEventSlim[Threads - 1];
        _sleeping = new int[Threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _go[i] = new ManualResetEventSlim(false, spinCount: 1);
            int index = i;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"compute-{i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Threads that work on each call, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// Runs <paramref name="job"/> over [0, <paramref name="items"/>) in chunks of at least <paramref name="minChunk"/>
    /// items and returns when all are done. A worker's exception is rethrown here.
    /// </summary>
    public void Run<TJob>(ref TJob job, int items, int minChunk = 1) where TJob : unmanaged, IRangeJob
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (items <= 0) return;
        if (_workers.Length == 0 || t_insideJob || items <= minChunk)
        {
            job.Execute(0, items);
            return;
        }
        lock (_gate)
        {
            fixed (TJob* address = &job)
            {
                // About 4 chunks per thread: small enough to balance, large enough to keep rows contiguous.
                _chunk = Math.Max(Math.Max(1, minChunk), (items + Threads * 4 - 1) / (Threads * 4));
                int chunks = (items + _chunk - 1) / _chunk;   // ≤ 4·Threads, far below 2^20
                _items = items;
                _job = address;
                _invoke = &Invoke<TJob>;
                _doneChunks = 0;
                _failed = false;
                _failure = null;
                _sequence++;
                Interlocked.Exchange(ref _ticket, (_sequence << (2 * IndexBits)) | ((long)chunks << IndexBits));   // publishes the fields above
                Interlocked.Increment(ref _generation);
                for (int i = 0; i < _workers.Length; i++)
                {
                    if (Volatile.Read(ref _sleeping[i]) != 0) _go[i].Set();
                }
                WorkChunks();
                var spin = new SpinWait();
                while (Volatile.Read(ref _doneChunks) != chunks) spin.SpinOnce(sleep1Threshold: -1);
                _job = null;
            }
            if (_failure is { } failure) throw new AggregateException("A compute job failed.", failure);
        }
    }

    private static void Invoke<TJob>(void* job, int start, int end) where TJob : unmanaged, IRangeJob =>
        Unsafe.AsRef<TJob>(job).Execute(start, end);

    private void WorkChunks()
    {
        t_insideJob = true;
        try
        {
            while (true)
            {
                long ticket = Volatile.Read(ref _ticket);
                long chunk = ticket & IndexMask;
                if (chunk >= ((ticket >> IndexBits) & IndexMask)) break;   // this job has no chunk left to hand out
                if (Interlocked.CompareExchange(ref _ticket, ticket + 1, ticket) != ticket) continue;
                try
                {
                    // After a failure the remaining chunks are only counted, so the caller stops waiting.
                    if (!_failed)
                    {
                        int start = (int)chunk * _chunk;
                        _invoke(_job, start, Math.Min(_items, start + _chunk));
                    }
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _failure, e, null);
                    _failed = true;
                }
                finally
                {
                    Interlocked.Increment(ref _doneChunks);
                }
            }
        }
        finally
        {
            t_insideJob = false;
        }
    }

    private void WorkerLoop(int index)
    {
        var go = _go[index];
        int seen = 0;
        while (true)
        {
            long spinUntil = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
            while (Volatile.Read(ref _generation) == seen)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() < spinUntil)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                go.Reset();
                Interlocked.Exchange(ref _sleeping[index], 1);
                if (Volatile.Read(ref _generation) == seen) go.Wait();
                Interlocked.Exchange(ref _sleeping[index], 0);
            }
            seen = Volatile.Read(ref _generation);
            if (_disposed) return;
            WorkChunks();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        lock (_gate)
        {
            _disposed = true;
            Interlocked.Increment(ref _generation);
            foreach (var go in _go) go.Set();
        }
        foreach (var worker in _workers) worker.Join();
        foreach (var go in _go) go.Dispose();
    }
}
