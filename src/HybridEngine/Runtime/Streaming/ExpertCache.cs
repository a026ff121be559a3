using System.Collections.Concurrent;
using System.Diagnostics;
using HybridEngine.IO;
using HybridEngine.Kernels;
using Microsoft.Win32.SafeHandles;

namespace HybridEngine.Runtime.Streaming;

/// <summary>How the expert cache reads and how much it may hold.</summary>
/// <param name="CapacityBytes">Bytes of expert buffers the cache may hold at once (reads in flight included).</param>
/// <param name="BlockBytes">Size of each direct read (the profile's tuned I/O block).</param>
/// <param name="QueueDepth">Reads in flight (reader threads, the profile's tuned queue depth).</param>
/// <param name="ExpertsUsed">Experts each token routes to per layer (scales the frequency policy's decay).</param>
public sealed record ExpertCacheOptions(long CapacityBytes, int BlockBytes, int QueueDepth, EvictionPolicyKind Policy = EvictionPolicyKind.FrequencyDecay,
    int ExpertsUsed = 8);

/// <summary>
/// A byte-budgeted cache of routed experts read from the model file with direct I/O (page cache bypassed), so the
/// streamed experts cost the process only the cache's own buffers: they are never touched through the mapping. The
/// gate, up and down slabs of an expert are read and kept together in one aligned buffer.
/// <para>
/// An expert's read is split into <see cref="ExpertCacheOptions.BlockBytes"/> pieces that
/// <see cref="ExpertCacheOptions.QueueDepth"/> reader threads take one at a time, so even a single missing expert has
/// that many reads in flight (the queue depth the tuner measured) and the compute thread only waits for an expert
/// that is not read yet. Experts of the layer being computed (its router's choice) are pinned until the model moves to another
/// layer; guesses for the next layer are read only when room can be made by evicting unpinned, finished entries.
/// Victims are chosen by the <see cref="EvictionPolicy"/>.
/// </para>
/// </summary>
public sealed unsafe class ExpertCache : IExpertSource, IExpertPrefetcher, IDisposable
{
    private readonly WeightStore _store;
    private readonly string _path;
    private readonly SafeFileHandle _handle;
    private readonly HashSet<(int, int)> _streamed;
    private readonly Dictionary<(int, int), Entry> _entries = [];
    private readonly HashSet<Entry> _reserved = [];
    private Entry? _current;
    private readonly Dictionary<int, int[]> _guesses = [];
    private readonly BlockingCollection<Piece> _queue = new();
    private readonly Thread[] _readers;
    private readonly EvictionPolicy _policy;
    private readonly object _gate = new();
    private readonly int _block;
    private long _used, _clock;
    private int _layer = -1;
    private bool _disposed;

