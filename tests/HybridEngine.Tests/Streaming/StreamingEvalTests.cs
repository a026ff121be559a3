using System.Diagnostics;
using System.Globalization;
using HybridEngine.Hardware;
using HybridEngine.Runtime;
using HybridEngine.Runtime.Streaming;
using HybridEngine.Tests.Tuning;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Streaming;

/// <summary>eval and run under a RAM budget that streams experts: results, memory, errors and the tune-once rule.</summary>
[Collection(StreamingCollection.Name)]
public sealed class StreamingEvalTests(StreamingFixture f, ITestOutputHelper log)
{
    private const string Tokens = "1,5,9,200,33,17,300,12,19,88,301,2,7,44,3,100";

    /// <summary>
    /// Process memory besides weights, expert cache, KV cache and scratch: the .NET runtime, JIT'd code, the CLI's
    /// libraries and thread stacks. Measured about 66 MB for eval of the small model here; 96 MiB leaves room for
    /// runtime versions and GC timing, and stays below the routed-expert bytes the mapping would have touched.
    /// </summary>
    private const long ProcessOverheadBytes = 96L << 20;

    [Theory]
    [InlineData("tiny")]
    [InlineData("small")]
    public void QuarterOfTheExpertBytesGivesBitIdenticalLogits(string which)
    {
        string model = which == "tiny" ? f.Tiny : f.Small;
        string full = Path.Combine(f.Root, which + "-full.bin"), budgeted = Path.Combine(f.Root, which + "-quarter.bin");
        var a = f.Run("eval", "-m", model, "--tokens", Tokens, "--logits-out", full, "--profile", f.ProfilePath, "-t", "1");
        Assert.True(a.Code == 0, a.Err);
        long budget = StreamingFixture.BudgetFor(model, 16, 0.25);
        var b = f.Run("eval", "-m", model, "--tokens", Tokens, "--logits-out", budgeted, "--profile", f.ProfilePath, "-t", "1",
            "--ram-budget", budget.ToString(CultureInfo.InvariantCulture), "--stats");
        Assert.True(b.Code == 0, b.Err);
        log.WriteLine(b.Err);
        // Experts really streamed: every one the tokens chose was read from the file, none came from the mapping.
        Assert.True(StreamingFixture.StatsNumber(b.Err, "misses") > 0, b.Err);
        Assert.Contains("direct", b.Err);
        Assert.Equal(File.ReadAllBytes(full), File.ReadAllBytes(budgeted));
    }

    /// <summary>
    /// Decoding with a cache an eighth of the expert bytes gives the tokens of the unbudgeted run with the default
    /// policy and next-layer guesses (some dropped unread when the router proves them wrong), with LRU, and without
    /// prefetch.
    /// </summary>
    [Fact]
    public void LruPolicyAndNoPrefetchGiveTheSameTokens()
    {
        long budget = StreamingFixture.BudgetFor(f.Small, 40, 0.125);
        string[] common = ["run", "-m", f.Small, "--tokens", Tokens, "-n", "24", "--profile", f.ProfilePath, "-t", "1"];
        var free = f.Run(common);
        var lru = f.Run([.. common, "--ram-budget", budget.ToString(CultureInfo.InvariantCulture), "--cache-policy", "lru", "--stats"]);
        var off = f.Run([.. common, "--ram-budget", budget.ToString(CultureInfo.InvariantCulture), "--no-prefetch", "--stats"]);
        var on = f.Run([.. common, "--ram-budget", budget.ToString(CultureInfo.InvariantCulture), "--stats"]);
        Assert.True(free.Code == 0 && lru.Code == 0 && off.Code == 0 && on.Code == 0, free.Err + lru.Err + off.Err + on.Err);
        log.WriteLine(lru.Err + off.Err + on.Err);
        Assert.Equal(free.Out, on.Out);
        Assert.DoesNotContain(" 0 guessed reads", on.Err);
        Assert.Equal(free.Out, lru.Out);
        Assert.Equal(free.Out, off.Out);
        Assert.Contains("Lru", lru.Err);
        Assert.Contains("0 guessed reads", off.Err);
    }

