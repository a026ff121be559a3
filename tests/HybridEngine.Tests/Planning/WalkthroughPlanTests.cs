using System.Collections.Immutable;
using HybridEngine.Cli.Commands;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using Xunit;
using Xunit.Abstractions;
using static HybridEngine.Tests.Planning.PlanningModels;

namespace HybridEngine.Tests.Planning;

/// <summary>
/// The plans of docs/walkthrough.md: DeepSeek-R1 (V3 shapes, header only) at the 1.58-bit mix and at Q4_K_M, on a 32 GB
/// laptop and on a 64 GB desktop with an 8 GB GPU. Each plan is checked for what the walkthrough says of it, and
/// printed as <c>hybrid plan</c> prints it (run this class with detailed console verbosity to regenerate the doc's text).
/// </summary>
public sealed class WalkthroughPlanTests(ITestOutputHelper log)
{
    private const int Context = 4096;

    /// <summary>A 32 GB laptop: dual-channel DDR5 (~60 GB/s), a PCIe 4 NVMe (~5 GB/s direct reads), no usable GPU.</summary>
    public static PlannerHardware Laptop32() => new(
        32 * GiB, 60, ImmutableSortedDictionary<string, double>.Empty.Add("q4_K", 40), 5, [], Assumed: false, "laptop-32g");

    public static ModelInventory R1(string mix) =>
        HeaderOnly(DeepSeekV3 with { Preset = "r1-" + mix }, GgmlType.Q4_K, p => mix == "q4_k_m" ? Q4KM(p, DeepSeekV3.Layers) : Iq1SMix(p));

    [Theory]
    [InlineData("iq1_s", "laptop")]
    [InlineData("iq1_s", "desktop")]
    [InlineData("q4_k_m", "laptop")]
    [InlineData("q4_k_m", "desktop")]
    public void R1PlansFitTheMachineAndStreamTheRest(string mix, string machine)
    {
        var model = R1(mix);
        var hardware = machine == "laptop" ? Laptop32() : Desktop64Gpu8();
        var plan = Planner.Create(model, hardware, new PlanOptions(Context));
        var text = new StringWriter();
        PlanText.Write(plan, text);
        log.WriteLine(text.ToString());

        var p = plan.Prediction;
        Assert.True(p.PeakRamBytes <= plan.RamBudgetBytes, $"peak RAM {p.PeakRamBytes} over the budget {plan.RamBudgetBytes}");
        Assert.True(p.PeakVramBytes <= plan.VramBudgetBytes);
        // Neither file fits either machine: experts stream, and the prediction says how many bytes a token reads.
        Assert.True(model.TotalBytes > hardware.RamBytes);
        Assert.True(plan.TierOf(Tier.Disk).Experts > 0);
        Assert.InRange(p.ExpertHitRate, 0.0, 1.0);
        // Disk time dominates a streamed token: at most every routed expert read, plus wrong guesses.
        double routedPerToken = (double)model.HyperParameters.ExpertsUsed * model.MoeLayers.Sum(l => l.ExpertBytes);
        Assert.InRange(p.DiskBytesPerToken, 0.1 * routedPerToken, routedPerToken * (1 + Planner.PrefetchWasteShare));
        if (machine == "desktop")
        {
            // The GPU takes always-used weights first (attention, shared experts, dense layers): every token reads them.
            Assert.True(plan.TierOf(Tier.Gpu).Bytes > 0);
            Assert.Contains(plan.Tensors, t => t.Tier == Tier.Gpu && t.Class == "attention");
        }
        else Assert.Equal(0, plan.TierOf(Tier.Gpu).Bytes);
    }

    /// <summary>The 1.58-bit mix (SPEC 4.7): routed gate/up IQ1_S, down IQ2_XXS, the rest as the Q4_K plan stores it.</summary>
    private static GgmlType Iq1SMix(HybridEngine.Models.Synthetic.PlannedTensor p) =>
        p.Type != GgmlType.Q4_K ? p.Type
        : p.Tensor.Name.EndsWith("ffn_down_exps.weight", StringComparison.Ordinal) ? GgmlType.IQ2_XXS
        : p.Tensor.Name.Contains("_exps", StringComparison.Ordinal) ? GgmlType.IQ1_S
        : GgmlType.Q4_K;
}
