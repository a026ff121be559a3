using System.CommandLine;
using System.Globalization;
using HybridEngine.Configuration;
using HybridEngine.Gguf;
using HybridEngine.Gpu;
using HybridEngine.Hardware;
using HybridEngine.Planning;
using HybridEngine.Runtime;
using HybridEngine.Runtime.Streaming;
using HybridEngine.Tuner;

namespace HybridEngine.Cli;

/// <summary>How streamed experts are read: through a private cache with direct I/O, or left to the OS page cache.</summary>
public enum StreamMode { Auto, Direct, PageCache }

/// <summary>
/// The placement options run, eval, serve, chat, perplexity, bench and calibrate share (<c>--profile --cpu-only --ram-budget --vram-budget --expert-stats --cache-policy
/// --stream-mode --no-prefetch --disk-gbps</c>) and what they do: build the plan before loading, upload what it puts on a GPU
/// (<see cref="DevicePlacement"/>; GPUs are only opened when the plan uses one, never with --cpu-only), then put an
/// <see cref="ExpertCache"/> behind the weight store for the experts the plan streams. A GPU that cannot be opened or
/// filled gives one warning on the error writer and a CPU-only plan.
/// </summary>
public sealed partial class RuntimeSetup
{
    /// <summary>Direct reads are chosen unless buffered cold reads measured this much faster (read-ahead wins).</summary>
    public const double PageCacheAdvantage = 1.2;

    public Option<string?> Profile { get; } = new("--profile") { Description = "hardware profile: a JSON file or a fingerprint (default: this machine's)" };
    public Option<bool> CpuOnly { get; } = new("--cpu-only") { Description = "place nothing on any GPU" };
    public Option<string?> RamBudget { get; } = new("--ram-budget") { Description = "RAM the process may hold (512M, 16G, 1.5GiB); experts that do not fit stream from disk" };
    public Option<string?> VramBudget { get; } = new("--vram-budget") { Description = "GPU memory the plan may use (default: the GPU's memory less a reserve)" };
    public Option<string?> ExpertStats { get; } = new("--expert-stats") { Description = "expert statistics file (default: MODEL.expert-stats.json when present)" };
    public Option<string> Policy { get; } = new("--cache-policy") { Description = "expert cache eviction: lfu-decay (default) or lru", DefaultValueFactory = _ => "lfu-decay" };
    public Option<string> Mode { get; } = new("--stream-mode") { Description = "auto (from the profile), direct or page-cache", DefaultValueFactory = _ => "auto" };
    public Option<bool> NoPrefetch { get; } = new("--no-prefetch") { Description = "do not guess and read ahead the next layer's experts" };
    public Option<string?> DiskGbps { get; } = new("--disk-gbps") { Description = "pace expert reads to at most this many GB/s (plans too): behave like a slower disk" };

    /// <summary>Opens the accelerators (tests substitute ILGPU's CPU accelerator standing in for a GPU).</summary>
    public Func<GpuDiscovery> DiscoverGpus { get; init; } = () => GpuDevices.Discover();

    /// <summary>Files at least this large show a load progress bar (on a terminal's stderr only; tests lower it).</summary>
    public long ProgressThresholdBytes { get; init; } = LoadProgressView.DefaultThresholdBytes;

    /// <summary>Told of every load progress report, shown or not (tests).</summary>
    public Action<LoadProgress>? OnProgress { get; init; }

    /// <summary>A setup that opens accelerators with <paramref name="discoverGpus"/> when given (tests), else by discovery.</summary>
    public static RuntimeSetup For(Func<GpuDiscovery>? discoverGpus) => discoverGpus is null ? new RuntimeSetup() : new RuntimeSetup { DiscoverGpus = discoverGpus };

