using System.Collections.Immutable;
using System.Diagnostics;
using HybridEngine.Hardware;
using HybridEngine.IO;
using Microsoft.Win32.SafeHandles;

namespace HybridEngine.Tuner;

/// <summary>
/// Disk read bandwidth on a scratch file the step creates in the model folder and always removes: direct reads
/// (page cache bypassed, as streamed experts are read) of several block sizes at random aligned offsets with several
/// reads in flight, then sequential buffered reads of the file evicted from the page cache and of the file cached.
/// </summary>
public static class DiskBandwidth
{
    private const int SequentialChunk = 1 << 20;

    public static DiskMeasurements Measure(string folder, long fileBytes, IReadOnlyList<int> blockSizes, IReadOnlyList<int> queueDepths,
        TimeSpan budget, List<string> notes, CancellationToken cancel, Action? afterEach = null)
    {
        string dir = ExistingFolder(folder);
        fileBytes = Math.Max(blockSizes.Max(), fileBytes / SequentialChunk * SequentialChunk);
        if (!Directory.Exists(folder)) notes.Add($"disk: {PathPrivacy.Redact(folder)} does not exist yet; measured in its nearest existing parent folder");
        string scratch = Path.Combine(dir, $".hybrid-tune-{Guid.NewGuid():N}.tmp");
        try
        {
            WriteScratch(scratch, fileBytes, cancel);
            afterEach?.Invoke();

            var points = ImmutableArray.CreateBuilder<DiskPoint>();
            bool direct;
            using (var handle = DirectFile.OpenRead(scratch, out direct))
            {
                if (!direct) notes.Add($"disk: the file system at {PathPrivacy.Redact(folder)} refused O_DIRECT, so the block-size figures went through the page cache");
                // Rounds interleaved over all points, each point's figure the median of its rounds: the disk's speed
                // drifts by tens of % over seconds on shared or virtual disks, and one slow or fast spell then moves
                // one round of every point instead of all of one point (which would decide the tuned choice alone).
                var rounds = new double[blockSizes.Count * queueDepths.Count][];
                for (int round = 0; round < Rounds; round++)
                {
                    int at = 0;
                    foreach (int block in blockSizes)
                    {
                        foreach (int depth in queueDepths)
                        {
                            cancel.ThrowIfCancellationRequested();
                            if (!direct) DirectFile.EvictFromPageCache(handle);
                            (rounds[at++] ??= new double[Rounds])[round] = RandomReads(handle, fileBytes, block, depth, budget / Rounds, round, cancel);
                            afterEach?.Invoke();
                        }
                    }
                }
                int point = 0;
                foreach (int block in blockSizes)
                    foreach (int depth in queueDepths)
                        points.Add(new DiskPoint(block, depth, Median(rounds[point++])));
            }

            double? cold = null, cached = null;
            using (var handle = File.OpenHandle(scratch, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
                if (DirectFile.EvictFromPageCache(handle)) cold = SequentialReads(handle, fileBytes, budget * 2, cancel);
                else notes.Add("disk: the page cache could not be emptied for the scratch file, so there is no cold buffered figure");
                afterEach?.Invoke();
                SequentialReads(handle, fileBytes, TimeSpan.MaxValue, cancel);   // bring the whole file into the cache
                cached = SequentialReads(handle, fileBytes, budget, cancel);
                afterEach?.Invoke();
            }
            return new DiskMeasurements(PathPrivacy.Redact(folder), fileBytes, direct, points.ToImmutable(), cold, cached);
        }
        finally
        {
            try { File.Delete(scratch); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>The folder itself, or its nearest existing parent (the model folder may not exist yet).</summary>
    public static string ExistingFolder(string folder)
    {
        var dir = new DirectoryInfo(Path.GetFullPath(folder));
        while (dir is { Exists: false }) dir = dir.Parent;
        return dir?.FullName ?? Path.GetTempPath();
    }

    /// <summary>Non-zero, non-repeating content: some virtual disks compress or deduplicate zero blocks.</summary>
    private static void WriteScratch(string path, long bytes, CancellationToken cancel)
    {
        var chunk = new byte[4 << 20];
        var random = new Random(42);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
        for (long written = 0; written < bytes; written += chunk.Length)
        {
            cancel.ThrowIfCancellationRequested();
            random.NextBytes(chunk);
            stream.Write(chunk, 0, (int)Math.Min(chunk.Length, bytes - written));
        }
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Measurement rounds per (block, depth) point; each takes a third of the point's budget.</summary>
    public const int Rounds = 3;

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>
    /// <paramref name="depth"/> threads each reading <paramref name="block"/> bytes at random block-aligned offsets until
    /// the budget is spent; each round reads other offsets, so no layer below (a virtual disk's host cache) serves a
    /// repeat.
    /// </summary>
    private static double RandomReads(SafeFileHandle handle, long fileBytes, int block, int depth, TimeSpan budget, int round, CancellationToken cancel)
    {
        long slots = fileBytes / block;
        long total = 0;
        var clock = Stopwatch.StartNew();
        var workers = new Thread[depth];
        Exception? failure = null;
        for (int w = 0; w < depth; w++)
        {
            int seed = w + 64 * round;
            workers[w] = new Thread(() =>
            {
                try
                {
                    using var buffer = new AlignedBuffer(block);
                    var random = new Random(1000 + seed);
                    long bytes = 0;
                    // At least one read per thread: on a loaded machine a thread may first run after the budget is spent.
                    do
                    {
                        long offset = random.NextInt64(slots) * block;
                        int read = RandomAccess.Read(handle, buffer.Span, offset);
                        if (read <= 0) break;
                        bytes += read;
                    }
                    while (clock.Elapsed < budget && !cancel.IsCancellationRequested);
                    Interlocked.Add(ref total, bytes);
                }
                catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
            }) { IsBackground = true, Name = $"disk-read-{w}" };
            workers[w].Start();
        }
        foreach (var t in workers) t.Join();
        double seconds = clock.Elapsed.TotalSeconds;
        cancel.ThrowIfCancellationRequested();
        if (failure is not null) throw new IOException($"reading the scratch file with {block}-byte blocks failed: {failure.Message}", failure);
        return total / seconds / 1e9;
    }

    /// <summary>Reads from the start in 1 MiB chunks until the end or the budget; GB/s.</summary>
    private static double SequentialReads(SafeFileHandle handle, long fileBytes, TimeSpan budget, CancellationToken cancel)
    {
        var buffer = new byte[SequentialChunk];
        long offset = 0;
        var clock = Stopwatch.StartNew();
        while (offset < fileBytes && clock.Elapsed < budget)
        {
            cancel.ThrowIfCancellationRequested();
            int read = RandomAccess.Read(handle, buffer, offset);
            if (read <= 0) break;
            offset += read;
        }
        return offset / clock.Elapsed.TotalSeconds / 1e9;
    }
}
