using System.CommandLine;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Configuration;
using HybridEngine.Gguf;
using HybridEngine.Models.Synthetic;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Planning;

/// <summary><c>hybrid plan</c> in-process on a small synthetic deepseek2 file, with no profile (defaults, said on stderr).</summary>
public sealed class PlanCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("plan-cli-").FullName;
    private readonly string _model;

    public PlanCommandTests()
    {
        _model = Path.Combine(_dir, "tiny.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("deepseek2", "tiny"), new SyntheticOptions(GgmlType.Q4_K, Seed: 3, Skew: 1f), _model);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var options = new EngineOptions
        {
            ProfileDirectory = Path.Combine(_dir, "profiles"),
            UserProfileDirectory = Path.Combine(_dir, "user-profiles"),
            ModelDirectory = _dir,
        };
        var root = new RootCommand("test");
        root.Subcommands.Add(PlanCommand.Create(stdout, stderr, options, HybridEngine.Tests.Tuning.TuneScratch.Small));
        int code = CliRunner.Run(root, args, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void JsonPlanCoversTheWholeFileAfterOneQuickTuneThatLaterRunsReuse()
    {
        var (code, stdout, stderr) = Run("plan", "-m", _model, "--json", "--cpu-only", "-c", "1024");
        Assert.True(code == 0, stderr);
        Assert.Contains("no hardware profile", stderr);
        Assert.Contains("running a quick tune once", stderr);
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "user-profiles"), "*.json"));
        var again = Run("plan", "-m", _model, "--json", "--cpu-only", "-c", "1024");
        Assert.True(again.Code == 0, again.Err);
        Assert.DoesNotContain("quick tune", again.Err);
        Assert.Equal(stdout, again.Out);
        Assert.Contains("router's selection bias", stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        using var file = GgufFile.Open(_model);
        Assert.Equal(file.Tensors.Sum(t => t.ByteSize), root.GetProperty("modelBytes").GetInt64());
        Assert.StartsWith("profile ", root.GetProperty("hardwareSource").GetString());
        Assert.Equal("router_bias", root.GetProperty("popularitySource").GetString());
        Assert.Equal(1024, root.GetProperty("options").GetProperty("contextLength").GetInt32());
        Assert.True(root.GetProperty("options").GetProperty("cpuOnly").GetBoolean());
        Assert.Equal(5, root.GetProperty("tiers").GetArrayLength());
    }

    [Fact]
    public void StatsFileNextToTheModelIsUsedAndTheTableHasEveryTier()
    {
        using (var file = GgufFile.Open(_model))
        {
            var inventory = ModelInventory.FromGguf(file);
            PlanningModels.ZipfStats(inventory).Save(ExpertStats.DefaultPath(_model));
        }
        var (code, stdout, stderr) = Run("plan", "-m", _model);
        Assert.True(code == 0, stderr);
        Assert.Contains("calibration", stdout);
        foreach (var tier in Enum.GetValues<Tier>()) Assert.Contains(Tiers.DisplayName(tier), stdout);
        Assert.Contains("tokens/s", stdout);
    }

    [Fact]
    public void BudgetTooSmallExitsTwoWithTheNeededSize()
    {
        var (code, stdout, stderr) = Run("plan", "-m", _model, "--ram-budget", "64M");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("need a RAM budget of at least", stderr);
        Assert.Contains("64.0 MiB", stderr);
    }

    [Fact]
    public void BadSizeAndMismatchedStatsAreUsageErrors()
    {
        Assert.Equal(2, Run("plan", "-m", _model, "--ram-budget", "lots").Code);
        string stats = Path.Combine(_dir, "wrong.json");
        new ExpertStats(ExpertStats.CalibrationSource, "x", 1, [new LayerExpertCounts(1, [1, 2, 3])]).Save(stats);
        var (code, _, stderr) = Run("plan", "-m", _model, "--expert-stats", stats);
        Assert.Equal(2, code);
        Assert.Contains("wrong.json", stderr);
    }
}