    /// <summary>The model's trained context from its header (0 when absent): verbs settle the context before the plan sizes the KV cache.</summary>
    public static int TrainedContext(string path)
    {
        using var header = GgufFile.Open(path);
        return new Models.ModelMetadata(header, header.Architecture ?? "").Int("context_length", 0);
    }

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Profile, CpuOnly, RamBudget, VramBudget, ExpertStats, Policy, Mode, NoPrefetch, DiskGbps }) command.Options.Add(o);
    }

    /// <summary>A loaded model placed by its plan; dispose closes the cache, then the model.</summary>
    public sealed class Placed(LoadedModel model, Plan? plan, HardwareProfile? profile, ExpertCache? cache, string mode,
        DevicePlacement? placement = null, IReadOnlyList<IComputeDevice>? devices = null) : IDisposable
    {
        public LoadedModel Model { get; } = model;

        /// <summary>The plan in force (the CPU-only one once a GPU failed).</summary>
        public Plan? Plan => Placement?.Plan ?? plan;

        /// <summary>What the plan put on accelerators; null when the plan uses no GPU.</summary>
        public DevicePlacement? Placement { get; } = placement;
        public HardwareProfile? Profile { get; } = profile;
        public ExpertCache? Cache { get; } = cache;
        /// <summary>resident, direct or page-cache.</summary>
        public string Mode { get; } = mode;

        /// <summary>Engine:Threads of the bound configuration (0 = not set).</summary>
        public int ConfiguredThreads { get; init; }

        /// <summary>The flag's count, else the configuration's, else the tuned one.</summary>
        public int Threads(int requested) => requested > 0 ? requested : ConfiguredThreads > 0 ? ConfiguredThreads : Profile?.Settings.Threads ?? 0;

        public void Dispose()
        {
            if (Model.Weights.ExpertOverride == Cache) Model.Weights.ExpertOverride = null;
            Cache?.Dispose();
            Model.Weights.PrivateExperts?.Dispose();
            Model.Weights.PrivateExperts = null;
            Model.Placement = null;
            Placement?.Dispose();
            foreach (var device in devices ?? []) device.Dispose();
            Model.Dispose();
        }
    }

    /// <summary>
    /// Plans (when the model has routed experts or a placement flag is given: a dense model with no flags runs resident
    /// and needs no profile), loads, pages in what stays in RAM, and installs the expert cache the plan calls for.
    /// Loading a large file shows a progress bar on <paramref name="err"/> when it is a terminal, unless
    /// <paramref name="quiet"/> (--json).
    /// </summary>
    public Placed Load(ParseResult parse, string path, int context, EngineOptions engine, TextWriter err,
        Func<TuneOptions, TuneOptions>? adjustTune = null, bool quiet = false)
    {
        if (!EvictionPolicy.TryParse(parse.GetValue(Policy)!, out var policy))
            throw new UsageException($"--cache-policy '{parse.GetValue(Policy)}' is not one of lfu-decay, lru");
        var mode = parse.GetValue(Mode) switch
        {
            "auto" => StreamMode.Auto,
            "direct" => StreamMode.Direct,
            "page-cache" => StreamMode.PageCache,
            var other => throw new UsageException($"--stream-mode '{other}' is not one of auto, direct, page-cache"),
        };
        var options = PlanInputs.Options(Math.Max(1, context), parse.GetValue(RamBudget), parse.GetValue(VramBudget), parse.GetValue(CpuOnly), engine,
            parse.GetValue(NoPrefetch), parse.GetValue(DiskGbps));
        // A RAM budget is a promise about the process's memory, which only the private direct-I/O cache can keep (the page
        // cache would hold streamed experts in the machine's RAM beyond it), so auto then means direct.
        if (mode == StreamMode.Auto && options.RamBudget is not null) mode = StreamMode.Direct;
        bool flagged = parse.GetValue(Profile) is not null || options.RamBudget is not null || options.VramBudget is not null || parse.GetValue(ExpertStats) is not null;

        Plan? plan = null;
        HardwareProfile? profile = null;
        Func<Plan>? cpuPlan = null;
        using (var file = GgufFile.Open(path))
        {
            var inventory = ModelInventory.FromGguf(file);
            if (flagged || inventory.RoutedExpertBytes > 0)
            {
                profile = PlanInputs.Profile(parse.GetValue(Profile), engine, Path.GetDirectoryName(Path.GetFullPath(path))!, err, adjustTune);
                var stats = PlanInputs.Stats(parse.GetValue(ExpertStats), path, file, inventory, err);
                var hardware = PlanInputs.Hardware(profile, parse.GetValue(Profile));
                plan = PlanInputs.Create(inventory, hardware, options, stats);
                // Planner.Create itself: a refusal here is the placement's to handle (it runs on over the budget).
                cpuPlan = () => Planner.Create(inventory, hardware, options with { CpuOnly = true }, stats);
            }
        }

        bool show = !quiet && LoadProgressView.IsTerminal(err) && new FileInfo(path).Length >= ProgressThresholdBytes;
        return LoadProgressView.Run(err, show, progress => Place(parse, path, plan, profile, cpuPlan, mode, policy, engine, err, progress), OnProgress);
    }

    /// <summary>Maps the model, carries out the plan's GPU part, pages in what stays in RAM and sets up the expert cache.</summary>
    private Placed Place(ParseResult parse, string path, Plan? plan, HardwareProfile? profile, Func<Plan>? cpuPlan, StreamMode mode,
        EvictionPolicyKind policy, EngineOptions engine, TextWriter err, IProgress<LoadProgress>? progress)
    {
        var loaded = LoadedModel.Load(path);
        long total = loaded.File.FileSize;
        progress?.Report(new LoadProgress("mapped", loaded.File.DataOffset, total));
        DevicePlacement? placement = null;
        IReadOnlyList<IComputeDevice> devices = [];
        try
        {
            if (plan is not null && UsesAccelerator(plan))
            {
                var found = DiscoverGpus();
                devices = found.Devices;
                // With no device at all, why discovery failed goes into the one fallback warning.
                string why = found.Devices.Count == 0 && found.Warnings.Count > 0 ? $" [{string.Join("; ", found.Warnings)}]" : "";
                if (found.Devices.Count > 0) foreach (string warning in found.Warnings) err.WriteLine($"warning: {warning}");
                progress?.Report(new LoadProgress("uploading to the GPU", loaded.File.DataOffset, total));
                placement = new DevicePlacement(loaded.Weights, devices, cpuPlan, message => err.WriteLine($"warning: {message}{why}"));
                placement.Apply(plan);
                plan = placement.Plan!;
                loaded.Placement = placement;
            }
            Placed Make(ExpertCache? cache, string how) => new(loaded, plan, profile, cache, how, placement, devices) { ConfiguredThreads = engine.Threads };
            var streamed = plan?.Experts.SelectMany(l => l.Streamed.Select(e => (l.Layer, e))).ToList() ?? [];
            if (streamed.Count > 0 && mode == StreamMode.Auto) mode = Choose(profile!);
            if (streamed.Count == 0 || mode == StreamMode.PageCache)
            {
                PageIn(loaded, plan, progress, mappedExperts: true);
                return Make(null, streamed.Count == 0 ? "resident" : "page-cache");
            }
            // Direct streaming keeps the process within the budget: the experts the plan keeps in RAM are read into
            // private buffers, because touching them through the mapping would hold whole page-cache folios around them.
            PageIn(loaded, plan, progress, mappedExperts: false);
            // The plan's options carry --no-prefetch and --disk-gbps, so the reader runs the mode the plan predicts; pinned
            // experts, loaded many at once, keep the prefetch rule's queue depth.
            var (prefetch, cap) = (plan!.Options.Prefetch, plan.Options.DiskGBps);
            var read = ExpertReadSettings.For(profile!, loaded.Weights, streamed, prefetch, cap);
            var resident = plan.Experts.SelectMany(l => l.Resident.Select(e => (l.Layer, e))).ToList();
            int bulkDepth = prefetch ? read.QueueDepth : ExpertReadSettings.For(profile!, loaded.Weights, streamed).QueueDepth;
            if (resident.Count > 0) loaded.Weights.PrivateExperts = PrivateExperts.Load(loaded.Weights, path, resident, bulkDepth);
            var cacheOptions = new ExpertCacheOptions(plan.TierOf(Tier.RamCache).CapacityBytes, read.BlockBytes, read.QueueDepth, policy,
                loaded.Model.Dimensions.ExpertsUsed, cap);
            var cache = new ExpertCache(loaded.Weights, path, streamed, cacheOptions) { Prefetching = prefetch };
            loaded.Weights.ExpertOverride = cache;
            return Make(cache, "direct");
        }
        catch
        {
            placement?.Dispose();
            foreach (var device in devices) device.Dispose();
            loaded.Weights.PrivateExperts?.Dispose();
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>Pages in what the plan keeps in RAM: tensors not on a GPU, resident experts (everything without a plan).</summary>
    private static void PageIn(LoadedModel loaded, Plan? plan, IProgress<LoadProgress>? progress, bool mappedExperts)
    {
        var gpuTensors = plan?.Tensors.Where(t => t.Tier is Tier.Gpu or Tier.IntegratedGpu).Select(t => t.Name).ToHashSet() ?? [];
        var residentExperts = plan?.Experts.ToDictionary(l => l.Layer, l => l.Resident.ToHashSet());
        ResidentLoader.PageIn(loaded, name => !gpuTensors.Contains(name),
            (layer, expert) => mappedExperts && (residentExperts is null || (residentExperts.TryGetValue(layer, out var set) && set.Contains(expert))), progress);
    }

    /// <summary>Whether the plan puts any weight on a dedicated or integrated GPU (never under --cpu-only).</summary>
    public static bool UsesAccelerator(Plan plan) =>
        plan.Tensors.Any(t => t.Tier is Tier.Gpu or Tier.IntegratedGpu) || plan.Experts.Any(l => l.Gpu.Length > 0);

    /// <summary>
    /// Direct I/O into a private cache, unless the profile says direct reads are refused or the page cache's buffered
    /// cold reads were measured clearly faster than direct reads at the tuned block size and queue depth (unified-memory
    /// machines, read-ahead friendly disks).
    /// </summary>
    public static StreamMode Choose(HardwareProfile profile)
    {
        if (!profile.Settings.DirectIo || profile.Measurements.Disk is not { DirectIo: true } disk) return StreamMode.PageCache;
        var direct = disk.Direct.IsDefault ? [] : disk.Direct;
        double best = DiskPoint.TunedOrBest(direct, profile.Settings.IoBlockBytes, profile.Settings.IoQueueDepth);
        return disk.BufferedColdGBps is { } cold && cold > PageCacheAdvantage * best ? StreamMode.PageCache : StreamMode.Direct;
    }
}
