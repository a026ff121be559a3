using System.Collections.Immutable;
using System.CommandLine;
using HybridEngine.Configuration;
using HybridEngine.Gguf;
using HybridEngine.Gpu;
using HybridEngine.Planning;
using HybridEngine.Runtime;
using HybridEngine.Tokenization;
using HybridEngine.Tuner;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid calibrate -m MODEL -f PROMPTS [--out STATS] [-t N] [placement options]</c> (CLI.md): runs every prompt
/// (one per non-empty line) through the model, placed as <c>run</c> places it (<see cref="RuntimeSetup"/>), and writes how often each expert of each MoE layer was routed to, the expert statistics
/// the planner ranks experts by (default: next to the model, where plan, run and eval find it).
/// </summary>
public static class CalibrateCommand
{
    /// <param name="options">Bound at start-up (Program); defaults when null.</param>
    /// <param name="adjustTune">Lets tests shrink the quick tune run when no profile matches this machine.</param>
    /// <param name="discoverGpus">Opens the accelerators a plan may use (tests pass ILGPU's CPU accelerator).</param>
    public static Command Create(TextWriter? error = null, EngineOptions? options = null, Func<TuneOptions, TuneOptions>? adjustTune = null,
        Func<GpuDiscovery>? discoverGpus = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var prompts = new Option<string>("--file", "-f") { Description = "prompts, one per line", Required = true };
        var output = new Option<string?>("--out") { Description = "statistics file (default: MODEL.expert-stats.json)" };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var command = new Command("calibrate", "Records how often each expert of each layer is routed to over a prompt file, for the planner.")
        {
            model, prompts, output, threads,
        };
        var setup = RuntimeSetup.For(discoverGpus);
        setup.AddTo(command);
        command.SetAction(parse =>
        {
            var err = error ?? Console.Error;
            string path = parse.GetValue(model)!, promptPath = parse.GetValue(prompts)!;
            if (!File.Exists(promptPath)) throw new UsageException($"-f: {promptPath} does not exist");
            var lines = File.ReadLines(promptPath).Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
            if (lines.Count == 0) throw new UsageException($"-f: {promptPath} holds no prompt");
            string target = parse.GetValue(output) ?? ExpertStats.DefaultPath(path);

            // The prompts are encoded first: the longest one sets the context the plan sizes the KV cache for.
            ModelInventory inventory;
            List<int[]> encoded;
            using (var header = GgufFile.Open(path))
            {
                inventory = ModelInventory.FromGguf(header);
                if (inventory.MoeLayers.IsEmpty) throw new UsageException($"{Path.GetFileName(path)} has no routed experts to calibrate");
                var tokenizer = Tokenizer.FromGguf(header);
                encoded = lines.Select(l => tokenizer.Encode(l, addSpecial: true, parseSpecial: false)).Where(t => t.Length > 0).ToList();
            }
            if (encoded.Count == 0) throw new UsageException($"-f: {promptPath} holds no prompt with tokens");
            int trained = RuntimeSetup.TrainedContext(path);
            int longest = encoded.Max(t => t.Length);
            int context = trained > 0 ? Math.Min(trained, longest) : longest;
            using var placed = setup.Load(parse, path, context, options ?? new EngineOptions(), err, adjustTune);
            var loaded = placed.Model;
            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: context, BatchSize: 256, Threads: placed.Threads(parse.GetValue(threads))));
            long tokens = 0;
            foreach (var ids in encoded)
            {
                var run = ids.Length > context ? ids[..context] : ids;
                executor.Forward(run, 0);
                tokens += run.Length;
            }
            var layers = inventory.MoeLayers
                .Select(l => new LayerExpertCounts(l.Layer, executor.Counters.RoutedInLayer(l.Layer).ToArray().Select(c => (double)c).ToImmutableArray()))
                .ToImmutableArray();
            var stats = new ExpertStats(ExpertStats.CalibrationSource, inventory.Name, tokens, layers);
            if (stats.Validate(inventory) is { } problem) throw new InvalidOperationException(problem);
            stats.Save(target);
            err.WriteLine($"routed {tokens} tokens of {encoded.Count} prompts through {inventory.MoeLayers.Length} MoE layers; wrote {target}");
            return 0;
        });
        return command;
    }
}
