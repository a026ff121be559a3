using HybridEngine.IO;

namespace HybridEngine.Runtime.Streaming;

// The buffers of the expert cache. An evicted expert's buffer is kept for the next expert of the same size instead of
// going back to the allocator: a fresh native buffer costs a page fault and a zeroed page per 4 KiB on its first
// direct read (about 1,200 faults per 5 MB expert, several times the disk's own time on a small machine). Buffers are
// allocated in whole multiples of BufferGranularity, so experts of one layer shape share one size. Spare buffers
// count against the capacity like live ones: the process's memory is the same whether a buffer is in use or spare.
public sealed unsafe partial class ExpertCache
{
    /// <summary>Buffer sizes are whole multiples of this (64 KiB): at most 1.3 % more than a 5 MB expert needs.</summary>
    public const int BufferGranularity = 16 * DirectFile.Alignment;

    private readonly List<AlignedBuffer> _spare = [];

    /// <summary>Spare buffers held for reuse (their bytes are part of <see cref="UsedBytes"/>).</summary>
    public int SpareBuffers { get { lock (_gate) return _spare.Count; } }

    // Bytes of the buffer that holds an expert's slabs, each at its aligned span.
    private static long BufferBytes(ExpertSlabLayout[] slabs)
    {
        long bytes = 0;
        foreach (var s in slabs) bytes += AlignedSpan(s).Length;
        return (bytes + BufferGranularity - 1) / BufferGranularity * BufferGranularity;
    }

    // A spare buffer of exactly `bytes`, else a new one when the capacity has room (spares of other sizes are released
    // first to make it); null when the caller must evict. Called under the lock.
    private AlignedBuffer? TakeBuffer(long bytes)
    {
        for (int i = _spare.Count - 1; i >= 0; i--)
        {
            if (_spare[i].Length != bytes) continue;
            var reused = _spare[i];
            _spare.RemoveAt(i);
            Counters.ReusedBuffers++;
            return reused;
        }
        while (_used + bytes > Options.CapacityBytes && _spare.Count > 0)
        {
            var other = _spare[^1];
            _spare.RemoveAt(_spare.Count - 1);
            _used -= other.Length;
            other.Dispose();
        }
        if (_used + bytes > Options.CapacityBytes) return null;
        _used += bytes;
        return new AlignedBuffer(checked((int)bytes));
    }

    // An expert left the table and its last read ended: its buffer becomes a spare. Called under the lock.
    private void Free(Entry entry)
    {
        _spare.Add(entry.Buffer);
        Monitor.PulseAll(_gate);
    }
}