    /// <summary>
    /// The CLI as a child process (so VmHWM is its own) on the small model (118 MB file, 99 MB routed experts) with an
    /// expert cache of an eighth of the expert bytes: its peak resident memory stays within what the plan holds (always-used
    /// weights, cache, KV and scratch) plus <see cref="ProcessOverheadBytes"/>, below what reading the experts through
    /// the mapping would cost. With measured statistics the plan pins the most popular experts as well (read into
    /// private buffers, so the mapping's page-cache folios around them are never mapped).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PeakResidentMemoryStaysWithinTheBudget(bool pinned)
    {
        int n = 24;
        long budget = StreamingFixture.BudgetFor(f.Small, 16 + n, pinned ? 0.16 : 0.125);
        long planned = budget - HybridEngine.Planning.Planner.RuntimeOverheadBytes - HybridEngine.Planning.Planner.IoReserve(StreamingFixture.RoutedBytes(f.Small));
        string[] stats = pinned ? ["--expert-stats", SkewedStats()] : [];
        string stderr = RunChild(f.Small, ["--tokens", Tokens, "-n", n.ToString(CultureInfo.InvariantCulture), "--profile", f.ProfilePath,
            "--ram-budget", budget.ToString(CultureInfo.InvariantCulture), "--stats", "-t", "1", .. stats]);
        log.WriteLine(stderr);
        long peak = StreamingFixture.StatsNumber(stderr, "peak resident");
        long routed = StreamingFixture.RoutedBytes(f.Small);
        log.WriteLine($"peak {peak / 1e6:F1} MB, planned {planned / 1e6:F1} MB + overhead {ProcessOverheadBytes / 1e6:F1} MB, file {new FileInfo(f.Small).Length / 1e6:F1} MB");
        Assert.True(new FileInfo(f.Small).Length > 3 * planned, "the model must be several times what the plan holds");
        Assert.True(StreamingFixture.StatsNumber(stderr, "misses") > 0, stderr);
        Assert.True(peak <= planned + ProcessOverheadBytes, $"peak {peak} > {planned} + {ProcessOverheadBytes}");
        if (pinned) Assert.Contains("pinned", stderr);
        if (pinned) return;
        // Control: the same run with every expert resident (read through the mapping) breaks the bound.
        long resident = StreamingFixture.StatsNumber(RunChild(f.Small, "--tokens", Tokens, "-n", "4", "--profile", f.ProfilePath, "--stats", "-t", "1"), "peak resident", "placement");
        log.WriteLine($"resident run: peak {resident / 1e6:F1} MB");
        Assert.True(resident > planned + ProcessOverheadBytes, $"control: resident peak {resident} should exceed the bound");
    }

    // Measured-looking statistics for the small model: expert e of every layer has rank (5·e) mod n and weight
    // 1/(1+rank)^1.2, so the pinned experts lie scattered through the stacked tensors (not one contiguous run, which
    // would share page-cache folios with each other).
    private string SkewedStats()
    {
        string path = Path.Combine(f.Root, "small-scattered.expert-stats.json");
        lock (typeof(StreamingEvalTests))
        {
            if (File.Exists(path)) return path;
            using var file = HybridEngine.Gguf.GgufFile.Open(f.Small);
            var inventory = HybridEngine.Planning.ModelInventory.FromGguf(file);
            new HybridEngine.Planning.ExpertStats(HybridEngine.Planning.ExpertStats.CalibrationSource, inventory.Name, 10_000, [.. inventory.MoeLayers.Select(l =>
                new HybridEngine.Planning.LayerExpertCounts(l.Layer, [.. Enumerable.Range(0, l.Experts.Count).Select(e => Math.Round(10_000 / Math.Pow(1 + 5 * e % l.Experts.Count, 1.2)))]))])
                .Save(path);
            return path;
        }
    }

    private static string RunChild(string model, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "hybrid.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { dll, "run", "-m", model }.Concat(args)) start.ArgumentList.Add(arg);
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        string stderr = child.StandardError.ReadToEnd();
        Assert.True(child.WaitForExit(120_000), "the child did not finish");
        Assert.True(child.ExitCode == 0, stderr);
        return stderr;
    }

