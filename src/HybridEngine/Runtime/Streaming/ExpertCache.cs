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
/// <param name="DiskGBps">Paces the readers to at most this many 10⁹ B/s (--disk-gbps; <see cref="ReadPacing"/>); null: as fast as the disk goes.</param>
public sealed record ExpertCacheOptions(long CapacityBytes, int BlockBytes, int QueueDepth, EvictionPolicyKind Policy = EvictionPolicyKind.FrequencyDecay,
    int ExpertsUsed = 8, double? DiskGBps = null);

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
/// <para>
/// Guesses cannot make a token slower than without them: their reads queue behind every demand read
/// (<see cref="ReadQueue{T}"/>); they evict only experts the policy values below the guessed one; the guesses not yet
/// checked against the router hold at most <see cref="Planning.Planner.PrefetchWasteShare"/> of the capacity; and when
/// the router's choice shows a guess wrong, its pieces not yet started are dropped (a right one moves to the demand queue).
/// </para>
/// </summary>
public sealed unsafe partial class ExpertCache : IExpertSource, IExpertPrefetcher, IDisposable
{
    private readonly WeightStore _store;
    private readonly string _path;
    private readonly SafeFileHandle _handle;
    private readonly HashSet<(int, int)> _streamed;
    private readonly Dictionary<(int, int), Entry> _entries = [];
    private readonly HashSet<Entry> _reserved = [];
    private Entry? _current;
    private readonly Dictionary<int, int[]> _guesses = [];
    private readonly List<Entry> _pendingGuesses = [];
    private readonly ReadQueue<Entry> _queue = new();
    private readonly Thread[] _readers;
    private readonly EvictionPolicy _policy;
    private readonly object _gate = new();
    private readonly int _block;
    /// <summary>One bucket for all readers under a --disk-gbps cap; null without one.</summary>
    private readonly ReadPacing? _pacing;
    private long _used, _clock, _guessBytes;
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
        _pacing = options.DiskGBps is { } cap ? new ReadPacing(cap * 1e9) : null;
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
                entry = Admit(layer, expert, mustFit: true, demand: true)!;
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
                SettleGuesses(layer, experts);
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
                    entry = Admit(layer, e, mustFit: false, demand: chosen);
                    // No room now: a chosen expert is read (and counted as a miss) when the model asks for it.
                    if (entry is null) continue;
                    if (!chosen)
                    {
                        Counters.PrefetchReads++;
                        entry.Guessed = true;
                        _guessBytes += entry.Bytes;
                        _pendingGuesses.Add(entry);
                    }
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
    private Entry? Admit(int layer, int expert, bool mustFit, bool demand)
    {
        var slabs = _store.ExpertLayout(layer, expert);
        long bytes = BufferBytes(slabs);
        if (bytes > Options.CapacityBytes)
            throw new InvalidOperationException($"the expert cache of {Options.CapacityBytes} bytes cannot hold one expert of {bytes} bytes");
        // A guess displaces only experts the policy values less than the guessed one: a wrong guess then costs a read
        // but never evicts an expert that is more likely to be needed. An expert the router chose is needed now: its
        // read starts at once if any unpinned, finished entry can make room.
        double below = demand ? double.MaxValue : _policy.PriorityIfRequested(EvictionPolicy.Key(layer, expert), _clock);
        // Unchecked guesses hold a bounded share of the cache (at least one expert, so small caches still guess).
        if (!demand && _guessBytes + bytes > Math.Max(bytes, (long)(Planning.Planner.PrefetchWasteShare * Options.CapacityBytes))) return null;
        AlignedBuffer? buffer;
        while ((buffer = TakeBuffer(bytes)) is null)
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
            Free(victim);
        }
        var entry = new Entry((layer, expert), slabs, buffer, bytes);
        _entries.Add(entry.Key, entry);
        _policy.OnInsert(EvictionPolicy.Key(layer, expert), _clock);
        Queue(entry, demand);
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
        _queue.Complete();
        foreach (var t in _readers) t.Join();
        lock (_gate)
        {
            _disposed = true;
            foreach (var e in _entries.Values) { e.Buffer.Dispose(); e.Ready.Dispose(); }
            _entries.Clear();
            foreach (var b in _spare) b.Dispose();
            _spare.Clear();
            _used = 0;
        }
        _handle.Dispose();
    }

    private sealed class Entry((int, int) key, ExpertSlabLayout[] slabs, AlignedBuffer buffer, long bytes) : QueuedRead
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
        /// <summary>A wrong guess whose unread pieces were dropped: out of the table, freed when its last piece ends.</summary>
        public bool Dropped;
        /// <summary>Pieces not read yet; the entry is ready when it reaches zero.</summary>
        public int Remaining;
    }
}
