using System.Collections.Immutable;
using System.Globalization;
using HybridEngine.Configuration;
using HybridEngine.Models;
using HybridEngine.Quantization;

namespace HybridEngine.Planning;

/// <summary>
/// Places a model on a machine: a pure function of (inventory, hardware figures, options, expert statistics) → plan.
/// No I/O, no device handles, no clock: the same inputs give the same plan.
/// <para>
/// Order of filling. A weight's benefit per byte from a faster tier is proportional to the probability p that a token
/// reads it (time saved = p·bytes·(1/slow − 1/fast)), so tiers fill in decreasing p: always-used weights (p = 1; the
/// embedding table only has one row read, p = 1/vocab, unless the output is tied to it), then routed experts by
/// λ = expertsUsed × their share of the layer's routings (from <see cref="ExpertStats"/>, else uniform).
/// Dedicated GPU memory fills first, up to the VRAM budget; every always-used weight left must fit in RAM, or the plan
/// is refused; experts left go to RAM while it lasts, and the rest stream from disk through a RAM cache.
/// </para>
/// <para>
/// RAM budget. It covers everything the process holds: resident weights, pinned experts, the expert cache, the KV
/// cache and scratch for the context length, direct-I/O buffers and <see cref="RuntimeOverheadBytes"/>. With measured
/// statistics, <see cref="MeasuredPinnedShare"/> of the expert RAM pins the most popular experts and the rest is a
/// dynamic cache; with only a prior (uniform or router bias) nothing is pinned and all of it is cache. Scratch is
/// counted in RAM; a GPU that holds weights also keeps one scratch's worth of activations.
/// </para>
/// <para>
/// KV cache. A layer's attention runs on the device that holds its output projection (attn_output), over a KV cache in
/// that device's memory: placing attn_output on a dedicated GPU also takes the layer's share of the KV cache (the whole
/// context) from the VRAM budget, and that share leaves RAM (the runtime allocates no host rows for the layer). The KV
/// of layers attending on the CPU, or on an integrated GPU (whose memory is RAM), is counted in RAM.
/// </para>
/// <para>
/// Predictions. Per token, every weight is read p·bytes times from its tier: at the CPU's measured matvec rate for its
/// type (else memory bandwidth) in RAM, at memory bandwidth on an integrated GPU, at the GPU's rate on a dedicated one;
/// attention also reads half the KV cache on average, each layer's share at the rate of the device holding it; every
/// decoder layer adds a fixed <see cref="PlannerHardware.LayerOverheadSeconds"/> (compute = memory time + layers ×
/// overhead). Missed experts (<see cref="ExpertCacheModel"/>) are read at the disk's direct-I/O rate (with prefetch
/// the tuned rate, without it the rate of an expert read alone × <see cref="DemandReadShare"/>, both capped by
/// --disk-gbps: <see cref="DiskGBps"/>), plus
/// <see cref="PrefetchWasteShare"/> of them for wrong guesses when the runtime prefetches; <see cref="OverlapSeconds"/>
/// of that disk time runs while the CPU computes. tokens/s = 1 / (compute + disk − overlap).
/// </para>
/// </summary>
public static class Planner
{
    /// <summary>RAM the process needs besides weights, KV and scratch: .NET runtime, JIT'd code, thread stacks, tokenizer.</summary>
    public const long RuntimeOverheadBytes = 256L << 20;
    /// <summary>Aligned buffers for direct-I/O reads in flight while experts stream (at most; see <see cref="IoReserve"/>).</summary>
    public const long IoBufferBytes = 64L << 20;

