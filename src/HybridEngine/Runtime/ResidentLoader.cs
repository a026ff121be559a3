using HybridEngine.Gguf;

namespace HybridEngine.Runtime;

/// <summary>
/// How far loading a model has come: <paramref name="Bytes"/> of the file's <paramref name="TotalBytes"/> are dealt
/// with (mapped header, weights paged in or uploaded, experts left to stream). Reports never go backwards and the
/// last one has <c>Bytes == TotalBytes</c>.
/// </summary>
/// <param name="Stage">What is being done now, in a few words ("paging in weights", "uploading to the GPU").</param>
public readonly record struct LoadProgress(string Stage, long Bytes, long TotalBytes);

/// <summary>
/// Pages in the weights that a placement keeps in RAM, so that loading, not the first token, pays for reading them
/// from disk, and reports progress by bytes. Tensors kept elsewhere (a GPU, or experts that stream through a cache)
/// are skipped: touching them would make the mapping hold memory the plan did not budget.
/// </summary>
public static unsafe class ResidentLoader
{
    /// <summary>Bytes between two progress reports while a large tensor is paged in.</summary>
    public const long ReportStepBytes = 16L << 20;

    /// <summary>Memory page size assumed for touching: one read per page faults the whole page in.</summary>
    private const int PageBytes = 4096;

    /// <summary>
    /// Reads one byte of every page of the tensors and experts that stay in RAM. <paramref name="residentTensor"/>
    /// says whether a non-expert tensor (by name) stays in RAM; <paramref name="residentExpert"/> whether expert
    /// (layer, expert) does. Everything else counts as dealt with when it is reached.
    /// </summary>
    public static void PageIn(LoadedModel model, Func<string, bool> residentTensor, Func<int, int, bool> residentExpert,
        IProgress<LoadProgress>? progress, string stage = "paging in weights")
    {
        var file = model.File;
        long total = file.FileSize, done = file.DataOffset;
        progress?.Report(new LoadProgress(stage, done, total));

        // Stacked expert tensors are paged expert by expert; they are recognised by their start offset.
        var expertTensors = new HashSet<long>();
        var byOffset = file.Tensors.ToDictionary(t => file.TensorFileOffset(t));
        foreach (var (layer, count) in model.Weights.ExpertLayers)
            if (count > 0)
                foreach (var slab in model.Weights.ExpertLayout(layer, 0)) expertTensors.Add(slab.FileOffset);

        long lastReport = done;
        void Advance(long bytes)
        {
            done += bytes;
            if (done - lastReport >= ReportStepBytes) { progress?.Report(new LoadProgress(stage, Math.Min(done, total), total)); lastReport = done; }
        }
        void Touch(byte* start, long bytes)
        {
            long at = 0;
            while (at < bytes)
            {
                long chunk = Math.Min(ReportStepBytes, bytes - at);
                Sink(start + at, chunk);
                at += chunk;
                Advance(chunk);
            }
        }

        foreach (var tensor in file.Tensors)
        {
            if (expertTensors.Contains(file.TensorFileOffset(tensor))) continue;
            if (residentTensor(tensor.Name)) Touch(file.GetTensorPointer(tensor), tensor.ByteSize);
            else Advance(tensor.ByteSize);
        }
        foreach (var (layer, count) in model.Weights.ExpertLayers)
        {
            if (count == 0) continue;
            // Slab i of any expert lies in the stacked tensor that starts with slab i of expert 0 (gate, up, down).
            var first = model.Weights.ExpertLayout(layer, 0);
            for (int e = 0; e < count; e++)
            {
                var slabs = model.Weights.ExpertLayout(layer, e);
                for (int i = 0; i < slabs.Length; i++)
                {
                    if (!residentExpert(layer, e)) { Advance(slabs[i].Bytes); continue; }
                    var stacked = byOffset[first[i].FileOffset];
                    Touch(file.GetTensorPointer(stacked) + (slabs[i].FileOffset - first[i].FileOffset), slabs[i].Bytes);
                }
            }
        }
        progress?.Report(new LoadProgress(stage, total, total));
    }

    /// <summary>Reads one byte per page (volatile, so the reads are not optimised away).</summary>
    private static void Sink(byte* start, long bytes)
    {
        int sum = 0;
        for (long i = 0; i < bytes; i += PageBytes) sum += Volatile.Read(ref start[i]);
        if (bytes > 0) sum += Volatile.Read(ref start[bytes - 1]);
        GC.KeepAlive(sum);
    }
}
