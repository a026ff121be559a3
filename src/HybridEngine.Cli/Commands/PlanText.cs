using System.Globalization;
using HybridEngine.Configuration;
using HybridEngine.Planning;

namespace HybridEngine.Cli.Commands;

/// <summary>The human-readable form of a <see cref="Plan"/>: budgets, one row per tier with its reason, predictions.</summary>
public static class PlanText
{
    public static void Write(Plan p, TextWriter w)
    {
        var o = p.Options;
        w.WriteLine($"model         {p.Model} ({p.Architecture}), {Size(p.ModelBytes)}: always-used {Size(p.AlwaysUsedBytes)}, routed experts {Size(p.RoutedExpertBytes)}");
        w.WriteLine($"hardware      {p.HardwareSource}{(p.HardwareAssumed ? " (includes assumed figures)" : "")}");
        w.WriteLine($"budgets       RAM {Size(p.RamBudgetBytes)}, VRAM {Size(p.VramBudgetBytes)}, context {o.ContextLength.ToString(CultureInfo.InvariantCulture)} tokens{(o.CpuOnly ? ", --cpu-only" : "")}");
        w.WriteLine($"popularity    {p.PopularitySource}");
        var r = p.Reserve;
        w.WriteLine($"reserved      KV cache {Size(r.KvCacheBytes)}, scratch {Size(r.ActivationBytes)}, runtime {Size(r.RuntimeBytes)}, I/O buffers {Size(r.IoBufferBytes)}" +
                    (r.GpuScratchBytes > 0 ? $", GPU scratch {Size(r.GpuScratchBytes)}" : "") + (r.GpuKvCacheBytes > 0 ? $", GPU KV cache {Size(r.GpuKvCacheBytes)}" : ""));
        w.WriteLine();
        w.WriteLine($"{"tier",-16}{"bytes",12}{"capacity",12}{"experts",9}  classes");
        foreach (var t in p.Tiers)
        {
            string classes = t.ClassBytes.Count == 0 ? "-" : string.Join(", ", t.ClassBytes.Select(c => $"{c.Key} {Size(c.Value)}"));
            w.WriteLine($"{Tiers.DisplayName(t.Tier),-16}{Size(t.Bytes),12}{Size(t.CapacityBytes),12}{t.Experts,9}  {classes}");
            w.WriteLine($"{"",16}why: {t.Reason}");
        }
        w.WriteLine();
        var pr = p.Prediction;
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"decode        {pr.DecodeTokensPerSecond:F2} tokens/s ({pr.ComputeSeconds * 1e3:F1} ms compute + {pr.DiskSeconds * 1e3:F1} ms disk − {pr.OverlapSeconds * 1e3:F1} ms overlapped per token)"));
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"disk          {Size((long)pr.DiskBytesPerToken)} per token; expert hit rate {pr.ExpertHitRate:P1}"));
        w.WriteLine($"peak memory   RAM {Size(pr.PeakRamBytes)}, VRAM {Size(pr.PeakVramBytes)}");
        foreach (string note in p.Notes) w.WriteLine($"note          {note}");
    }

    private static string Size(long bytes) => ByteSize.Format(bytes);
}