    /// <summary>
    /// RAM set aside for reads in flight when <paramref name="streamedBytes"/> of experts may stream: <see cref="IoBufferBytes"/>,
    /// or an eighth of those bytes when that is less (a small model never has 64 MiB in flight).
    /// </summary>
    public static long IoReserve(long streamedBytes) => Math.Min(IoBufferBytes, streamedBytes / 8);
    /// <summary>GPU memory left to the driver and context when no VRAM budget is given.</summary>
    public const long GpuReserveBytes = 512L << 20;
    /// <summary>Default RAM budget as a share of physical memory: the OS, page cache for the header and other programs keep the rest.</summary>
    public const double DefaultRamShare = 0.85;
    /// <summary>Share of the expert RAM that pins the most popular experts when statistics were measured; the rest stays a dynamic cache.</summary>
    public const double MeasuredPinnedShare = 0.75;
    /// <summary>
    /// Reads of next-layer guesses that the router then does not pick, as a share of the demand misses. A guess reads an
    /// expert only when it is not cached and the cache's policy values it above what it would evict, so wrong guesses
    /// add a fraction of the misses: 11–16 % measured with `run --stats` (decode steps, prefetch on vs off) on synthetic
    /// deepseek2 models with Zipf-like routing; the runtime's counters report the real share on any model.
    /// </summary>
    public const double PrefetchWasteShare = 0.15;
    /// <summary>
    /// Share of the disk time per token during which the compute thread is busy too, with next-layer guesses read
    /// ahead: reads of a layer's guessed experts run while the layer before computes, and a layer computes its cached
    /// experts while the others are read. Measured as (reader busy − I/O wait) ÷ reader busy over decode with
    /// `run --stats` on deepseek2 v2lite q4_k at a 25 % budget: 0.22 with the machine nearly idle, 0.34–0.38 under
    /// load (compute then takes longer, so more of the reads hide behind it); at 50 % 0.49–0.63, but there the disk
    /// time is a tenth of the compute time and the share hardly matters (README, "Decode speed model"). Since the
    /// expert cache reuses evicted buffers the idle 25 % runs measure 0.50, but their compute (decode time − I/O wait,
    /// 155 ms per token) is also 25 ms above the plan's compute term and above the 127 ms the 50 % runs measure (the
    /// term does not count what streaming itself costs the two cores: reader threads, I/O completions); 0.2 with the plan's compute gives the same token time as 0.5 with the
    /// measured compute, so the share stays until the compute term counts streaming's own cost.
    /// </summary>
    public const double PrefetchOverlapShare = 0.2;
    /// <summary>
    /// The same share without prefetch: only the reads of one layer's experts overlap the compute of its experts
    /// already in RAM (measured about 0 before decode computed ready experts first; a small share is counted for that).
    /// </summary>
    public const double DemandOverlapShare = 0.05;

    /// <summary>
    /// Seconds of disk time hidden behind compute per token: the measured share of the disk time, never more than the
    /// compute time itself (a token takes at least as long as its reads and as its compute).
    /// </summary>
    public static double OverlapSeconds(double computeSeconds, double diskSeconds, bool prefetch) =>
        Math.Min(computeSeconds, (prefetch ? PrefetchOverlapShare : DemandOverlapShare) * diskSeconds);

    /// <summary>Layers of experts the cache must hold at least: the one computing and the one being prefetched.</summary>
    public const int MinimumCachedLayers = 2;

