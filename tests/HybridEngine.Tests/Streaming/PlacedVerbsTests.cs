using System.CommandLine;
using System.Globalization;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Runtime;
using HybridEngine.Tests.Tuning;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// bench and perplexity with the placement options of run on the tiny synthetic deepseek2, and the load progress that
/// RuntimeSetup reports: bench's cache figures agree with its own counters, perplexity does not depend on placement,
/// progress is monotone and ends at the file's size, and a redirected stderr gets none of it.
/// </summary>
[Collection(StreamingCollection.Name)]
public sealed class PlacedVerbsTests(StreamingFixture f, ITestOutputHelper log)
{
    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(BenchCommand.Create(stdout, stderr, f.Options, TuneScratch.Small));
        root.Subcommands.Add(PerplexityCommand.Create(stdout, stderr, f.Options, TuneScratch.Small));
        int code = CliRunner.Run(root, [.. args, "--profile", f.ProfilePath], stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Quarter(string model, int context) =>
        StreamingFixture.BudgetFor(model, context, 0.25).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Under a quarter-expert budget experts stream: the hit rate lies in [0, 1] and equals hits over requests, the disk
    /// bytes per token are positive and equal the bytes read over every token the bench ran (pp and tg, one warm-up
    /// and one timed run each: 2 × (16 + 8)), and the text mode prints run --stats' cache line.
    /// </summary>
    [Fact]
    public void BenchUnderARamBudgetReportsTheExpertCache()
    {
        var (code, stdout, stderr) = Run("bench", "-m", f.Tiny, "--pp", "16", "--tg", "8", "-r", "1", "-t", "1", "--json",
            "--ram-budget", Quarter(f.Tiny, 16));
        Assert.True(code == 0, stderr);
        log.WriteLine(stdout);
        var json = StreamingFixture.Json(stdout);
        Assert.Equal("direct", json.GetProperty("placement").GetProperty("mode").GetString());
        var s = json.GetProperty("streaming");
        long tokens = s.GetProperty("tokens").GetInt64(), read = s.GetProperty("bytes_read").GetInt64();
        long hits = s.GetProperty("hits").GetInt64(), misses = s.GetProperty("misses").GetInt64(), prefetched = s.GetProperty("prefetch_hits").GetInt64();
        double rate = s.GetProperty("hit_rate").GetDouble(), perToken = s.GetProperty("bytes_per_token").GetDouble();
        Assert.Equal(2 * (16 + 8), tokens);
        Assert.True(misses > 0 && read > 0, stdout);
        Assert.InRange(rate, 0, 1);
        Assert.Equal(hits / (double)(hits + misses + prefetched), rate, 12);
        Assert.True(perToken > 0);
        Assert.Equal(read / (double)tokens, perToken, 6);
        Assert.True(s.GetProperty("io_wait_s").GetDouble() >= 0);

        var text = Run("bench", "-m", f.Tiny, "--pp", "16", "--tg", "8", "-r", "1", "-t", "1", "--ram-budget", Quarter(f.Tiny, 16));
        Assert.True(text.Code == 0, text.Err);
        Assert.Matches(@"^pp_tok_s=\d+\.\d+ tg_tok_s=\d+\.\d+\r?\n$", text.Out);
        Assert.True(StreamingFixture.StatsNumber(text.Err, "misses") > 0, text.Err);
        Assert.Contains("hit rate", text.Err);
    }

    /// <summary>Placement never changes results: perplexity under a quarter-expert budget equals the resident figure exactly.</summary>
    [Fact]
    public void PerplexityUnderAQuarterExpertBudgetEqualsResident()
    {
        string text = Path.Combine(f.Root, "ppl.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("Once upon a time there was a little cat who sat on the mat and looked at the moon. ", 12)));
        var resident = Run("perplexity", "-m", f.Tiny, "-f", text, "-c", "16", "--chunks", "3", "-t", "1", "--json");
        var streamed = Run("perplexity", "-m", f.Tiny, "-f", text, "-c", "16", "--chunks", "3", "-t", "1", "--json", "--ram-budget", Quarter(f.Tiny, 16));
        Assert.True(resident.Code == 0, resident.Err);
        Assert.True(streamed.Code == 0, streamed.Err);
        double a = StreamingFixture.Json(resident.Out).GetProperty("perplexity").GetDouble();
        double b = StreamingFixture.Json(streamed.Out).GetProperty("perplexity").GetDouble();
        Assert.True(double.IsFinite(a) && a > 1, resident.Out);
        Assert.Equal(a, b);
    }

    /// <summary>
    /// With the threshold at 0 every load reports: stages in order, bytes never going back, every report's total the
    /// file's size and the last at it, under a budget that streams (skipped experts count as done) and without one.
    /// The error writer is not a terminal, so it gets no escape codes and no progress text.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadProgressIsMonotoneAndEndsAtTheFileSize(bool budget)
    {
        var reports = new List<LoadProgress>();
        var setup = new RuntimeSetup { OnProgress = reports.Add, ProgressThresholdBytes = 0 };
        var command = new Command("load");
        setup.AddTo(command);
        string[] args = budget ? ["--profile", f.ProfilePath, "--ram-budget", Quarter(f.Small, 16)] : ["--profile", f.ProfilePath];
        var err = new StringWriter();
        using (var placed = setup.Load(command.Parse(args), f.Small, 16, f.Options, err, TuneScratch.Small))
            Assert.Equal(budget ? "direct" : "resident", placed.Mode);
        long size = new FileInfo(f.Small).Length;
        Assert.True(reports.Count > 2, $"{reports.Count} reports");
        Assert.All(reports, r => Assert.Equal(size, r.TotalBytes));
        for (int i = 1; i < reports.Count; i++) Assert.True(reports[i].Bytes >= reports[i - 1].Bytes, $"report {i} goes back");
        Assert.Equal(size, reports[^1].Bytes);
        Assert.True(reports[0].Bytes < size);
        Assert.DoesNotContain('\u001b', err.ToString());
        Assert.DoesNotContain("paging", err.ToString());
    }
}
