using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// The plan's decode speed is a promise: the small synthetic deepseek2 (calibrated statistics) runs under a RAM budget
/// that streams most experts and a --disk-gbps cap, with prefetch on and off, and the decode tokens/s that
/// <c>run --stats</c> measures stays within 20 % of what <c>hybrid plan</c> predicted for the same options.
/// <para>
/// Why the timing holds on a loaded 2-core CI box: the cap is low enough that the paced reads are at least 80 % of the
/// predicted token time (checked on the plan, as a control), and a paced read takes its slot of the cap however busy
/// the machine is (the real disk is far faster); the compute the plan counts is under a tenth of a token and mostly
/// hides behind the reads with prefetch. Measured with the machine's load average near 30 (other builds and tests):
/// ratios 0.94 (prefetch) and 0.87 (no prefetch); the cache's first fill and late wake-ups of the readers and the
/// compute thread make the measured speed lower, not higher.
/// </para>
/// <para>
/// What makes it fail: a planner that ignores the cap (it would predict the profile's 1.5 GB/s, some 40 times too
/// fast), disk bytes per token off by more than ~15 %, or a reader whose pacing the planner does not follow (per
/// reader instead of shared: the small model's experts are 3 pieces for 4 readers, 25 % slower). Under a dominating
/// cap the prefetch mode moves the prediction by only ~10 % and the demand efficiency not at all (the cap is one
/// budget for all readers): <c>DiskRateModelTests</c> and <c>ExpertReadSettingsTests</c> check those parts exactly.
/// </para>
/// </para>
/// </summary>
[Collection(StreamingCollection.Name)]
public sealed class DecodeSpeedPredictionTests(StreamingFixture f, ITestOutputHelper log)
{
    /// <summary>The bound on the planner's speed error.</summary>
    private const double Tolerance = 0.20;

    /// <summary>The control: disk time's least share of the predicted token time for the comparison to test the disk model.</summary>
    private const double DiskShare = 0.80;


    /// <summary>
    /// 0.012 GB/s against ~2.4 MB read per token: ~200 ms of paced reads per token, over 90 % of it by the plan. The
    /// expert cache starts empty, and its first fill adds reads the steady-state plan does not count: 32 tokens keep
    /// that within a few percent of the bytes (16 tokens measured +14..+24 %).
    /// </summary>
    private const string Cap = "0.012";
    private const double ExpertShare = 0.25;
    private const int Prompt = 2, Decoded = 32;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DecodeTokensPerSecondMatchThePlan(bool noPrefetch)
    {
        int context = Prompt + Decoded + 1;
        string budget = StreamingFixture.BudgetFor(f.Small, context, ExpertShare).ToString(CultureInfo.InvariantCulture);
        string[] placement = ["--profile", f.ProfilePath, "--ram-budget", budget, "--expert-stats", f.CalibratedStats(),
            "-c", context.ToString(CultureInfo.InvariantCulture), "--disk-gbps", Cap];
        if (noPrefetch) placement = [.. placement, "--no-prefetch"];

        var plan = f.Run(["plan", "-m", f.Small, "--json", .. placement]);
        Assert.True(plan.Code == 0, plan.Err);
        var p = StreamingFixture.Json(plan.Out).GetProperty("prediction");
        double predicted = p.GetProperty("decodeTokensPerSecond").GetDouble();
        double compute = p.GetProperty("computeSeconds").GetDouble(), disk = p.GetProperty("diskSeconds").GetDouble();
        double token = 1 / predicted;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"plan: compute {compute * 1e3:F2} ms, disk {disk * 1e3:F2} ms, token {token * 1e3:F2} ms, {predicted:F2} tok/s"));
        Assert.True(disk >= DiskShare * token, $"disk {disk} s is less than {DiskShare:P0} of the token's {token} s: the cap does not dominate");

        string[] run = ["run", "-m", f.Small, "--tokens", string.Join(",", Enumerable.Range(0, Prompt).Select(i => 2 + (7 + 29 * i) % 380)),
            "-n", (Decoded + 1).ToString(CultureInfo.InvariantCulture), "--stats", "-t", "1", .. PlanPredictionTests.Sampling, .. placement];
        var r = f.Run(run);
        Assert.True(r.Code == 0, r.Err);
        log.WriteLine(r.Err);
        double measured = PlanPredictionTests.DecodeNumber(r.Err, "tokens, ", " tok/s");
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"prefetch {!noPrefetch}: measured {measured:F2} tok/s, predicted {predicted:F2} tok/s, ratio {measured / predicted:F3}"));
        Assert.InRange(measured / predicted, 1 - Tolerance, 1 + Tolerance);
        // The disk roofline (tokens/s the cap allows at the bytes read) is what the paced run is held to: the achieved
        // share of it is high and cannot pass 1 by more than timing noise. A roofline taken at the uncapped disk
        // (GB/s, a hundred times the cap) would move it far outside.
        string steps = r.Err.Split('\n').First(l => l.StartsWith("decode steps", StringComparison.Ordinal)).TrimEnd();
        double ratio = double.Parse(steps[(steps.LastIndexOf("ratio ", StringComparison.Ordinal) + "ratio ".Length)..], CultureInfo.InvariantCulture);
        Assert.InRange(ratio, 0.6, 1.1);
    }

    [Fact]
    public void PlanPredictsTheModeAndCapItIsGiven()
    {
        string budget = StreamingFixture.BudgetFor(f.Small, 64, ExpertShare).ToString(CultureInfo.InvariantCulture);
        string[] plan = ["plan", "-m", f.Small, "--json", "--profile", f.ProfilePath, "--ram-budget", budget, "-c", "64"];
        var free = f.Run(plan);
        var capped = f.Run([.. plan, "--disk-gbps", "0.05", "--no-prefetch"]);
        Assert.True(free.Code == 0 && capped.Code == 0, free.Err + capped.Err);
        var a = StreamingFixture.Json(free.Out);
        var b = StreamingFixture.Json(capped.Out);
        Assert.True(a.GetProperty("options").GetProperty("prefetch").GetBoolean());
        Assert.False(a.GetProperty("options").TryGetProperty("diskGBps", out _)); // plans without a cap read as before
        Assert.False(b.GetProperty("options").GetProperty("prefetch").GetBoolean());
        Assert.Equal(0.05, b.GetProperty("options").GetProperty("diskGBps").GetDouble());
        var pb = b.GetProperty("prediction");
        Assert.Equal(pb.GetProperty("diskBytesPerToken").GetDouble() / 0.05e9, pb.GetProperty("diskSeconds").GetDouble(), 9);

        var bad = f.Run([.. plan, "--disk-gbps", "fast"]);
        Assert.Equal(2, bad.Code);
        Assert.Contains("--disk-gbps 'fast'", bad.Err);
    }
}
