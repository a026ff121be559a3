using System.CommandLine;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Gguf;
using HybridEngine.Planning;
using HybridEngine.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Streaming;

/// <summary><c>hybrid calibrate</c> on the tiny synthetic deepseek2: the stats file the planner then reads.</summary>
[Collection(StreamingCollection.Name)]
public sealed class CalibrateCommandTests(StreamingFixture f)
{
    /// <summary>Runs calibrate with the fixture's profile folders and synthetic profile (the model has experts, so it is planned).</summary>
    private (int Code, string Err) Calibrate(params string[] args)
    {
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(CalibrateCommand.Create(stderr, f.Options, Tuning.TuneScratch.Small));
        return (CliRunner.Run(root, [.. args, "--profile", f.ProfilePath], stderr), stderr.ToString());
    }

    /// <summary>
    /// The placement options of run: with a RAM budget that leaves a quarter of the expert bytes to the cache, experts
    /// stream and the counts are those of the resident run exactly (routing does not depend on where weights live).
    /// </summary>
    [Fact]
    public void UnderARamBudgetThatStreamsTheCountsAreTheSame()
    {
        string prompts = Path.Combine(f.Root, "prompts-budget.txt");
        File.WriteAllLines(prompts, ["the cat sat on the mat", "hello world, again and again"]);
        string resident = Path.Combine(f.Root, "resident.json"), streamed = Path.Combine(f.Root, "streamed.json");
        var a = Calibrate("calibrate", "-m", f.Tiny, "-f", prompts, "--out", resident, "-t", "1");
        Assert.True(a.Code == 0, a.Err);
        string budget = StreamingFixture.BudgetFor(f.Tiny, 16, 0.25).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var b = Calibrate("calibrate", "-m", f.Tiny, "-f", prompts, "--out", streamed, "-t", "1", "--ram-budget", budget, "--cache-policy", "lru");
        Assert.True(b.Code == 0, b.Err);
        using var file = GgufFile.Open(f.Tiny);
        var inventory = ModelInventory.FromGguf(file);
        var x = ExpertStats.LoadFor(resident, inventory);
        var y = ExpertStats.LoadFor(streamed, inventory);
        Assert.Equal(x.Tokens, y.Tokens);
        Assert.Equal(x.Layers.Select(l => l.Counts.ToArray()), y.Layers.Select(l => l.Counts.ToArray()));
    }

    [Fact]
    public void CountsEveryRoutingOfEveryPromptTokenAndThePlanUsesThem()
    {
        string prompts = Path.Combine(f.Root, "prompts.txt");
        File.WriteAllLines(prompts, ["the cat sat on the mat", "", "hello world, again and again", "a b c"]);
        string output = Path.Combine(f.Root, "calibrated.json");
        var (code, err) = Calibrate("calibrate", "-m", f.Tiny, "-f", prompts, "--out", output, "-t", "1");
        Assert.True(code == 0, err);

        using var file = GgufFile.Open(f.Tiny);
        var inventory = ModelInventory.FromGguf(file);
        var tokenizer = Tokenizer.FromGguf(file);
        long tokens = new[] { "the cat sat on the mat", "hello world, again and again", "a b c" }
            .Sum(p => (long)tokenizer.Encode(p, addSpecial: true, parseSpecial: false).Length);
        var stats = ExpertStats.LoadFor(output, inventory);
        Assert.Equal(ExpertStats.CalibrationSource, stats.Source);
        Assert.Equal(tokens, stats.Tokens);
        // Each token routes to exactly expertsUsed distinct experts in every MoE layer.
        foreach (var layer in stats.Layers)
            Assert.Equal(tokens * inventory.HyperParameters.ExpertsUsed, layer.Counts.Sum());

        var plan = f.Run("plan", "-m", f.Tiny, "--json", "--profile", f.ProfilePath, "--expert-stats", output);
        Assert.True(plan.Code == 0, plan.Err);
        Assert.Equal("calibration", StreamingFixture.Json(plan.Out).GetProperty("popularitySource").GetString());
    }

    [Fact]
    public void MissingOrEmptyPromptFileIsAUsageError()
    {
        Assert.Equal(2, Calibrate("calibrate", "-m", f.Tiny, "-f", Path.Combine(f.Root, "none.txt")).Code);
        string empty = Path.Combine(f.Root, "empty.txt");
        File.WriteAllText(empty, "\n\n");
        Assert.Equal(2, Calibrate("calibrate", "-m", f.Tiny, "-f", empty).Code);
    }
}
