using System.Collections.Immutable;
using System.CommandLine;
using HybridEngine.Gguf;
using HybridEngine.Planning;
using HybridEngine.Runtime;
using HybridEngine.Tokenization;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid calibrate -m MODEL -f PROMPTS [--out STATS] [-t N]</c> (CLI.md): runs every prompt (one per non-empty
/// line) through the model and writes how often each expert of each MoE layer was routed to, the expert statistics
/// the planner ranks experts by (default: next to the model, where plan, run and eval find it).
/// </summary>
public static class CalibrateCommand
{
    public static Command Create(TextWriter? error = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var prompts = new Option<string>("--file", "-f") { Description = "prompts, one per line", Required = true };
        var output = new Option<string?>("--out") { Description = "statistics file (default: MODEL.expert-stats.json)" };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var command = new Command("calibrate", "Records how often each expert of each layer is routed to over a prompt file, for the planner.")
        {
            model, prompts, output, threads,
        };
        command.SetAction(parse =>
        {
            var err = error ?? Console.Error;
            string path = parse.GetValue(model)!, promptPath = parse.GetValue(prompts)!;
            if (!File.Exists(promptPath)) throw new UsageException($"-f: {promptPath} does not exist");
            var lines = File.ReadLines(promptPath).Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
            if (lines.Count == 0) throw new UsageException($"-f: {promptPath} holds no prompt");
            string target = parse.GetValue(output) ?? ExpertStats.DefaultPath(path);

            using var loaded = LoadedModel.Load(path);
            var inventory = ModelInventory.FromGguf(loaded.File);
            if (inventory.MoeLayers.IsEmpty) throw new UsageException($"{Path.GetFileName(path)} has no routed experts to calibrate");
            var tokenizer = Tokenizer.FromGguf(loaded.File);
            var encoded = lines.Select(l => tokenizer.Encode(l, addSpecial: true, parseSpecial: false)).Where(t => t.Length > 0).ToList();
            int trained = loaded.Model.Dimensions.TrainedContext;
            int longest = encoded.Max(t => t.Length);
            int context = trained > 0 ? Math.Min(trained, longest) : longest;
            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: context, BatchSize: 256, Threads: parse.GetValue(threads)));
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