    /// <param name="streamed">The (layer, expert) units to serve from the cache; others come from the mapping.</param>
    public ExpertCache(WeightStore store, string path, IEnumerable<(int Layer, int Expert)> streamed, ExpertCacheOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.CapacityBytes);
        _store = store;
        _path = path;
        Options = options;
        _streamed = [.. streamed];
        _policy = EvictionPolicy.Create(options.Policy, store.ExpertLayers.Count() * Math.Max(1, options.ExpertsUsed));
        _block = Math.Max(DirectFile.Alignment, options.BlockBytes / DirectFile.Alignment * DirectFile.Alignment);
        _handle = DirectFile.OpenRead(path, out bool direct);
        IsDirect = direct;
        _readers = new Thread[Math.Clamp(options.QueueDepth, 1, 64)];
        for (int i = 0; i < _readers.Length; i++)
        {
            _readers[i] = new Thread(ReadLoop) { IsBackground = true, Name = $"expert-reader-{i}" };
            _readers[i].Start();
        }
    }

    public ExpertCacheOptions Options { get; }
    public StreamingCounters Counters { get; } = new();
    /// <summary>Whether reads bypass the page cache (false on file systems that refuse O_DIRECT).</summary>
    public bool IsDirect { get; }
    /// <summary>Bytes of expert buffers held now.</summary>
    public long UsedBytes { get { lock (_gate) return _used; } }
    public int StreamedCount => _streamed.Count;
    /// <summary>Whether the router's choice and next-layer guesses start reads ahead of the requests (on by default).</summary>
    public bool Prefetching { get; set; } = true;
    public bool PrefetchActive => Prefetching;

    public ExpertWeights GetExpert(int layer, int expert)
    {
        if (!_streamed.Contains((layer, expert))) return _store.MappedExpert(layer, expert);
        Entry entry;
        lock (_gate)
        {
            ThrowIfFailed();
            EnterLayer(layer);
            // The previous expert is done with (experts are computed one at a time).
            if (_current is { } previous) { previous.Pins--; _current = null; }
            if (_entries.TryGetValue((layer, expert), out var found))
            {
                entry = found;
                // A reservation made by the router's choice was counted then (hit or miss) and already pins it.
                if (_reserved.Remove(entry)) entry.Pins--;
                else CountPresent(entry);
            }
            else
            {
                entry = Admit(layer, expert, mustFit: true)!;
                Counters.Misses++;
            }
            entry.Pins++;
            _current = entry;
            _policy.OnRequest(EvictionPolicy.Key(layer, expert), ++_clock);
        }
        if (!entry.Ready.IsSet)
        {
            long start = Stopwatch.GetTimestamp();
            entry.Ready.Wait();
            Counters.WaitTicks += Stopwatch.GetTimestamp() - start;
        }
        if (entry.Error is { } error) throw new IOException(error.Message, error);
        return entry.Weights;
    }

    public void Prefetch(int layer, ReadOnlySpan<int> experts, bool chosen)
    {
        lock (_gate)
        {
            ThrowIfFailed();
            if (chosen)
            {
                EnterLayer(layer);
                ScoreGuess(layer, experts);
            }
            else
            {
                if (!_guesses.TryGetValue(layer, out var g) || g.Length != experts.Length) _guesses[layer] = g = new int[experts.Length];
                experts.CopyTo(g);
            }
            foreach (int e in experts)
            {
                if (!_streamed.Contains((layer, e))) continue;
                bool present = _entries.TryGetValue((layer, e), out var entry);
                if (chosen && present && _reserved.Contains(entry!)) continue; // a token earlier in the batch chose it too
                if (!present)
                {
                    // Reads ahead only into room that eviction can make now; what does not fit is read on demand.
                    entry = Admit(layer, e, mustFit: false);
                    if (entry is null) { if (chosen) Counters.Misses++; continue; }
                    if (!chosen) { Counters.PrefetchReads++; entry.Guessed = true; }
                }
                if (!chosen) continue;
                if (present) CountPresent(entry!);
                else Counters.Misses++;
                entry!.Pins++;
                _reserved.Add(entry);
            }
        }
    }

    /// <inheritdoc/>
    public bool IsReady(int layer, int expert)
    {
        if (!_streamed.Contains((layer, expert))) return true;
        lock (_gate) return _entries.TryGetValue((layer, expert), out var entry) && entry.Ready.IsSet;
    }

    // A request found its expert cached: a hit, or a prefetch hit when a guess read it since its last use.
    private void CountPresent(Entry entry)
    {
        if (entry.Guessed) { Counters.PrefetchHits++; entry.Guessed = false; }
        else Counters.Hits++;
    }

    // Recall of the guess made for this layer: the share of the chosen experts it named (duplicates count once).
    private void ScoreGuess(int layer, ReadOnlySpan<int> chosen)
    {
        if (!_guesses.TryGetValue(layer, out var guess) || guess.Length == 0) return;
        for (int i = 0; i < chosen.Length; i++)
        {
            if (chosen[..i].Contains(chosen[i])) continue;
            Counters.GuessedLayerExperts++;
            if (Array.IndexOf(guess, chosen[i]) >= 0) Counters.GuessedCorrectly++;
        }
        _guesses[layer] = [];
    }

    // A new layer starts: the previous layer's experts become evictable.
    private void EnterLayer(int layer)
    {
        if (layer == _layer) return;
        ReleaseReservations();
        if (_current is { } previous) { previous.Pins--; _current = null; }
        _layer = layer;
    }

    private void ReleaseReservations()
    {
        foreach (var e in _reserved) e.Pins--;
        _reserved.Clear();
        Monitor.PulseAll(_gate);
    }

    // Makes room (evicting by policy) and queues the read; null when a guess finds no room. Called under the lock.
    private Entry? Admit(int layer, int expert, bool mustFit)
    {
        var slabs = _store.ExpertLayout(layer, expert);
        long bytes = 0;
        foreach (var s in slabs) bytes += AlignedSpan(s).Length;
        if (bytes > Options.CapacityBytes)
            throw new InvalidOperationException($"the expert cache of {Options.CapacityBytes} bytes cannot hold one expert of {bytes} bytes");
        // A guess displaces only experts the policy values less than the guessed one: a wrong guess then costs a read
        // but never evicts an expert that is more likely to be needed.
        double below = mustFit ? double.MaxValue : _policy.PriorityIfRequested(EvictionPolicy.Key(layer, expert), _clock);
        while (_used + bytes > Options.CapacityBytes)
        {
            var victim = Victim(below);
            if (victim is null)
            {
                if (!mustFit) return null;
                // Everything is pinned or in flight. Reservations of this layer yield to the expert needed now (they
                // are read again if evicted), then reads in flight finish and become evictable.
                if (_reserved.Count > 0) { ReleaseReservations(); continue; }
                Monitor.Wait(_gate, 50);
                ThrowIfFailed();
                continue;
            }
            _entries.Remove(victim.Key);
            _policy.OnEvict(EvictionPolicy.Key(victim.Key.Item1, victim.Key.Item2));
            victim.Buffer.Dispose();
            _used -= victim.Bytes;
        }
        var entry = new Entry((layer, expert), slabs, new AlignedBuffer(checked((int)bytes)), bytes);
        _entries.Add(entry.Key, entry);
        _policy.OnInsert(EvictionPolicy.Key(layer, expert), _clock);
        _used += bytes;
        Queue(entry);
        return entry;
    }

    private Entry? Victim(double below)
    {
        Entry? best = null;
        double lowest = below;
        foreach (var e in _entries.Values)
        {
            if (e.Pins > 0 || !e.Ready.IsSet) continue;
            double p = _policy.Priority(EvictionPolicy.Key(e.Key.Item1, e.Key.Item2), _clock);
            if (p < lowest) { lowest = p; best = e; }
        }
        return best;
    }

    private static (long Start, long Length) AlignedSpan(in ExpertSlabLayout s)
    {
        long start = s.FileOffset / DirectFile.Alignment * DirectFile.Alignment;
        long end = (s.FileOffset + s.Bytes + DirectFile.Alignment - 1) / DirectFile.Alignment * DirectFile.Alignment;
        return (start, end - start);
    }

    // Points the entry's matrices into its buffer and counts its block-sized pieces, then queues them slab after slab:
    // weights and count are in place before a reader can finish a piece and mark the entry ready.
    private void Queue(Entry entry)
    {
        var matrices = new WeightMatrix[3];
        long at = 0;
        int count = 0;
        for (int i = 0; i < entry.Slabs.Length; i++)
        {
            var slab = entry.Slabs[i];
            var (start, length) = AlignedSpan(slab);
            var t = slab.Template;
            matrices[i] = new WeightMatrix(entry.Buffer.Pointer + at + (slab.FileOffset - start), t.Type, t.Rows, t.RowLength);
            count += (int)((slab.FileOffset + slab.Bytes - start + _block - 1) / _block);
            at += length;
        }
        entry.Weights = new ExpertWeights(matrices[0], matrices[1], matrices[2]);
        entry.Remaining = count;
        at = 0;
        foreach (var slab in entry.Slabs)
        {
            var (start, length) = AlignedSpan(slab);
            long needed = slab.FileOffset + slab.Bytes - start;
            for (long done = 0; done < needed; done += _block)
                _queue.Add(new Piece(entry, start + done, at + done, (int)Math.Min(_block, length - done), (int)Math.Min(_block, needed - done)));
            at += length;
        }
    }

    private void ReadLoop()
    {
        foreach (var piece in _queue.GetConsumingEnumerable())
        {
            var entry = piece.Entry;
            Counters.ReadStarted();
            try
            {
                // A piece of an expert whose earlier piece failed is skipped: the entry already carries the error.
                if (entry.Error is null) Read(piece);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                var error = new IOException(
                    $"reading expert {entry.Key.Item2} of layer {entry.Key.Item1} from {Path.GetFileName(_path)} failed: {ex.Message}", ex);
                lock (_gate) { entry.Error ??= error; Failure ??= error; Monitor.PulseAll(_gate); }
            }
            finally
            {
                Counters.ReadEnded();
                if (Interlocked.Decrement(ref entry.Remaining) == 0)
                {
                    entry.Ready.Set();
                    lock (_gate) Monitor.PulseAll(_gate);
                }
            }
        }
    }

    // One block-sized read into the entry's buffer. A short read is continued until the expert's own bytes are in (the
    // aligned tail past them may lie beyond the end of the file); ending before them means the file was cut short.
    private void Read(Piece piece)
    {
        int done = 0;
        while (done < piece.Needed)
        {
            int got = RandomAccess.Read(_handle, new Span<byte>(piece.Entry.Buffer.Pointer + piece.BufferOffset + done, piece.Length - done),
                piece.FileOffset + done);
            if (got <= 0)
                throw new IOException($"the file ends at byte {piece.FileOffset + done}, before the expert's data (truncated?)");
            Counters.AddBytes(got);
            done += got;
        }
    }

    /// <summary>The first read error; every later request rethrows it rather than compute with missing weights.</summary>
    public IOException? Failure { get; private set; }

    private void ThrowIfFailed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Failure is { } f) throw new IOException(f.Message, f);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _queue.CompleteAdding();
        foreach (var t in _readers) t.Join();
        lock (_gate)
        {
            _disposed = true;
            foreach (var e in _entries.Values) { e.Buffer.Dispose(); e.Ready.Dispose(); }
            _entries.Clear();
            _used = 0;
        }
        _queue.Dispose();
        _handle.Dispose();
    }

    private sealed class Entry((int, int) key, ExpertSlabLayout[] slabs, AlignedBuffer buffer, long bytes)
    {
        public (int, int) Key { get; } = key;
        public ExpertSlabLayout[] Slabs { get; } = slabs;
        public AlignedBuffer Buffer { get; } = buffer;
        public long Bytes { get; } = bytes;
        public ManualResetEventSlim Ready { get; } = new(false);
        public ExpertWeights Weights;
        public IOException? Error;
        public int Pins;
        public bool Guessed;
        /// <summary>Pieces not read yet; the entry is ready when it reaches zero.</summary>
        public int Remaining;
    }

    /// <summary>
    /// One direct read of an expert: <paramref name="Length"/> aligned bytes at <paramref name="FileOffset"/> into its
    /// buffer, of which the first <paramref name="Needed"/> are the expert's.
    /// </summary>
    private readonly record struct Piece(Entry Entry, long FileOffset, long BufferOffset, int Length, int Needed);
}
