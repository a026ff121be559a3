using HybridEngine.IO;
using HybridEngine.Kernels;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// Routed experts kept in RAM for the whole run, read once with direct I/O into private aligned buffers instead of
/// being touched through the file mapping. Under a RAM budget this makes their cost exactly their bytes: a mapped
/// page brings its whole page-cache folio (up to 2 MiB on kernels with large folios) into the process's resident set,
/// so thousands of experts scattered across stacked tensors would hold far more than the plan counted (measured
/// +1.2 GB on a 9.5 GB model at a 4.7 GB budget). The gate, up and down slabs of an expert share one buffer.
/// </summary>
public sealed unsafe class PrivateExperts : IDisposable
{
    private readonly Dictionary<(int, int), (AlignedBuffer Buffer, ExpertWeights Weights)> _experts = [];

    private PrivateExperts() { }

    /// <summary>Bytes of the buffers (the experts' slabs rounded out to <see cref="DirectFile.Alignment"/>).</summary>
    public long Bytes { get; private set; }

    public int Count => _experts.Count;

    /// <summary>
    /// Reads <paramref name="experts"/> from <paramref name="path"/> with <paramref name="readers"/> threads (each read
    /// is one slab, the largest contiguous piece of an expert). Falls back to buffered reads where the file system
    /// refuses O_DIRECT; the buffers are private either way.
    /// </summary>
    public static PrivateExperts Load(WeightStore store, string path, IEnumerable<(int Layer, int Expert)> experts, int readers)
    {
        var result = new PrivateExperts();
        var jobs = new List<(AlignedBuffer Buffer, long FileOffset, long BufferOffset, int Length, int Needed)>();
        try
        {
            foreach (var key in experts.Distinct())
            {
                var slabs = store.ExpertLayout(key.Layer, key.Expert);
                long bytes = 0;
                foreach (var s in slabs) bytes += AlignedSpan(s).Length;
                var buffer = new AlignedBuffer(checked((int)bytes));
                var matrices = new WeightMatrix[3];
                long at = 0;
                for (int i = 0; i < slabs.Length; i++)
                {
                    var (start, length) = AlignedSpan(slabs[i]);
                    var t = slabs[i].Template;
                    matrices[i] = new WeightMatrix(buffer.Pointer + at + (slabs[i].FileOffset - start), t.Type, t.Rows, t.RowLength);
                    jobs.Add((buffer, start, at, (int)length, (int)(slabs[i].FileOffset + slabs[i].Bytes - start)));
                    at += length;
                }
                result._experts[key] = (buffer, new ExpertWeights(matrices[0], matrices[1], matrices[2]));
                result.Bytes += bytes;
            }
            using var handle = DirectFile.OpenRead(path, out _);
            Parallel.ForEach(jobs, new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(readers, 1, 64) }, job =>
            {
                int done = 0;
                while (done < job.Needed)
                {
                    int got = RandomAccess.Read(handle, new Span<byte>(job.Buffer.Pointer + job.BufferOffset + done, job.Length - done), job.FileOffset + done);
                    if (got <= 0) throw new IOException($"{Path.GetFileName(path)} ends at byte {job.FileOffset + done}, before an expert's data (truncated?)");
                    done += got;
                }
            });
            return result;
        }
        catch (AggregateException ex) when (ex.InnerException is IOException io)
        {
            result.Dispose();
            throw new IOException(io.Message, io);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>The expert's weights when it is one of these.</summary>
    public bool TryGet(int layer, int expert, out ExpertWeights weights)
    {
        bool found = _experts.TryGetValue((layer, expert), out var entry);
        weights = entry.Weights;
        return found;
    }

    private static (long Start, long Length) AlignedSpan(in ExpertSlabLayout s)
    {
        long start = s.FileOffset / DirectFile.Alignment * DirectFile.Alignment;
        long end = (s.FileOffset + s.Bytes + DirectFile.Alignment - 1) / DirectFile.Alignment * DirectFile.Alignment;
        return (start, end - start);
    }

    public void Dispose()
    {
        foreach (var (buffer, _) in _experts.Values) buffer.Dispose();
        _experts.Clear();
        Bytes = 0;
    }
}