    public static Plan Create(ModelInventory inventory, PlannerHardware hardware, PlanOptions options, ExpertStats? stats = null)
    {
        if (options.Validate() is { } bad) throw new ArgumentException(bad);
        if (stats?.Validate(inventory) is { } mismatch) throw new ArgumentException(mismatch);
        var hp = inventory.HyperParameters;
        var notes = new List<string>();
        int ctx = options.ContextLength;
        if (hp.ContextLength > 0 && ctx > hp.ContextLength)
            notes.Add(Invariant($"context {ctx} exceeds the model's trained context {hp.ContextLength}"));

        // --- devices and budgets
        var gpus = options.CpuOnly ? [] : hardware.Gpus;
        var dedicated = gpus.Where(g => !g.Integrated).ToList();
        var integrated = gpus.FirstOrDefault(g => g.Integrated);
        long ramBudget = options.RamBudget ?? (long)(hardware.RamBytes * DefaultRamShare);
        if (ramBudget > hardware.RamBytes)
            notes.Add($"the RAM budget {Size(ramBudget)} is more than the machine's {Size(hardware.RamBytes)}");
        long vramBudget = dedicated.Count == 0 ? 0 : options.VramBudget ?? dedicated.Sum(g => Math.Max(0, g.MemoryBytes - GpuReserveBytes));
        if (options.CpuOnly && hardware.Gpus.Length > 0) notes.Add("--cpu-only: the GPUs the profile lists are not used");
        if (options.VramBudget is > 0 && dedicated.Count == 0) notes.Add("the VRAM budget is ignored: no dedicated GPU is used");

        long kv = inventory.KvCacheBytes(ctx), activations = inventory.ActivationBytes(ctx);
        long gpuScratch = vramBudget > activations ? activations : 0;
        long gpuFree = vramBudget - gpuScratch;

        // --- usage probability per token of every weight
        bool tied = !inventory.Tensors.Any(t => t.Class == TensorClass.Output);
        var always = inventory.Tensors.Where(t => t.Class != TensorClass.RoutedExperts).ToList();
        double Use(InventoryTensor t) => t.Class == TensorClass.Embeddings && !tied ? 1.0 / Math.Max(1, hp.Vocab) : 1.0;
        var experts = ExpertRates(inventory, stats);

        // --- dedicated GPU: always-used weights (not a row-lookup embedding), then experts by popularity
        var tier = new Dictionary<string, Tier>(StringComparer.Ordinal);
        var expertTier = new Dictionary<(int, int), Tier>();
        long gpuUsed = 0, gpuKv = 0;
        long kvPerLayer = hp.Layers > 0 ? kv / hp.Layers : 0;
        foreach (var t in always.Where(t => Use(t) >= 1))
        {
            // The layer's attention (and so its KV cache) goes where its output projection goes.
            long withKv = IsAttentionOutput(t.Name) ? kvPerLayer : 0;
            if (gpuUsed + gpuKv + t.Bytes + withKv <= gpuFree) { tier[t.Name] = Tier.Gpu; gpuUsed += t.Bytes; gpuKv += withKv; }
        }
        foreach (var x in experts)
            if (x.Rate > 0 && gpuUsed + gpuKv + x.Bytes <= gpuFree) { expertTier[(x.Layer, x.Expert)] = Tier.Gpu; gpuUsed += x.Bytes; }
        long ramKv = kv - gpuKv;

        // --- RAM: every always-used weight left must fit; an integrated GPU computes on them but adds no capacity
        Tier ramTier = integrated is not null ? Tier.IntegratedGpu : Tier.RamResident;
        long alwaysRam = 0;
        foreach (var t in always.Where(t => !tier.ContainsKey(t.Name)))
        {
            tier[t.Name] = t.Class == TensorClass.Embeddings && !tied ? Tier.RamResident : ramTier;
            alwaysRam += t.Bytes;
        }
        var left = experts.Where(x => !expertTier.ContainsKey((x.Layer, x.Expert))).ToList();
        long expertsLeft = left.Sum(x => x.Bytes);
        long fixedRam = ramKv + activations + RuntimeOverheadBytes;
        long expertRam = ramBudget - alwaysRam - fixedRam;
        bool streams = expertsLeft > expertRam;
        long minCache = streams ? Math.Min(expertsLeft, MinimumCachedLayers * (long)Math.Max(1, hp.ExpertsUsed) * inventory.LargestExpertBytes) : 0;
        long io = IoReserve(expertsLeft);
        long needed = alwaysRam + fixedRam + (streams ? io + minCache : 0);
        if (needed > ramBudget)
            throw new PlanRefusedException(
                $"the plan cannot run: the always-used weights in RAM ({Size(alwaysRam)}), the KV cache and scratch for {ctx} tokens ({Size(ramKv + activations)}), " +
                $"the runtime ({Size(RuntimeOverheadBytes)})" + (streams ? $" and the smallest expert cache with its I/O buffers ({Size(minCache + io)})" : "") +
                $" need a RAM budget of at least {Size(needed)}, but the budget is {Size(ramBudget)}", needed);

        // --- experts in RAM: all of them, or pinned hot ones plus a dynamic cache
        long pinned = 0, cache = 0;
        if (!streams)
        {
            foreach (var x in left) expertTier[(x.Layer, x.Expert)] = Tier.RamResident;
            pinned = expertsLeft;
        }
        else
        {
            long room = expertRam - io;
            long pinCapacity = stats is { IsMeasured: true } ? Math.Min((long)(room * MeasuredPinnedShare), room - minCache) : 0;
            foreach (var x in left)
                if (x.Rate > 0 && pinned + x.Bytes <= pinCapacity) { expertTier[(x.Layer, x.Expert)] = Tier.RamResident; pinned += x.Bytes; }
            foreach (var x in left) expertTier.TryAdd((x.Layer, x.Expert), Tier.Disk);
            cache = room - pinned;
        }

        // --- hit rates (Che's LRU approximation over the streamed experts) and predictions
        var streamed = experts.Where(x => expertTier[(x.Layer, x.Expert)] == Tier.Disk).ToList();
        double[] hit = ExpertCacheModel.HitProbabilities(streamed.Select(x => x.Rate).ToArray(), streamed.Select(x => x.Bytes).ToArray(), cache);
        var hitOf = new Dictionary<(int, int), double>();
        for (int i = 0; i < streamed.Count; i++) hitOf[(streamed[i].Layer, streamed[i].Expert)] = hit[i];

        double gpuRate = (dedicated.Select(g => g.ReadGBps).FirstOrDefault(r => r is > 0) ?? PlannerHardware.DefaultGpuReadGBps) * 1e9;
        if (gpuUsed > 0 && !dedicated.Any(g => g.ReadGBps is > 0)) notes.Add(Invariant($"GPU bandwidth assumed {PlannerHardware.DefaultGpuReadGBps} GB/s (not measured)"));
        double memoryRate = hardware.MemoryReadGBps * 1e9;
        double Rate(Tier where, GgmlType type) => where == Tier.Gpu ? gpuRate
            : where == Tier.IntegratedGpu ? memoryRate // shares the RAM's bandwidth
            : hardware.CpuReadBytesPerSecond(QuantTypes.Get(type).Name.ToLowerInvariant());

        double compute = 0, diskBytes = 0, requests = 0, served = 0;
        foreach (var t in always) compute += Use(t) * t.Bytes / Rate(tier[t.Name], t.Type);
        foreach (var x in experts)
        {
            var where = expertTier[(x.Layer, x.Expert)];
            double h = where == Tier.Disk ? hitOf[(x.Layer, x.Expert)] : 1;
            foreach (var slab in x.Unit.Slabs) compute += x.Rate * slab.Bytes / Rate(where == Tier.Gpu ? Tier.Gpu : Tier.RamResident, slab.Type);
            diskBytes += x.Rate * (1 - h) * x.Bytes;
            requests += x.Rate;
            served += x.Rate * h;
        }
        if (options.Prefetch) diskBytes *= 1 + PrefetchWasteShare;
        // Attention reads the KV cache: on average half of it over a context that fills from empty.
        compute += ramKv / 2.0 / memoryRate + gpuKv / 2.0 / gpuRate;
        compute += Math.Max(0, hp.Layers) * hardware.LayerOverheadSeconds;
        double diskGBps = DiskGBps(hardware, options, streamed.Select(x => x.Unit), out var demandPoint);
        double diskSeconds = diskBytes > 0 ? diskBytes / (diskGBps * 1e9) : 0;
        double overlap = OverlapSeconds(compute, diskSeconds, options.Prefetch);
        double tokenSeconds = compute + diskSeconds - overlap;
        double tokensPerSecond = tokenSeconds > 0 ? 1.0 / tokenSeconds : 0; // 0: nothing to read (an empty model)
        if (hardware.Assumed) notes.Add("some hardware figures are assumptions, not measurements: run `hybrid tune` for a measured plan");
        if (streams) notes.Add(Invariant($"{(options.Prefetch ? PrefetchOverlapShare : DemandOverlapShare):P0} of the disk time is counted as overlapped with compute (the share the runtime was measured to reach)"));
        if (streams && options.DiskGBps is { } cap) notes.Add(Invariant($"disk reads are capped at {cap:0.###} GB/s (--disk-gbps)"));
        if (streams && demandPoint is { } d)
            notes.Add(Invariant($"without prefetch each missing expert is read alone: {ByteSize.Format(d.BlockBytes)} blocks × {d.QueueDepth} reads in flight reach {d.Fill:P0} of that point's rate, and a reader started per expert {DemandReadShare:P0} of that{(options.DiskGBps is null ? "" : ", within the cap")}: {diskGBps:F2} GB/s"));

        long ioBuffers = streams ? io : 0;
        var reserve = new MemoryReserve(ramKv, activations, RuntimeOverheadBytes, ioBuffers, gpuUsed > 0 ? gpuScratch : 0, gpuKv);
        long peakRam = alwaysRam + pinned + cache + reserve.RamBytes;
        long peakVram = gpuUsed > 0 ? gpuUsed + gpuScratch + gpuKv : 0;
        double hitRate = requests > 0 ? served / requests : 1;
        var prediction = new PlanPrediction(tokensPerSecond, diskBytes, hitRate, compute, diskSeconds, peakRam, peakVram, overlap);

        var tiers = PlanTiers.Describe(inventory, tier, expertTier, experts, new PlanTiers.Figures(
            options, hardware, dedicated.Count > 0, integrated is not null, vramBudget, gpuFree - gpuKv, gpuUsed, ramBudget, alwaysRam, pinned, cache,
            stats, hitRate, streamed.Count));
        var tensors = always.Select(t => new TensorPlacement(t.Name, TensorClassifier.DisplayName(t.Class), tier[t.Name], t.Bytes)).ToImmutableArray();
        var layers = inventory.MoeLayers.Select(l =>
        {
            ImmutableArray<int> With(Tier where) => l.Experts.Where(u => expertTier[(l.Layer, u.Expert)] == where).Select(u => u.Expert).ToImmutableArray();
            var mine = experts.Where(x => x.Layer == l.Layer).ToList();
            double asked = mine.Sum(x => x.Rate);
            double got = mine.Sum(x => x.Rate * (hitOf.TryGetValue((x.Layer, x.Expert), out double h) ? h : 1));
            return new ExpertLayerPlacement(l.Layer, l.ExpertBytes, With(Tier.Gpu), With(Tier.RamResident), With(Tier.Disk), asked > 0 ? got / asked : 1);
        }).ToImmutableArray();

        return new Plan(inventory.Name, hp.Architecture, options, hardware.Source, hardware.Assumed, stats?.Source ?? "uniform",
            ramBudget, vramBudget, inventory.TotalBytes, inventory.AlwaysUsedBytes, inventory.RoutedExpertBytes,
            reserve, tiers, prediction, notes.ToImmutableArray(), tensors, layers);
    }

