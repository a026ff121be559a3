using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HybridEngine.Configuration;
using HybridEngine.Gpu;
using HybridEngine.Runtime;
using HybridEngine.Tokenization;
using HybridEngine.Tuner;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid perplexity -m MODEL -f TEXT [-c CTX] [--json] [placement options]</c> (CLI.md): llama-perplexity's chunked
/// perplexity (see <see cref="Perplexity"/>), so the figure can be set beside llama.cpp's for the same file and context.
/// The model is placed as <c>run</c> places it (<see cref="RuntimeSetup"/>); placement never changes the figure.
/// </summary>
public static class PerplexityCommand
{
    /// <summary>llama-perplexity's default chunk length.</summary>
    public const int DefaultContext = 512;

    /// <param name="options">Bound at start-up (Program); defaults when null.</param>
    /// <param name="adjustTune">Lets tests shrink the quick tune run when no profile matches this machine.</param>
    /// <param name="discoverGpus">Opens the accelerators a plan may use (tests pass ILGPU's CPU accelerator).</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null, EngineOptions? options = null,
        Func<TuneOptions, TuneOptions>? adjustTune = null, Func<GpuDiscovery>? discoverGpus = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var textFile = new Option<string>("--file", "-f") { Description = "text file to score", Required = true };
        var context = new Option<int>("--ctx-size", "-c") { Description = "tokens per chunk (0 = the trained context)", DefaultValueFactory = _ => DefaultContext };
        var threads = new Option<int>("--threads", "-t") { Description = "compute threads (0 = all cores)" };
        var chunksOption = new Option<int>("--chunks") { Description = "most chunks to evaluate (0 = all)" };
        var json = new Option<bool>("--json") { Description = "print one JSON document" };
        var command = new Command("perplexity", "Perplexity of a model over a text file, in chunks as llama-perplexity computes it.");
        foreach (var o in new Option[] { model, textFile, context, threads, chunksOption, json }) command.Options.Add(o);
        var setup = RuntimeSetup.For(discoverGpus);
        setup.AddTo(command);
        command.SetAction(parse =>
        {
            var stdout = output ?? Console.Out;
            var stderr = error ?? Console.Error;
            int ctx = parse.GetValue(context);
            if (ctx < 0) throw new UsageException($"-c must not be negative, not {ctx}");
            int maxChunks = parse.GetValue(chunksOption);
            if (maxChunks < 0) throw new UsageException($"--chunks must not be negative, not {maxChunks}");
            string text = File.ReadAllText(parse.GetValue(textFile)!);

            string path = parse.GetValue(model)!;
            if (ctx == 0) ctx = RuntimeSetup.TrainedContext(path);
            if (ctx < 4) throw new UsageException($"-c {ctx} is too short: a chunk needs at least 4 tokens");
            using var placed = setup.Load(parse, path, ctx, options ?? new EngineOptions(), stderr, adjustTune, quiet: parse.GetValue(json));
            var loaded = placed.Model;
            var tokenizer = Tokenizer.FromGguf(loaded.File);
            var vocabulary = tokenizer.Vocabulary;
            int[] tokens = tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
            int available = tokens.Length / ctx;
            if (available < 1)
                throw new UsageException($"{parse.GetValue(textFile)} has {tokens.Length} tokens; -c {ctx} needs at least {ctx}");
            if (maxChunks > 0 && maxChunks < available) tokens = tokens[..(maxChunks * ctx)];

            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: ctx, BatchSize: Math.Min(ctx, 512), Threads: placed.Threads(parse.GetValue(threads))));
            int? bos = vocabulary.AddBos ? vocabulary.Bos : null;
            stderr.WriteLine($"perplexity: {tokens.Length / ctx} chunks of {ctx} tokens ({tokens.Length} tokens of {text.Length} characters)");
            var result = Perplexity.Compute(executor, tokens, ctx, bos,
                (c, ppl) => stderr.Write(string.Create(CultureInfo.InvariantCulture, $"[{c + 1}]{ppl:F4},")));
            stderr.WriteLine();

            if (parse.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(new
                {
                    perplexity = result.Value,
                    standard_error = result.StandardError,
                    chunks = result.Chunks,
                    context = result.Context,
                    scored_tokens = result.ScoredTokens,
                    running = result.Running,
                }));
            }
            else
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Final estimate: PPL = {result.Value:F4} +/- {result.StandardError:F5} ({result.Chunks} chunks of {result.Context}, {result.ScoredTokens} tokens scored)"));
            }
            return 0;
        });
        return command;
    }
}
