using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Hardware;
using HybridEngine.Models.Synthetic;
using HybridEngine.Quantization;
using HybridEngine.Tests.Tuning;
using Xunit;

namespace HybridEngine.Tests.Configuration;

/// <summary>
/// The configuration bound once at start-up (<see cref="CliRunner.Configure"/>, as Program calls it) reaches the
/// verbs: appsettings.json, then HYBRID_ variables, then the command line, later wins; a bad value stops the CLI
/// with one sentence and exit code 2.
/// </summary>
public sealed class StartupConfigurationTests : IDisposable
{
    private readonly string _dir = TestPaths.NewScratchDirectory();
    private readonly string _model, _profile;

    public StartupConfigurationTests()
    {
        _model = Path.Combine(_dir, "tiny.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("qwen3moe", "tiny"), new SyntheticOptions(GgmlType.F32, Seed: 3), _model);
        _profile = Path.Combine(_dir, "machine.json");
        ProfileJson.Save(TuneScratch.Synthetic(new HardwareProbe().Probe(_dir)), _profile);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// The RAM budget the plan verb ends up with (its JSON's ramBudgetBytes): 3 GiB from the file, 2 GiB once the
    /// environment sets one, 1 GiB once the command line does. Each layer changes what the verb sees.
    /// </summary>
    [Fact]
    public void PlanSeesTheFileThenTheEnvironmentThenTheCommandLine()
    {
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"), """{ "Memory": { "RamBudget": "3G" } }""");
        var env = new Dictionary<string, string?> { ["HYBRID_Memory__RamBudget"] = "2G" };
        Assert.Equal(3L << 30, PlanBudget([], new Dictionary<string, string?>()));
        Assert.Equal(2L << 30, PlanBudget([], env));
        Assert.Equal(1L << 30, PlanBudget(["--ram-budget", "1G"], env));
    }

    private long PlanBudget(string[] extra, IDictionary<string, string?> environment)
    {
        string[] args = ["plan", "-m", _model, "--profile", _profile, "--json", "-c", "64", .. extra];
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var engine = CliRunner.Configure(args, stderr, _dir, environment);
        Assert.True(engine is not null, stderr.ToString());
        var root = new RootCommand("test");
        root.Subcommands.Add(PlanCommand.Create(stdout, stderr, engine));
        Assert.True(CliRunner.Run(root, args, stderr) == 0, stderr.ToString());
        return JsonDocument.Parse(stdout.ToString()).RootElement.GetProperty("ramBudgetBytes").GetInt64();
    }

    [Theory]
    [InlineData("""{ "Engine": { "Threads": "many" } }""", "Engine:Threads")]
    [InlineData("""{ "Engine": { "CpuOnly": "perhaps" } }""", "Engine:CpuOnly")]
    [InlineData("""{ "Memory": { "RamBudget": "0" } }""", "Memory:RamBudget")]
    [InlineData("""{ "Engine": { "Threads": 2, """, "appsettings.json")]
    public void ABadSettingIsOneSentenceNamingIt(string json, string named)
    {
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"), json);
        var stderr = new StringWriter();
        Assert.Null(CliRunner.Configure(["plan", "-m", _model], stderr, _dir, new Dictionary<string, string?>()));
        string[] lines = stderr.ToString().Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(named, lines[0]);
    }

    /// <summary>
    /// The real executable: a bad HYBRID_ variable stops any verb with exit code 2 and one sentence, and a good one
    /// reaches the plan verb through Program's start-up binding (without it, the plan would budget the machine's RAM).
    /// </summary>
    [Fact]
    public void TheExecutableBindsTheEnvironmentOnceForEveryVerb()
    {
        var bad = Hybrid(new() { ["HYBRID_Engine__Threads"] = "-3" }, "inspect", "-m", _model);
        Assert.Equal(2, bad.Code);
        Assert.Equal("error: Engine:Threads must be 0 (auto) or positive, not -3", bad.Err.Trim());

        var good = Hybrid(new() { ["HYBRID_Memory__RamBudget"] = "5G" }, "plan", "-m", _model, "--profile", _profile, "--json", "-c", "64");
        Assert.True(good.Code == 0, good.Err);
        Assert.Equal(5L << 30, JsonDocument.Parse(good.Out).RootElement.GetProperty("ramBudgetBytes").GetInt64());
    }

    private static (int Code, string Out, string Err) Hybrid(Dictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "hybrid.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        string stderr = child.StandardError.ReadToEnd();
        Assert.True(child.WaitForExit(60_000), "the child did not finish");
        return (child.ExitCode, stdout.Result, stderr);
    }
}
