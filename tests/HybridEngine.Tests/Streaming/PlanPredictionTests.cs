using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// The plan's disk prediction is a promise: the small synthetic deepseek2 (Zipf-like routing, skew 1, calibrated
/// statistics) runs under RAM budgets that stream most experts, and the bytes the expert cache reads per decoded
/// token stay within 20 % of what <c>hybrid plan</c> predicted for the same model, profile, budget and statistics.
/// </summary>
[Collection(StreamingCollection.Name)]
public sealed class PlanPredictionTests(StreamingFixture f, ITestOutputHelper log)
{
    /// <summary>The bound on the planner's disk error.</summary>
    private const double Tolerance = 0.20;

    private const int Prompt = 12, Decoded = 96;

    /// <summary>
    /// Seeded sampling over the whole vocabulary: greedy decoding of random weights falls into a loop of a few tokens,
    /// whose experts then stay cached, where text keeps moving through the vocabulary.
    /// </summary>
    internal static readonly string[] Sampling = ["--temp", "1", "--top-k", "0", "--top-p", "1", "--min-p", "0", "--seed", "3"];

    [Theory]
    [InlineData(0.25, false)]
    [InlineData(0.25, true)]
    [InlineData(0.40, false)]
    public void DiskBytesPerDecodedTokenMatchThePlan(double expertShare, bool noPrefetch)
    {
        string stats = f.CalibratedStats();
        int context = Prompt + Decoded + 1;
        string budget = StreamingFixture.BudgetFor(f.Small, context, expertShare).ToString(CultureInfo.InvariantCulture);
        string[] placement = ["--profile", f.ProfilePath, "--ram-budget", budget, "--expert-stats", stats, "-c", context.ToString(CultureInfo.InvariantCulture)];

        if (noPrefetch) placement = [.. placement, "--no-prefetch"];
        var plan = f.Run(["plan", "-m", f.Small, "--json", .. placement]);
        Assert.True(plan.Code == 0, plan.Err);
        double predicted = StreamingFixture.Json(plan.Out).GetProperty("prediction").GetProperty("diskBytesPerToken").GetDouble();

        string[] run = ["run", "-m", f.Small, "--tokens", string.Join(",", Enumerable.Range(0, Prompt).Select(i => 2 + (7 + 29 * i) % 380)),
            "-n", (Decoded + 1).ToString(CultureInfo.InvariantCulture), "--stats", "-t", "1", .. Sampling, .. placement];
        var r = f.Run(run);
        Assert.True(r.Code == 0, r.Err);
        log.WriteLine(r.Err);
        double measured = DecodeNumber(r.Err, "disk ", " MB/token") * 1e6;
        log.WriteLine($"share {expertShare}, prefetch {!noPrefetch}: measured {measured / 1e6:F3} MB/token, predicted {predicted / 1e6:F3} MB/token");
        // Control: the run really streams, several experts per token; otherwise the comparison says nothing.
        Assert.True(measured > 0.5 * StreamingFixture.RoutedBytes(f.Small) / 224, $"too little streamed: {measured} bytes/token");
        Assert.InRange(measured / predicted, 1 - Tolerance, 1 + Tolerance);
    }

    /// <summary>A number of the "decode steps" stats line between <paramref name="before"/> and <paramref name="after"/>.</summary>
    internal static double DecodeNumber(string stderr, string before, string after)
    {
        string line = stderr.Split('\n').FirstOrDefault(l => l.StartsWith("decode steps", StringComparison.Ordinal)) ?? "";
        int end = line.IndexOf(after, StringComparison.Ordinal);
        Assert.True(end > 0, $"no '{after}' in: {line}");
        int start = line.LastIndexOf(before, end, StringComparison.Ordinal) + before.Length;
        return double.Parse(line[start..end], CultureInfo.InvariantCulture);
    }
}
