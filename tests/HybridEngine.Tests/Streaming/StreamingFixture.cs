using System.CommandLine;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Configuration;
using HybridEngine.Gguf;
using HybridEngine.Hardware;
using HybridEngine.Models.Synthetic;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using HybridEngine.Tests.Tuning;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// Synthetic deepseek2 models (tiny, and small: 118 MB, 99 MB of it routed experts) written once under a scratch folder,
/// a synthetic profile of this machine (direct reads measured faster than buffered ones, so the cache mode is direct),
/// and in-process runs of eval, run and plan with their own profile folders.
/// </summary>
public sealed class StreamingFixture : IDisposable
{
    public StreamingFixture()
    {
        Root = TestPaths.NewScratchDirectory();
        Tiny = Path.Combine(Root, "tiny.gguf");
        Small = Path.Combine(Root, "small.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("deepseek2", "tiny"), new SyntheticOptions(GgmlType.Q4_K, Seed: 5, Skew: 1f), Tiny);
        SyntheticWriter.Write(SyntheticModels.Spec("deepseek2", "small"), new SyntheticOptions(GgmlType.Q4_K, Seed: 6, Skew: 1f), Small);
        Options = new EngineOptions
        {
            ProfileDirectory = Path.Combine(Root, "project"),
            UserProfileDirectory = Path.Combine(Root, "user"),
            ModelDirectory = Root,
        };
        ProfilePath = Path.Combine(Root, "machine.json");
        ProfileJson.Save(TuneScratch.Synthetic(new HardwareProbe().Probe(Root)), ProfilePath);
    }

    public string Root { get; }
    public string Tiny { get; }
    public string Small { get; }
    public EngineOptions Options { get; }
    public string ProfilePath { get; }

    public (int Code, string Out, string Err) Run(EngineOptions options, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(EvalCommand.Create(stderr, options, TuneScratch.Small));
        root.Subcommands.Add(RunCommand.Create(stdout, stderr, options, TuneScratch.Small));
        root.Subcommands.Add(PlanCommand.Create(stdout, stderr, options, TuneScratch.Small));
        int code = CliRunner.Run(root, args, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    public (int Code, string Out, string Err) Run(params string[] args) => Run(Options, args);

    /// <summary>
    /// The RAM budget that leaves <paramref name="expertShare"/> of the routed-expert bytes to the expert cache: the
    /// planner's own accounting (always-used weights, KV cache and scratch for <paramref name="context"/>, runtime
    /// reserve, I/O buffer reserve) plus that share.
    /// </summary>
    public static long BudgetFor(string model, int context, double expertShare)
    {
        using var file = GgufFile.Open(model);
        var inventory = ModelInventory.FromGguf(file);
        return inventory.AlwaysUsedBytes + inventory.KvCacheBytes(context) + inventory.ActivationBytes(context)
            + Planner.RuntimeOverheadBytes + Planner.IoReserve(inventory.RoutedExpertBytes) + (long)(inventory.RoutedExpertBytes * expertShare);
    }

    public static long RoutedBytes(string model)
    {
        using var file = GgufFile.Open(model);
        return ModelInventory.FromGguf(file).RoutedExpertBytes;
    }

    /// <summary>
    /// Statistics of the small model calibrated once on prompts of seeded random words (runs then decode other
    /// tokens); the file's path.
    /// </summary>
    public string CalibratedStats()
    {
        string output = Path.Combine(Root, "small-calibrated.json");
        lock (_calibrating)
        {
            if (File.Exists(output)) return output;
            string prompts = Path.Combine(Root, "calibration-prompts.txt");
            // Seeded random words: calibration should see the spread of tokens that sampled decoding then produces.
            var random = new Random(5);
            string Word() => new(Enumerable.Range(0, random.Next(1, 8)).Select(_ => (char)random.Next(33, 127)).ToArray());
            File.WriteAllLines(prompts, Enumerable.Range(0, 48).Select(_ => string.Join(" ", Enumerable.Range(0, 24).Select(_ => Word()))));
            var stderr = new StringWriter();
            var root = new RootCommand("test");
            root.Subcommands.Add(CalibrateCommand.Create(stderr));
            int code = CliRunner.Run(root, ["calibrate", "-m", Small, "-f", prompts, "--out", output, "-t", "1"], stderr);
            Xunit.Assert.True(code == 0, stderr.ToString());
            return output;
        }
    }

    private readonly object _calibrating = new();

    /// <summary>A field of the --stats cache line, e.g. "misses 37" → 37.</summary>
    public static long StatsNumber(string stderr, string name, string linePrefix = "expert cache")
    {
        string line = stderr.Split('\n').FirstOrDefault(l => l.StartsWith(linePrefix, StringComparison.Ordinal)) ?? "";
        int at = line.IndexOf(name + " ", StringComparison.Ordinal);
        Xunit.Assert.True(at >= 0, $"no '{name}' in: {line}");
        string rest = line[(at + name.Length + 1)..];
        return long.Parse(new string(rest.TakeWhile(char.IsDigit).ToArray()), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The streaming test classes share one fixture: the small model takes seconds to write.</summary>
[Xunit.CollectionDefinition(Name)]
public sealed class StreamingCollection : Xunit.ICollectionFixture<StreamingFixture>
{
    public const string Name = "streaming models";
}
