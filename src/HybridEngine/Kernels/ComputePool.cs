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
/// </summary>
public sealed unsafe class ComputePool : IDisposable
{
    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _go;
    private readonly object _gate = new();
    private volatile bool _disposed;

    // The job being run: its address, a typed trampoline, the range and the chunking.
    private void* _job;
    private delegate*<void*, int, int, void> _invoke;
    private int _items, _chunk, _chunks;
    private int _nextChunk;
    private int _busyWorkers;
    private Exception? _failure;

    [ThreadStatic] private static bool t_insideJob;

    public ComputePool(int threads = 0)
    {
        Threads = threads <= 0 ? Environment.ProcessorCount : threads;
        _workers = new Thread[Threads - 1];
        _go = new ManualResetEventSlim[Threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _go[i] = new ManualResetEventSlim(false, spinCount: 200);
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
                _chunks = (items + _chunk - 1) / _chunk;
                _items = items;
                _job = address;
                _invoke = &Invoke<TJob>;
                _nextChunk = 0;
                _failure = null;
                int helpers = Math.Min(_workers.Length, _chunks - 1);
                Volatile.Write(ref _busyWorkers, helpers);
                for (int i = 0; i < helpers; i++) _go[i].Set();
                WorkChunks();
                var spin = new SpinWait();
                while (Volatile.Read(ref _busyWorkers) != 0) spin.SpinOnce(sleep1Threshold: -1);
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
                int chunk = Interlocked.Increment(ref _nextChunk) - 1;
                if (chunk >= _chunks) break;
                int start = chunk * _chunk;
                _invoke(_job, start, Math.Min(_items, start + _chunk));
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
            Volatile.Write(ref _nextChunk, int.MaxValue / 2);   // stop handing out chunks
        }
        finally
        {
            t_insideJob = false;
        }
    }

    private void WorkerLoop(int index)
    {
        var go = _go[index];
        while (true)
        {
            go.Wait();
            go.Reset();
            if (_disposed) return;
            WorkChunks();
            Interlocked.Decrement(ref _busyWorkers);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        lock (_gate)
        {
            _disposed = true;
            foreach (var go in _go) go.Set();
        }
        foreach (var worker in _workers) worker.Join();
        foreach (var go in _go) go.Dispose();
    }
}