    [Fact]
    public void TruncatedFileIsAClearErrorWithNoOutputFile()
    {
        string cut = Path.Combine(f.Root, "cut.gguf");
        File.Copy(f.Tiny, cut, overwrite: true);
        using (var s = new FileStream(cut, FileMode.Open)) s.SetLength(s.Length / 2);
        string output = Path.Combine(f.Root, "cut.bin");
        var r = f.Run("eval", "-m", cut, "--tokens", Tokens, "--logits-out", output, "--profile", f.ProfilePath);
        Assert.NotEqual(0, r.Code);
        Assert.Contains("cut.gguf", r.Err);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(f.Root, "cut.bin*"));
    }

    /// <summary>
    /// The file the cache streams from is truncated after the model was opened (mid-run): the forward pass fails with
    /// an I/O error naming the file within seconds, rather than hanging on a read that never completes.
    /// </summary>
    [Fact]
    public void FileTruncatedMidRunFailsWithoutHanging()
    {
        string copy = Path.Combine(f.Root, "streamed.gguf");
        File.Copy(f.Tiny, copy, overwrite: true);
        using var loaded = LoadedModel.Load(f.Tiny);
        var streamed = loaded.Weights.ExpertLayers.SelectMany(l => Enumerable.Range(0, l.Experts).Select(e => (l.Layer, e))).ToList();
        long firstExpert = streamed.Min(x => loaded.Weights.ExpertLayout(x.Layer, x.e).Min(s => s.FileOffset));
        using var cache = new ExpertCache(loaded.Weights, copy, streamed, new ExpertCacheOptions(128 << 10, 64 << 10, 2));
        loaded.Weights.ExpertOverride = cache;
        using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: 8, Threads: 1));
        executor.Forward([1, 2], 0);
        using (var s = new FileStream(copy, FileMode.Open)) s.SetLength(firstExpert);
        var run = Task.Run(() => executor.Forward([5, 9, 33, 17, 12, 19], 2));
        Assert.True(((IAsyncResult)run).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(30)), "the forward pass hung on a truncated file");
        var error = Assert.ThrowsAny<Exception>(() => run.GetAwaiter().GetResult());
        Assert.IsAssignableFrom<IOException>(error);
        Assert.Contains("streamed.gguf", error.Message);
        loaded.Weights.ExpertOverride = null;
    }

    [Fact]
    public void EvalWithoutAProfileTunesOnceThenReusesIt()
    {
        string dir = Path.Combine(f.Root, "tune-once");
        var options = f.Options with { ProfileDirectory = Path.Combine(dir, "project"), UserProfileDirectory = Path.Combine(dir, "user") };
        string output = Path.Combine(dir, "logits.bin");
        var first = f.Run(options, "eval", "-m", f.Tiny, "--tokens", "1,2,3", "--logits-out", output);
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains("running a quick tune once", first.Err);
        Assert.Single(Directory.GetFiles(Path.Combine(dir, "user"), "*.json"));
        var second = f.Run(options, "run", "-m", f.Tiny, "--tokens", "1,2,3", "-n", "2");
        Assert.True(second.Code == 0, second.Err);
        Assert.DoesNotContain("quick tune", second.Err);
        var third = f.Run(options, "plan", "-m", f.Tiny, "--json");
        Assert.True(third.Code == 0, third.Err);
        Assert.DoesNotContain("quick tune", third.Err);
    }

    /// <summary>A synthetic profile with an 8 GB discrete GPU: the plan puts weights on it, and none with --cpu-only.</summary>
    [Fact]
    public void CpuOnlyPlacesNothingOnTheGpu()
    {
        var machine = ProfileJson.Load(f.ProfilePath);
        var gpu = new GpuInfo("Test GPU 8GB", "nvidia", "0x10de", "0x2882", "nvidia", Integrated: false, MemoryBytes: 8L << 30, ComputeUnits: 32, "cuda", "");
        var hardware = machine.Hardware with { Gpus = [gpu] };
        var withGpu = machine with { Hardware = hardware, Fingerprint = HardwareFingerprint.Compute(hardware) };
        string path = Path.Combine(f.Root, "gpu.json");
        ProfileJson.Save(withGpu, path);

        var normal = f.Run("plan", "-m", f.Small, "--json", "--profile", path);
        var cpu = f.Run("plan", "-m", f.Small, "--json", "--profile", path, "--cpu-only");
        Assert.True(normal.Code == 0 && cpu.Code == 0, normal.Err + cpu.Err);
        long GpuBytes(string json) => StreamingFixture.Json(json).GetProperty("tiers").EnumerateArray()
            .Where(t => t.GetProperty("tier").GetString() == "gpu").Sum(t => t.GetProperty("bytes").GetInt64());
        int GpuTensors(string json) => StreamingFixture.Json(json).GetProperty("tensors").EnumerateArray().Count(t => t.GetProperty("tier").GetString() == "gpu");
        Assert.True(GpuBytes(normal.Out) > 0, "control: the GPU profile must place weights on the GPU");
        Assert.Equal(0, GpuBytes(cpu.Out));
        Assert.Equal(0, GpuTensors(cpu.Out));
        Assert.Equal(0L, StreamingFixture.Json(cpu.Out).GetProperty("prediction").GetProperty("peakVramBytes").GetInt64());

        var eval = f.Run("eval", "-m", f.Tiny, "--tokens", "1,2,3", "--logits-out", Path.Combine(f.Root, "cpu.bin"), "--profile", path, "--cpu-only", "--stats");
        Assert.True(eval.Code == 0, eval.Err);
    }
}
