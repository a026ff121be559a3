using System.Diagnostics;
using HybridEngine.IO;
using HybridEngine.Kernels;

namespace HybridEngine.Runtime.Streaming;

// The reading side of the expert cache: an expert's read is cut into block-sized pieces that the reader threads take
// from the read queue, demand reads first.
public sealed unsafe partial class ExpertCache
{
    private static (long Start, long Length) AlignedSpan(in ExpertSlabLayout s) =>
        (s.FileOffset / DirectFile.Alignment * DirectFile.Alignment, Planning.ExpertReadRule.AlignedSpan(s.FileOffset, s.Bytes));

    // Points the entry's matrices into its buffer and counts its block-sized pieces, then queues the read: weights and
    // count are in place before a reader can finish a piece and mark the entry ready.
    private void Queue(Entry entry, bool demand)
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
            count += Pieces(slab);
            at += length;
        }
        entry.Weights = new ExpertWeights(matrices[0], matrices[1], matrices[2]);
        entry.Remaining = count;
        entry.PieceCount = count;
        _queue.Add(entry, demand);
    }

    private int Pieces(in ExpertSlabLayout slab) => (int)((slab.FileOffset + slab.Bytes - AlignedSpan(slab).Start + _block - 1) / _block);

    private void ReadLoop()
    {
        while (_queue.Take(out var entry, out int piece))
        {
            Counters.ReadStarted();
            try
            {
                long started = Stopwatch.GetTimestamp();
                // A piece of an expert whose earlier piece failed is skipped: the entry already carries the error.
                if (entry.Error is null) Pace(started, Read(entry, piece));
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
                    // A dropped guess left the table when it was dropped; its last piece in flight frees it.
                    lock (_gate)
                    {
                        if (entry.Dropped) Free(entry);
                        else Monitor.PulseAll(_gate);
                    }
                }
            }
        }
    }

    private void Pace(long started, int bytes) => _pacing?.Finish(started, bytes);

    // Piece number `piece` of the entry: one block-sized read into its buffer, slab after slab. A short read is
    // continued until the expert's own bytes are in (the aligned tail past them may lie beyond the end of the file);
    // ending before them means the file was cut short. Returns the bytes read.
    private int Read(Entry entry, int piece)
    {
        long at = 0;
        foreach (var slab in entry.Slabs)
        {
            var (start, length) = AlignedSpan(slab);
            int pieces = Pieces(slab);
            if (piece >= pieces)
            {
                piece -= pieces;
                at += length;
                continue;
            }
            long done = (long)piece * _block, needed = slab.FileOffset + slab.Bytes - start;
            int size = (int)Math.Min(_block, length - done), want = (int)Math.Min(_block, needed - done), got = 0;
            while (got < want)
            {
                int n = RandomAccess.Read(_handle, new Span<byte>(entry.Buffer.Pointer + at + done + got, size - got), start + done + got);
                if (n <= 0) throw new IOException($"the file ends at byte {start + done + got}, before the expert's data (truncated?)");
                Counters.AddBytes(n);
                got += n;
            }
            return got;
        }
        throw new ArgumentOutOfRangeException(nameof(piece));
    }
}
