using System.Collections.Immutable;
using System.Globalization;
using HybridEngine.Models;

namespace HybridEngine.Planning;

/// <summary>Sums a placement into one row per tier, each with the reason for what it holds.</summary>
internal static class PlanTiers
{
    internal sealed record Figures(
        PlanOptions Options,
        PlannerHardware Hardware,
        bool HasDedicatedGpu,
        bool HasIntegratedGpu,
        long VramBudget,
        long GpuFree,
        long GpuUsed,
        long RamBudget,
        long AlwaysRam,
        long Pinned,
        long Cache,
        ExpertStats? Stats,
        double HitRate,
        int StreamedExperts);

    public static ImmutableArray<TierUse> Describe(ModelInventory inventory, Dictionary<string, Tier> tier,
        Dictionary<(int, int), Tier> expertTier, IReadOnlyList<Planner.RatedExpert> experts, Figures f)
    {
        var rows = ImmutableArray.CreateBuilder<TierUse>(5);
        foreach (Tier t in Enum.GetValues<Tier>())
        {
            var classes = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var tensor in inventory.Tensors)
                if (tensor.Class != TensorClass.RoutedExperts && tier[tensor.Name] == t)
                    Add(classes, TensorClassifier.DisplayName(tensor.Class), tensor.Bytes);
            var here = t == Tier.RamCache ? [] : experts.Where(x => expertTier[(x.Layer, x.Expert)] == t).ToList();
            foreach (var x in here) Add(classes, TensorClassifier.DisplayName(TensorClass.RoutedExperts), x.Bytes);
            long bytes = classes.Values.Sum();
            int count = t == Tier.RamCache ? f.StreamedExperts : here.Count;
            long capacity = t switch
            {
                Tier.Gpu => f.GpuFree,
                Tier.IntegratedGpu => 0,
                Tier.RamResident => f.AlwaysRam + f.Pinned,
                Tier.RamCache => f.Cache,
                _ => bytes,
            };
            if (t == Tier.RamCache) bytes = f.Cache;
            rows.Add(new TierUse(t, bytes, capacity, classes.ToImmutableSortedDictionary(StringComparer.Ordinal), count, Reason(t, bytes, count, inventory, f)));
        }
        return rows.MoveToImmutable();
    }

    private static void Add(SortedDictionary<string, long> classes, string name, long bytes) => classes[name] = classes.GetValueOrDefault(name) + bytes;

    private static string Reason(Tier t, long bytes, int count, ModelInventory inventory, Figures f)
    {
        string popularity = f.Stats is null ? "uniform popularity (no expert stats)"
            : f.Stats.IsMeasured ? $"{f.Stats.Source} counts over {f.Stats.Tokens.ToString(CultureInfo.InvariantCulture)} tokens"
            : $"the {f.Stats.Source} prior";
        return t switch
        {
            Tier.Gpu when f.Options.CpuOnly => "--cpu-only: nothing goes to a GPU",
            Tier.Gpu when !f.HasDedicatedGpu => "no dedicated GPU",
            Tier.Gpu when f.GpuFree <= 0 => $"the VRAM budget ({Planner.Size(f.VramBudget)}) leaves no room after the GPU's scratch",
            Tier.Gpu => $"read every token, so the GPU's bandwidth pays off most: always-used weights first, then {count} experts by {popularity}, within {Planner.Size(f.GpuFree)} of VRAM",
            Tier.IntegratedGpu when f.Options.CpuOnly => "--cpu-only: the integrated GPU is not used",
            Tier.IntegratedGpu when !f.HasIntegratedGpu => "no integrated GPU",
            Tier.IntegratedGpu => "computes on the always-used weights where they lie in RAM: adds compute (prefill), not capacity or memory bandwidth; bytes count in the RAM budget",
            Tier.RamResident when count == 0 && f.StreamedExperts == 0 && inventory.ExpertCount > 0 && bytes == 0 => "everything sits on the GPU",
            Tier.RamResident when f.StreamedExperts == 0 => $"everything left fits in the RAM budget ({Planner.Size(f.RamBudget)}): nothing streams",
            Tier.RamResident when count > 0 => $"always-used weights must be in memory; {count} experts pinned, the most popular by {popularity}",
            Tier.RamResident => $"always-used weights must be in memory; no expert pinned: {popularity} does not justify pinning, the cache adapts instead",
            Tier.RamCache when f.StreamedExperts == 0 => "not needed: no expert streams",
            Tier.RamCache => string.Create(CultureInfo.InvariantCulture,
                $"the rest of the RAM budget, holding about {(inventory.LargestExpertBytes > 0 ? f.Cache / inventory.LargestExpertBytes : 0)} experts at once; expected hit rate {f.HitRate:P1}"),
            Tier.Disk when count == 0 => "nothing streams",
            _ => $"{count} experts do not fit the budgets: read with direct I/O when routed to and not cached",
        };
    }
}