    /// <summary>
    /// The bandwidth streamed experts are read at, 10⁹ B/s: with prefetch several experts are queued at once and the
    /// readers reach the profile's tuned rate; without it each missing expert is read alone, at the rate of the point
    /// <see cref="ExpertReadRule"/> picks (the point's bandwidth × its fill; the tuned rate when the point was not
    /// measured) × <see cref="DemandReadShare"/>, which the runtime's reader picks too. Slabs are taken as starting on an I/O alignment boundary (the
    /// file's data offset is not known here). A --disk-gbps cap bounds either rate (the reader paces all its threads to it).
    /// </summary>
    internal static double DiskGBps(PlannerHardware hardware, PlanOptions options, IEnumerable<ExpertUnit> streamed, out ExpertReadPoint? demandPoint)
    {
        double full = options.DiskGBps is { } cap ? Math.Min(hardware.DiskReadGBps, cap) : hardware.DiskReadGBps;
        demandPoint = null;
        if (options.Prefetch) return full;
        var experts = streamed.Select(u => (IReadOnlyList<long>)u.Slabs.Select(s => ExpertReadRule.AlignedSpan(0, s.Bytes)).ToArray()).ToList();
        var point = ExpertReadRule.Choose(hardware.DiskPoints, hardware.IoBlockBytes, hardware.IoQueueDepth, experts, demand: true, options.DiskGBps);
        demandPoint = point;
        double alone = (point.GBps > 0 ? point.GBps : hardware.DiskReadGBps) * point.Fill * DemandReadShare;
        return Math.Min(alone, options.DiskGBps ?? double.PositiveInfinity);
    }

    /// <summary>
    /// Share of the picked point's rate × fill that the reader sustains while busy when each missing expert is read
    /// alone (no prefetch): every expert's read then starts cold, its readers woken by the compute thread's request,
    /// where the tuner's readers never stop. Measured with `run --stats --no-prefetch` on deepseek2 v2lite q4_k at a
    /// 25 % budget on the development VM: reader 0.77 and 0.78 GB/s while busy against the rule's 1.02 (64 KiB × 4),
    /// 0.88 and 0.92 against 1.31 with another tune's figures, 0.75 against 1.0 with 1 MiB × 4: 0.67–0.76, so 0.75.
    /// A --disk-gbps cap is not derated: the pacing, not the disk, sets the rate under it.
    /// </summary>
    public const double DemandReadShare = 0.75;

    /// <summary>An expert with its request probability per token.</summary>
    internal sealed record RatedExpert(int Layer, int Expert, long Bytes, double Rate, ExpertUnit Unit);

    /// <summary>λ = min(1, expertsUsed × share), most popular first; ties keep (layer, expert) order.</summary>
    private static List<RatedExpert> ExpertRates(ModelInventory inventory, ExpertStats? stats)
    {
        int used = inventory.HyperParameters.ExpertsUsed;
        var rated = new List<RatedExpert>();
        for (int li = 0; li < inventory.MoeLayers.Length; li++)
        {
            var layer = inventory.MoeLayers[li];
            double[] shares = stats?.Shares(li) ?? Enumerable.Repeat(1.0 / layer.Experts.Count, layer.Experts.Count).ToArray();
            foreach (var unit in layer.Experts)
                rated.Add(new RatedExpert(layer.Layer, unit.Expert, unit.Bytes, Math.Min(1.0, used * shares[unit.Expert]), unit));
        }
        return rated.OrderByDescending(x => x.Rate).ThenBy(x => x.Layer).ThenBy(x => x.Expert).ToList();
    }

    private static bool IsAttentionOutput(string name) => name.StartsWith("blk.", StringComparison.Ordinal) && name.EndsWith(".attn_output.weight", StringComparison.Ordinal);

    internal static string Size(long bytes) => $"{ByteSize.Format(bytes)}";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
